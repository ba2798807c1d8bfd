"""CSL-JSON and BibTeX out: schema-valid CSL-JSON, BibTeX that parses back, from the
formatting module, the ``citecache`` CLI (``show``/``export --format``) and the API."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import bibtexparser
import pytest
from click.testing import CliRunner
from jsonschema import Draft7Validator

from api import create_app
from citation import bibtex_entry, csl_item
from citation.csl import csl_name
from citecache.cli import cli
from storage import FetchResult, Store
from storage.views import render_card
from tests.test_api import Client  # the in-process ASGI client

SCHEMA = json.loads(
    (Path(__file__).parent / "reference" / "csl" / "csl-data.json").read_text(encoding="utf-8")
)
CITECACHE = Path(sys.executable).with_name("citecache")
PAPER_URL = "https://journal.example.org/article/42"
FOUND = {
    "title": "Dead links in citations",
    "authors": ["Kim Lee", "Ursula von der Leyen", "Institute for Fiscal Studies"],
    "published": "2021-03-04",
    "site_name": "Journal of Web Decay",
    "language": "en",
    "doi": "10.1234/jwd.2021.42",
    "arxiv_id": "2101.00001v2",
    "isbn": "9780306406157",
    "pmid": "31452104",
    "page_type": "paper",
}


def valid_csl(data: list) -> list:
    errors = [e.message for e in Draft7Validator(SCHEMA).iter_errors(data)]
    assert not errors, errors
    return data


def parsed_bibtex(text: str) -> list:
    library = bibtexparser.parse_string(text)
    assert not library.failed_blocks, [b.error for b in library.failed_blocks]
    return library.entries


@pytest.fixture
def cache(db_path) -> dict:
    """A fetched paper whose snapshot carries extraction's metadata, and a pending page."""
    with Store(db_path) as store:
        paper = store.register(PAPER_URL, type="paper").resource
        store.record_results(
            [
                FetchResult(
                    resource_id=paper["id"],
                    url=PAPER_URL,
                    started_at="2026-02-03T04:05:06Z",
                    outcome="ok",
                    http_status=200,
                    final_url=PAPER_URL,
                    content_type="text/html",
                    text="We count dead links in citations. " * 20,
                    title=FOUND["title"],
                    metadata=FOUND,
                )
            ]
        )
        pending = store.register("https://example.com/notes", title="Notes & {braces} 100%")
    return {"paper": paper["id"], "pending": pending.resource["id"]}


def test_csl_item_fields_and_schema():
    view = {
        "id": "abc",
        "url": PAPER_URL,
        "finalUrl": None,
        "title": "Dead links",
        "type": "paper",
        "authors": [],
        "publishedDate": "2021-03-04",
        "fetchedAt": "2026-02-03T04:05:06Z",
        "publication": None,
    }
    item = csl_item(view, FOUND)
    valid_csl([item])
    assert item["type"] == "article-journal"
    assert item["author"] == [
        {"family": "Lee", "given": "Kim"},
        {"family": "von der Leyen", "given": "Ursula"},
        {"literal": "Institute for Fiscal Studies"},
    ]
    assert item["issued"] == {"date-parts": [[2021, 3, 4]]}
    assert item["accessed"] == {"date-parts": [[2026, 2, 3]]}
    assert item["container-title"] == "Journal of Web Decay"
    assert (item["DOI"], item["ISBN"], item["PMID"]) == (
        "10.1234/jwd.2021.42",
        "9780306406157",
        "31452104",
    )
    # a registration's own values win over extraction's
    mine = csl_item({**view, "authors": ["Sam Ng"], "publication": {"name": "Decay"}}, FOUND)
    assert mine["author"] == [{"family": "Ng", "given": "Sam"}]
    assert mine["container-title"] == "Decay"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Anderson, Michael L.", {"family": "Anderson", "given": "Michael L."}),
        ("jancak", {"literal": "jancak"}),
        ("World Health Organization", {"literal": "World Health Organization"}),
        ("Martin Luther King Jr.", {"family": "King", "given": "Martin Luther", "suffix": "Jr."}),
    ],
)
def test_csl_names(name, expected):
    assert csl_name(name) == expected


@pytest.mark.parametrize("kind", ["paper", "blog", "news", "web", "report", "book", "odd", None])
def test_every_type_gives_a_schema_valid_item(kind):
    view = {"id": "x", "url": "https://e.org/", "title": None, "type": kind}
    valid_csl([csl_item(view)])


def test_bibtex_parses_back_with_escapes():
    item = csl_item(
        {"id": "x", "url": "https://e.org/a_b?c=1&d=2", "title": "50% of {links} & $ rot"},
        {**FOUND, "page_type": None},
    )
    (entry,) = parsed_bibtex(bibtex_entry(item))
    assert entry.entry_type == "misc"  # no type: a web page
    assert entry.key == "lee2021links"
    assert entry["author"] == (
        "Lee, Kim and von der Leyen, Ursula and {Institute for Fiscal Studies}"
    )
    assert entry["title"] == r"{50\% of \{links\} \& \$ rot}"
    assert entry["doi"] == "10.1234/jwd.2021.42"
    assert entry["eprint"] == "2101.00001v2"
    assert entry["url"] == "https://e.org/a_b?c=1&d=2"  # URLs stay verbatim


def test_show_csl_json_from_the_cli_process(cache, db_path):
    result = subprocess.run(
        [str(CITECACHE), "--db", str(db_path), "show", cache["paper"], "--format", "csl-json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    (item,) = valid_csl(json.loads(result.stdout))
    assert item["title"] == "Dead links in citations"
    assert item["author"][0] == {"family": "Lee", "given": "Kim"}
    assert item["issued"] == {"date-parts": [[2021, 3, 4]]}
    assert item["accessed"] == {"date-parts": [[2026, 2, 3]]}
    assert item["DOI"] == "10.1234/jwd.2021.42"
    assert item["type"] == "article-journal"


def test_show_bibtex_and_export_both_formats(cache, db_path):
    runner = CliRunner()

    def run(*args):
        result = runner.invoke(cli, ["--db", str(db_path), *args])
        assert result.exit_code == 0, result.stderr
        return result.stdout

    (entry,) = parsed_bibtex(run("show", cache["paper"], "--format", "bibtex"))
    assert entry.entry_type == "article"
    assert entry["journal"] == "Journal of Web Decay"
    assert entry["year"] == "2021"
    items = valid_csl(json.loads(run("export", "--format", "csl-json")))
    assert {i["id"] for i in items} == set(cache.values())
    entries = parsed_bibtex(run("export", "--format", "bibtex"))
    assert len(entries) == 2
    pending = next(e for e in entries if e["url"] == "https://example.com/notes")
    assert pending["title"] == r"{Notes \& \{braces\} 100\%}"
    assert "year" not in pending.fields_dict


def test_show_format_excludes_json(cache, db_path):
    result = CliRunner().invoke(
        cli, ["--db", str(db_path), "show", cache["paper"], "--json", "--format", "bibtex"]
    )
    assert result.exit_code == 2
    assert "exclude each other" in result.stderr


def test_api_csl_endpoint(cache, db_path):
    client = Client(create_app(str(db_path)))
    response = client.get(f"/api/resources/{cache['paper']}/csl")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.citationstyles.csl+json")
    (item,) = valid_csl(response.json())
    assert item["DOI"] == "10.1234/jwd.2021.42"
    missing = client.get("/api/resources/nope/csl")
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"


def test_card_and_page_use_the_extracted_authors_and_date(cache, db_path):
    with Store(db_path) as store:
        card = render_card(store, store.get(cache["paper"])).split("\n")
    assert card[1:3] == [  # wrapped to 80 columns
        "2021 · Kim Lee, Ursula von der Leyen and Institute for Fiscal Studies ·",
        "journal.example.org/article/42",
    ]
    page = Client(create_app(str(db_path))).get(f"/resources/{cache['paper']}").text
    assert "Kim Lee, Ursula von der Leyen, Institute for Fiscal Studies" in page
    assert '<time datetime="2021-03-04"' in page
    assert f'href="/api/resources/{cache["paper"]}/csl"' in page
