"""The frontier by host (storage/leases.py): leases, politeness, fencing, nothing lost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from storage import FetchResult, Store, iso, utc_now


@pytest.fixture
def store(db: str):
    with Store(db) as opened:
        yield opened


def host_row(store: Store, name: str) -> dict:
    found = store.sql.row("SELECT * FROM hosts WHERE host = ?", [name])
    assert found is not None, f"no hosts row for {name}"
    return found


def register(store: Store, host: str, n: int) -> list[str]:
    return [store.register(f"https://{host}/p{i}").resource["id"] for i in range(n)]


def result(task, text: str = "Some article text that is long enough.", **kw) -> FetchResult:
    return FetchResult(
        resource_id=task.resource_id,
        url=task.url,
        started_at=iso(utc_now()),
        outcome="ok",
        http_status=200,
        text=text,
        request_id=task.request_id,
        lease_token=task.lease_token,
        **kw,
    )


def expire_leases(store: Store) -> None:
    store.sql.execute("UPDATE hosts SET lease_until = ?", [iso(utc_now() - timedelta(seconds=1))])


def test_each_host_is_leased_to_one_run_at_a_time(store):
    register(store, "a.example", 3)
    register(store, "b.example", 2)
    first = store.claim_hosts("run-1", hosts=1, per_host=10)
    second = store.claim_hosts("run-2", hosts=5, per_host=10)
    assert [lease.host for lease in first] == ["a.example"]
    assert len(first[0].tasks) == 3
    assert [lease.host for lease in second] == ["b.example"]  # a.example is taken
    assert store.claim_hosts("run-3") == []


def test_per_host_caps_the_batch_and_the_rest_waits_for_the_next_lease(store):
    register(store, "a.example", 5)
    store.policy.host_delay = 30  # a rest no slow machine outlasts during the test
    (lease,) = store.claim_hosts("run-1", per_host=2)
    assert len(lease.tasks) == 2
    assert store.record_results([result(t) for t in lease.tasks]) == ["ok", "ok"]
    # released, resting for the host delay, then the other three are leased
    assert store.claim_hosts("run-1") == []
    store.sql.execute("UPDATE hosts SET next_allowed_at = NULL")
    (again,) = store.claim_hosts("run-2", per_host=10)
    assert len(again.tasks) == 3 and again.token == lease.token + 1


def test_recording_the_last_result_releases_the_host_and_sets_its_rest(store):
    store.policy.host_delay = 30
    register(store, "a.example", 2)
    (lease,) = store.claim_hosts("run-1")
    store.record_results([result(lease.tasks[0])])
    host = host_row(store, "a.example")
    assert host["leased_by"] == "run-1"  # one fetch of the lease is still out
    store.record_results([result(lease.tasks[1], host_delay=120)])  # a Retry-After
    host = host_row(store, "a.example")
    assert host["leased_by"] is None
    assert host["next_allowed_at"] >= iso(utc_now() + timedelta(seconds=110))
    assert host["next_due_at"] > iso(utc_now() + timedelta(days=20))  # next check: the TTL


def test_a_rest_shorter_than_a_second_is_kept_to_the_millisecond(store, monkeypatch):
    """Released at .900 with a 0.3 s rest: not claimable at the next whole second (a
    rest rounded to the second let another worker in 0.1 s later), claimable at .200."""
    import storage.leases

    released = datetime(2026, 11, 27, 12, 0, 3, 900_000, tzinfo=UTC)
    store.policy.host_delay = 0.3
    register(store, "a.example", 2)
    (lease,) = store.claim_hosts("run-1", per_host=1)
    monkeypatch.setattr(storage.leases, "utc_now", lambda: released)
    store.record_results([result(lease.tasks[0])])
    for offset, claimable in ((0.1, False), (0.29, False), (0.31, True)):
        moment = released + timedelta(seconds=offset)
        monkeypatch.setattr(storage.leases, "utc_now", lambda moment=moment: moment)
        assert bool(store.claim_hosts("run-2")) is claimable, offset


def test_hosts_due_alike_take_turns(store):
    """All new, so due alike: a host leased once waits for the others' turn, whatever
    its name (by name alone, a.example came back first and b.example waited)."""
    store.policy.host_delay = 0
    register(store, "a.example", 3)
    register(store, "b.example", 3)
    order = []
    for _ in range(4):
        (lease,) = store.claim_hosts("run-1", hosts=1, per_host=1)
        order.append(lease.host)
        store.record_results([result(t) for t in lease.tasks])
    assert order == ["a.example", "b.example", "a.example", "b.example"]


def test_editor_requests_come_first(store):
    register(store, "a.example", 3)
    (b,) = register(store, "b.example", 1)
    store.sql.execute(
        "UPDATE resources SET next_fetch_at = '2999-01-01T00:00:00Z' WHERE id = ?", [b]
    )
    store.sql.execute(
        "UPDATE hosts SET next_due_at = '2999-01-01T00:00:00Z' WHERE host = 'b.example'"
    )
    request_id = store.request_refetch(b, by="ed")
    (lease,) = store.claim_hosts("run-1", hosts=1)
    assert lease.host == "b.example"
    assert [t.request_id for t in lease.tasks] == [request_id]
    assert store.request(request_id)["claimed_by"] == "run-1"
    store.record_results([result(lease.tasks[0])])
    assert store.request(request_id)["status"] == "done"


def test_a_run_that_dies_loses_nothing(store):
    ids = register(store, "a.example", 3)
    store.claim_hosts("dead-run")  # fetched nothing, recorded nothing, then died
    assert store.claim_hosts("run-2") == []  # its lease still holds
    expire_leases(store)
    (lease,) = store.claim_hosts("run-2")
    assert sorted(t.resource_id for t in lease.tasks) == sorted(ids)


def test_a_result_under_a_lease_taken_over_is_refused(store):
    register(store, "a.example", 1)
    (old,) = store.claim_hosts("paused-run")
    expire_leases(store)  # paused (SIGSTOP) past its lease
    (new,) = store.claim_hosts("run-2")
    assert new.token == old.token + 1
    assert store.record_results([result(new.tasks[0], text="The newer text.")]) == ["ok"]
    # the paused run wakes up and writes what it fetched long ago: refused
    stale = result(old.tasks[0], text="Older text from before.")
    assert store.record_results([stale]) == ["stale_lease"]
    resource = store.get(new.tasks[0].resource_id)
    assert store.current_snapshot(resource["id"])["full_text"] == "The newer text."
    assert [r["outcome"] for r in store.fetch_log(resource["id"])] == ["ok"]


def test_a_stopping_run_gives_its_hosts_back(store):
    register(store, "a.example", 2)
    register(store, "b.example", 2)
    store.claim_hosts("run-1", hosts=2)
    assert store.renew_leases("run-1") == 2
    assert store.release_leases("run-1") == 2
    leases = store.claim_hosts("run-2", hosts=2)
    assert sorted(lease.host for lease in leases) == ["a.example", "b.example"]
    assert all(len(lease.tasks) == 2 for lease in leases)


def test_a_host_due_time_follows_its_resources(store):
    (a,) = register(store, "a.example", 1)
    assert host_row(store, "a.example")["next_due_at"] == "0"  # never fetched
    (lease,) = store.claim_hosts("run-1")
    store.record_results([result(lease.tasks[0])])
    due = host_row(store, "a.example")["next_due_at"]
    assert due == store.get(a)["next_fetch_at"]
    store.update_url(a, "https://c.example/moved")
    assert host_row(store, "c.example")["next_due_at"] == due
    assert "a.example" not in {r["host"] for r in store.sql.rows("SELECT host FROM hosts")}
