"""Hostile registry files (issue 14): each is refused or reported record by record, in
bounded time and memory, and loses nothing stored before."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from storage import RegistryFileError, Store, read_records
from storage.ids import MAX_URL_LENGTH

from .test_crawl import ROOT

# 9 levels of 9 aliases: 9^9 (387 million) strings once expanded, in 300 bytes.
ALIAS_BOMB = "\n".join(
    [
        '- url: "https://bomb.example.com/a"',
        "  tags: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]",
    ]
    + [
        f"- url: https://bomb.example.com/{n}\n  tags: &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]"
        for n in range(1, 9)
    ]
)


def import_file(db, path) -> tuple:
    with Store(db) as store:
        store.register("https://before.example.com/kept")
        report = store.import_records(read_records(path))
        return report, sorted(r["url"] for r in store.iter_resources())


def test_a_yaml_alias_bomb_is_refused_at_once(db_path, tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(ALIAS_BOMB, "utf-8")
    started = time.monotonic()
    with pytest.raises(RegistryFileError, match=r"bomb.yaml:2: .*aliases \(\*name\) are not"):
        import_file(db_path, path)
    assert time.monotonic() - started < 5
    with Store(db_path) as store:
        assert [r["url"] for r in store.iter_resources()] == ["https://before.example.com/kept"]


def test_publications_import_refuses_aliases_too(db_path, tmp_path):
    path = tmp_path / "publications.yaml"
    path.write_text("- &v {id: a, name: A, domains: [a.example.com]}\n- *v\n", "utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "citecache", "--db", str(db_path), "publications", "import"]
        + [str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "aliases (*name) are not accepted" in done.stderr
    assert "Traceback" not in done.stderr


def test_csv_a_huge_field_and_an_unclosed_quote_are_single_records(db_path, tmp_path):
    path = tmp_path / "registry.csv"
    path.write_text(
        "url,title\n"
        "https://good.example.com/1,One\n"
        f"https://huge.example.com/,{'x' * 200_000}\n"
        'https://quote.example.com/,"Never closed\n'
        "\n"
        "https://good.example.com/2,Two\n"
        "https://good.example.com/3,Three\n",
        "utf-8",
    )
    report, urls = import_file(db_path, path)
    assert report.errors == [
        "registry.csv:3: not valid CSV: field larger than field limit (131072)",
        "registry.csv:4: not valid CSV: a quoted field opened on this line is never closed",
    ]
    assert urls == [
        "https://before.example.com/kept",
        "https://good.example.com/1",
        "https://good.example.com/2",
        "https://good.example.com/3",
    ]
    with Store(db_path) as store:
        assert store.get("https://good.example.com/2")["title"] == "Two"  # not swallowed


def test_deeply_nested_json_or_yaml_is_an_error_of_its_record_alone(db_path, tmp_path):
    deep = "[" * 100_000 + "]" * 100_000
    lines = tmp_path / "registry.jsonl"
    lines.write_text(f'{{"url": "https://good.example.com/1"}}\n{deep}\n', "utf-8")
    report, urls = import_file(db_path, lines)
    assert report.errors == ["registry.jsonl:2: nested too deeply"]
    assert urls[-1] == "https://good.example.com/1"
    listed = tmp_path / "registry.yaml"
    listed.write_text(
        f"- url: https://good.example.com/3\n- url: https://deep.example.com/\n"
        f"  tags: {'[' * 800}{']' * 800}\n",
        "utf-8",
    )
    report, urls = import_file(db_path, listed)
    assert report.errors == ["registry.yaml:2: nested too deeply"]
    assert "https://good.example.com/3" in urls
    # a JSON array: the deep item is an error of its own, its neighbours are imported
    whole = tmp_path / "registry.json"
    whole.write_text(
        f'[{{"url": "https://good.example.com/2"}},\n {deep},\n'
        f' {{"url": "https://good.example.com/4", "title": "a ] and a \\" in a string"}}]',
        "utf-8",
    )
    report, urls = import_file(db_path, whole)
    assert report.errors == ["registry.json: item 2: nested too deeply"]
    assert {"https://good.example.com/2", "https://good.example.com/4"} <= set(urls)
    # a broken file still imports nothing, however deep
    broken = tmp_path / "broken.json"
    broken.write_text(f'[{{"url": "https://good.example.com/5"}}, {deep} {{}}]', "utf-8")
    with pytest.raises(RegistryFileError, match="broken.json:1: not valid JSON: Expecting ','"):
        import_file(db_path, broken)
    with Store(db_path) as store:
        assert "https://good.example.com/5" not in {r["url"] for r in store.iter_resources()}


def test_a_long_url_list_commits_in_batches(db_path, monkeypatch):
    # One transaction for a whole file left a 1 GB list with nothing visible after
    # minutes and a WAL of 879 MB; batches are seen by readers as they are written.
    monkeypatch.setattr("storage.registry.IMPORT_BATCH_SIZE", 10)
    seen = []

    def records():
        for n in range(25):
            if n in (10, 20):
                with Store(db_path, readonly=True) as reader:
                    seen.append(reader.sql.scalar("SELECT count(*) FROM resources"))
            yield f"urls.txt:{n + 1}", {"url": f"https://list.example.com/{n}"}

    with Store(db_path) as store:
        report = store.import_records(records())
    assert (report.added, seen) == (25, [10, 20])


def test_an_import_cannot_move_a_resource_to_another_url(db, tmp_path):
    with Store(db) as store:
        victim = store.register("https://victim.example.com/page").resource
    path = tmp_path / "registry.jsonl"
    path.write_text(
        f'{{"url": "https://good.example.com/1"}}\n'
        f'{{"url": "https://attacker.example.com/", "id": "{victim["id"]}"}}\n'
        f'{{"url": "https://www.victim.example.com/page/", "id": "{victim["id"]}"}}\n',
        "utf-8",
    )
    report, _ = import_file(db, path)
    assert report.errors == [
        f"registry.jsonl:2: id {victim['id']} names https://victim.example.com/page, "
        "not https://attacker.example.com/"
    ]
    assert report.added == 1 and report.unchanged == 1  # a variant of its URL is no move
    with Store(db) as store:
        assert store.get(victim["id"])["url"] == "https://victim.example.com/page"


@pytest.mark.parametrize(
    "bad_id", ["a/b?c#d", "../../etc/passwd", "x" * 5000, "-leading", "has space", ""]
)
def test_imported_ids_are_validated(db_path, tmp_path, bad_id):
    path = tmp_path / "registry.jsonl"
    path.write_text(f'{{"url": "https://id.example.com/", "id": "{bad_id}"}}\n', "utf-8")
    report, urls = import_file(db_path, path)
    [error] = report.errors
    assert error.startswith("registry.jsonl:1: ")
    assert "invalid id" in error or "empty id" in error
    assert len(error) < 300
    assert urls == ["https://before.example.com/kept"]


def test_ids_of_the_wiki_shape_are_accepted(db_path, tmp_path):
    path = tmp_path / "registry.jsonl"
    path.write_text(
        '{"url": "https://id.example.com/1", "id": "0173fcc200d0e40c"}\n'
        '{"url": "https://id.example.com/2", "id": "kb-0173fcc200d0e40c"}\n',
        "utf-8",
    )
    report, _ = import_file(db_path, path)
    assert (report.added, report.errors) == (2, [])


def test_a_url_over_the_crawlers_limit_is_refused_with_its_line(db_path, tmp_path):
    path = tmp_path / "urls.txt"
    long_url = "https://long.example.com/" + "a" * MAX_URL_LENGTH
    path.write_text(f"https://ok.example.com/\n{long_url}\n", "utf-8")
    report, urls = import_file(db_path, path)
    [error] = report.errors
    assert error.startswith("urls.txt:2: URL too long: 2108 characters once encoded, at most 2083")
    assert "https://ok.example.com/" in urls
