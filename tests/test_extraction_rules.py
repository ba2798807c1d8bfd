"""Platform rules on saved pages (tests/pages/extraction/, listed in expected.json).

Real pages come from the trafilatura dev set; platforms with no saved real page (no
internet here, none in the dev set) have a minimal page reproducing the platform's
markup, marked "synthetic" in expected.json and in a comment at the top of the file.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from trafilatura.utils import load_html

from extraction import extract
from extraction.rules import find_rule

PAGES = Path(__file__).parent / "pages" / "extraction"
EXPECTED = json.loads((PAGES / "expected.json").read_text())


def _extract(name: str):
    return extract((PAGES / name).read_bytes(), EXPECTED[name]["url"])


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_saved_page_text(name):
    text = _extract(name).text
    for snippet in EXPECTED[name]["with"]:
        assert snippet in text, f"{name}: missing {snippet!r}"
    for snippet in EXPECTED[name]["without"]:
        assert snippet not in text, f"{name}: boilerplate kept {snippet!r}"


@pytest.mark.parametrize(
    ("name", "platform", "page_type"),
    [
        ("substack-custom-domain.html", "substack", "blog"),
        ("substack-paywalled.html", "substack", "blog"),
        ("medium-story.html", "medium", "blog"),
        ("wordpress-sprechblase.html", "wordpress", "blog"),
        ("wordpress-alexanderlasch.html", "wordpress", "blog"),
        ("ghost-publikum.html", "ghost", "blog"),
        ("lesswrong-post.html", "forummagnum", "forum"),
        ("arxiv-abs.html", "arxiv", "paper"),
        ("wikipedia-article.html", "mediawiki", "reference"),
        ("mediawiki-piratenpartei.html", "mediawiki", "reference"),
    ],
)
def test_platform_detected(name, platform, page_type):
    result = _extract(name)
    assert result.platform == platform
    assert result.page_type == page_type
    assert result.metadata_sources["page_type"] == f"rule:{platform}"


def test_substack_custom_domain_detected_by_markup_not_host():
    html = (PAGES / "substack-custom-domain.html").read_text()
    rule = find_rule(load_html(html), "https://notes.example.org/p/on-careful-caching")
    assert rule is not None and rule.name == "substack"


def test_substack_text_starts_with_article_and_keeps_no_chrome():
    result = _extract("substack-custom-domain.html")
    assert result.text.startswith("Links rot faster")
    assert result.page_status == "ok"
    assert result.title == "On Careful Caching"
    assert result.authors == ["Jane Writer"]
    assert result.published == "2024-03-05"


def test_substack_paid_post_is_paywalled():
    result = _extract("substack-paywalled.html")
    assert result.page_status == "paywalled"
    assert result.text.startswith("This week we look")


def test_medium_drops_byline_and_claps():
    result = _extract("medium-story.html")
    assert result.text.startswith("Old papers reward slow reading.")
    assert result.title == "Reading Old Papers"
    assert result.site_name == "Medium"


def test_arxiv_abstract_metadata():
    result = _extract("arxiv-abs.html")
    assert result.text.startswith("We measure how often")
    assert result.arxiv_id == "2101.00001"
    assert result.doi == "10.48550/arXiv.2101.00001"
    assert result.authors == ["Doe, Jane", "Roe, Richard"]
    assert result.metadata_sources["title"] == "citation"


def test_wikipedia_title_and_no_footnote_markers():
    result = _extract("wikipedia-article.html")
    assert result.title == "Link rot"
    assert result.metadata_sources["title"] == "rule:mediawiki"
    assert "[1]" not in result.text and "[edit]" not in result.text


def test_lesswrong_forum_post():
    result = _extract("lesswrong-post.html")
    assert result.title == "Notes on Calibration"
    assert result.site_name == "LessWrong"


def test_wordpress_real_page_metadata():
    result = _extract("wordpress-alexanderlasch.html")
    assert result.published == "2019-11-14"
    assert result.title.startswith("Was das Christkind und Native Americans")


def test_ghost_real_page_metadata():
    result = _extract("ghost-publikum.html")
    assert result.authors == ["Der Spendenteddy"]
    assert result.published == "2023-07-30"
    assert result.metadata_sources["authors"] == "json-ld"


def test_plain_page_has_no_rule():
    html = "<html><body><article><p>" + "Plain prose. " * 40 + "</p></article></body></html>"
    assert find_rule(load_html(html), "https://example.org/a") is None
