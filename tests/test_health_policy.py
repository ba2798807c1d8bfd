"""HealthPolicy's schedule: TTL overrides and their precedence, backoff, jitter, settings."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from scrapy.settings import Settings

from crawler.frontier import health_policy
from storage import health
from storage.health import GOOD_STATES, HealthPolicy

DAY = timedelta(days=1)
NOW = datetime(2026, 1, 1, tzinfo=UTC)

OVERRIDES = {
    "domain:example.org": 5 * DAY,
    "domain:blog.example.org": 2 * DAY,
    "venue:arxiv": 90 * DAY,
    "type:paper": 180 * DAY,
}


@pytest.fixture
def policy() -> HealthPolicy:
    return HealthPolicy(ttl=30 * DAY, ttl_overrides=dict(OVERRIDES), jitter=0)


# ---- ttl_for ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "venue", "type_", "expected"),
    [
        # Nothing matches: the policy's TTL.
        ("https://unrelated.net/a", None, None, 30 * DAY),
        ("https://unrelated.net/a", "nature", "web", 30 * DAY),
        # Domain, with the host as host_of gives it (case, www., port, trailing dot).
        ("https://example.org/a", None, None, 5 * DAY),
        ("https://WWW.Example.org:8443/a", None, None, 5 * DAY),
        ("https://example.org./a", None, None, 5 * DAY),
        # A subdomain takes its parent's entry; its own entry is more specific and wins.
        ("https://news.example.org/a", None, None, 5 * DAY),
        ("https://a.b.news.example.org/a", None, None, 5 * DAY),
        ("https://blog.example.org/a", None, None, 2 * DAY),
        ("https://www.blog.example.org/a", None, None, 2 * DAY),
        ("https://x.blog.example.org/a", None, None, 2 * DAY),
        # Labels, not text: a host merely ending in the same letters is another domain.
        ("https://notexample.org/a", None, None, 30 * DAY),
        ("https://example.org.evil.net/a", None, None, 30 * DAY),
        # Domain before venue before type.
        ("https://blog.example.org/a", "arxiv", "paper", 2 * DAY),
        ("https://arxiv.org/abs/1", "arxiv", "paper", 90 * DAY),
        ("https://arxiv.org/abs/1", "nature", "paper", 180 * DAY),
        ("https://arxiv.org/abs/1", None, "paper", 180 * DAY),
        ("https://arxiv.org/abs/1", "arxiv", None, 90 * DAY),
    ],
)
def test_ttl_for_precedence(policy, url, venue, type_, expected):
    assert policy.ttl_for(url, venue, type_) == expected


def test_a_zero_ttl_domain_override_still_wins():
    # Zero means "check on every run"; it must not fall through to the venue or type.
    policy = HealthPolicy(ttl_overrides={"domain:example.org": timedelta(0), "type:web": DAY})
    assert policy.ttl_for("https://news.example.org/a", None, "web") == timedelta(0)
    assert policy.ttl_for("https://other.org/a", None, "web") == DAY


# ---- next_fetch: TTL after good answers, backoff after failures --------------------


@pytest.mark.parametrize("state", sorted(GOOD_STATES))
def test_good_states_wait_the_ttl_whatever_the_failure_count(policy, state):
    for failures in (0, 1, 7):
        assert policy.next_fetch(NOW, state, failures, 4 * DAY) == NOW + 4 * DAY


@pytest.mark.parametrize(
    ("failures", "wait"),
    [
        (0, timedelta(hours=1)),  # a failure state with no count yet waits as after one
        (1, timedelta(hours=1)),
        (2, timedelta(hours=6)),
        (3, DAY),
        (4, 3 * DAY),
        (5, 3 * DAY),  # the last step repeats
        (50, 3 * DAY),
    ],
)
@pytest.mark.parametrize("state", ["error", "blocked", "dead", "soft_404"])
def test_failures_back_off_step_by_step(policy, state, failures, wait):
    assert policy.next_fetch(NOW, state, failures, 30 * DAY) == NOW + wait


@pytest.mark.parametrize(
    ("failures", "ttl", "wait"),
    [
        (1, timedelta(hours=2), timedelta(hours=1)),  # under the cap
        (2, timedelta(hours=2), timedelta(hours=2)),  # 6 h capped at a 2 h TTL
        (4, 2 * DAY, 2 * DAY),  # 3 days capped at 2 days
        (4, timedelta(0), timedelta(0)),
    ],
)
def test_backoff_is_capped_at_the_ttl(policy, failures, ttl, wait):
    assert policy.next_fetch(NOW, "error", failures, ttl) == NOW + wait


def test_custom_backoff_steps():
    policy = HealthPolicy(backoff=(timedelta(minutes=5), timedelta(minutes=30)), jitter=0)
    waits = [policy.next_fetch(NOW, "error", n, DAY) - NOW for n in (1, 2, 3)]
    assert waits == [timedelta(minutes=5), timedelta(minutes=30), timedelta(minutes=30)]


# ---- jitter -------------------------------------------------------------------------


@pytest.mark.parametrize(("draw", "factor"), [("low", 0.9), ("high", 1.1)])
def test_jitter_reaches_but_never_passes_its_bounds(monkeypatch, draw, factor):
    # random.uniform(a, b) returns a or b at its extremes; force each one.
    monkeypatch.setattr(health.random, "uniform", lambda a, b: a if draw == "low" else b)
    policy = HealthPolicy(jitter=0.1)
    assert policy.next_fetch(NOW, "ok", 0, 10 * DAY) == NOW + 10 * DAY * factor
    assert policy.next_fetch(NOW, "error", 2, 10 * DAY) == NOW + timedelta(hours=6) * factor


def test_jitter_spreads_waits_within_the_bounds(monkeypatch):
    monkeypatch.setattr(health, "random", random.Random(20260101))  # reproducible draws
    policy = HealthPolicy(jitter=0.1)
    waits = [policy.next_fetch(NOW, "ok", 0, 10 * DAY) - NOW for _ in range(500)]
    assert all(9 * DAY <= w <= 11 * DAY for w in waits)
    assert min(waits) < 9.2 * DAY and max(waits) > 10.8 * DAY  # spread, not bunched
    backoffs = [policy.next_fetch(NOW, "error", 4, 2 * DAY) - NOW for _ in range(500)]
    assert all(1.8 * DAY <= w <= 2.2 * DAY for w in backoffs)  # jitter on the capped wait


def test_no_jitter_gives_exact_times():
    policy = HealthPolicy(jitter=0)
    assert {policy.next_fetch(NOW, "ok", 0, DAY) for _ in range(20)} == {NOW + DAY}


# ---- from Scrapy settings -----------------------------------------------------------


def project_settings(**overrides) -> Settings:
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    for name, value in overrides.items():
        settings.set(name, value, priority="cmdline")
    return settings


def test_health_policy_defaults_match_the_dataclass():
    assert health_policy(project_settings()) == HealthPolicy()


def test_health_policy_turns_override_days_into_timedeltas():
    policy = health_policy(
        project_settings(
            CITECACHE_TTL_OVERRIDES={"type:paper": 180, "domain:arxiv.org": 0.5},
            CITECACHE_TTL_DAYS=7,
            CITECACHE_DEAD_AFTER=5,
            CITECACHE_DEAD_SPACING_HOURS=36,
        )
    )
    assert policy.ttl_overrides == {"type:paper": 180 * DAY, "domain:arxiv.org": DAY / 2}
    assert policy.ttl == 7 * DAY
    assert policy.dead_after == 5 and policy.dead_spacing == timedelta(hours=36)
    assert policy.ttl_for("https://export.arxiv.org/abs/1", None, "paper") == DAY / 2
    assert policy.ttl_for("https://example.org/a", None, "paper") == 180 * DAY


def test_health_policy_reads_overrides_given_on_the_command_line():
    # `-s NAME=VALUE` hands Scrapy a string; getdict parses it as JSON.
    policy = health_policy(
        project_settings(CITECACHE_TTL_OVERRIDES='{"venue:lesswrong": "3", "type:web": 14}')
    )
    assert policy.ttl_overrides == {"venue:lesswrong": 3 * DAY, "type:web": 14 * DAY}


def test_the_default_schedule_keeps_healthy_sources_younger_than_30_days(monkeypatch):
    """The wiki's tools fetch content older than 30 days themselves: the longest wait the
    default schedule gives a healthy source, jitter included, leaves a daily crawl a day."""
    monkeypatch.setattr(random, "uniform", lambda low, high: high)  # the longest jitter
    for policy in (HealthPolicy(), health_policy(project_settings())):
        for state in GOOD_STATES:
            wait = policy.next_fetch(NOW, state, 0, policy.ttl) - NOW
            assert wait <= 29 * DAY, (state, wait)
