"""Main text and metadata of a fetched page: ``extract(html, url) -> Extracted``.

Pure and process-safe: no I/O, no Scrapy. The crawl runs it in worker processes.
Stages: PDF detection (crawler/pdf.py) -> charset (crawler/encoding.py) -> one lxml
parse shared by all stages -> metadata with provenance (crawler/metadata.py) ->
platform rule (crawler/rules.py) -> trafilatura on the rule's article container
or the whole page -> boilerplate paragraphs dropped (crawler/boilerplate.py) -> status
(crawler/page_status.py). See docs/extraction.md for the measured quality and cost.
"""

from __future__ import annotations

import re
import unicodedata
from copy import deepcopy
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

import trafilatura
from lxml.etree import XPath, strip_tags
from lxml.html import HtmlElement, fromstring
from trafilatura.settings import Extractor
from trafilatura.utils import load_html
from trafilatura.xml import xmltotxt

from extraction import boilerplate, metadata, page_status, pdf, rules
from extraction.charset import decode_html

# Built once: trafilatura re-reads its config for every call that does not pass one.
# Comments off: they are not the cited text. Metadata off: crawler/metadata.py reads it
# from the same parse at a third of the cost of trafilatura's own (measured on the dev set).
_OPTIONS = Extractor(
    output_format="txt", comments=False, with_metadata=False, links=True, fast=True
)
# trafilatura's fast mode skips its readability/jusText fallbacks. Those help where the
# fast pass found little, so a page whose fast text is shorter than this gets the full
# pass too. Dev set (bench/extraction_eval.py): full pass everywhere F1 0.939 at 28 ms a
# page; fast only 0.934 at 23 ms; fast + full below 1,000 chars 0.938 at 24 ms.
FULL_PASS_BELOW = 1_000
_FULL_OPTIONS = Extractor(output_format="txt", comments=False, with_metadata=False, links=True)
# Blocks at the end of the text whose words are mostly link text are "more on this" lists
# and teasers, not the article: 0.6 measured on the dev set (see docs/extraction.md).
# Below this many characters of text the first pass probably missed the article: ask
# readability-lxml and keep its text if at least twice as long. 250 = about 2 sentences;
# it fires on ~2% of the dev set, so its cost barely shows in the average.
SECOND_OPINION_BELOW = 250
# Inside a platform's article container everything is meant as article: favor recall.
_CONTAINER_OPTIONS = Extractor(
    output_format="txt", comments=False, with_metadata=False, links=True, recall=True
)
TAIL_LINK_RATIO = 0.6
TAIL_LINK_MAX_CHARS = 200
# A rule's container yielding less than this is a teaser or the wrong node: retry whole page.
MIN_RULE_TEXT = 200
_GOV_HOST = re.compile(
    r"(\.gov|\.gov\.[a-z]{2}|\.gouv\.fr|\.bund\.de|\.admin\.ch|\.gv\.at|"
    r"\.gob\.[a-z]{2}|\.europa\.eu|\.govt\.nz|\.gc\.ca|\.mil)$"
)
_TITLE_SEPARATORS = re.compile(r"\s+(?:[|\-–—·»«›‹]|//|::)\s+")
# Headline candidates may also be cut at a spaced colon ("Headline : Site", French style).
_HEADLINE_SEPARATORS = re.compile(r"\s+(?:[|\-–—·»«›‹:]|//|::)\s+")
_H1 = XPath("(//h1)[1]")
_REFERENCES_HEADING = re.compile(
    r"^\W*(\d+(\.\d+)*\.?\s+)?(references|bibliography|sources|works cited|notes|"
    r"footnotes|further reading|literatur(verzeichnis)?|quellen|bibliographie|références)\W*$",
    re.IGNORECASE,
)


@dataclass
class Extracted:
    """What extraction found on one page. ``text`` is never None."""

    text: str = ""
    """Main text, paragraphs separated by blank lines; "" when there is none."""
    title: str | None = None
    authors: list[str] = field(default_factory=list)
    published: str | None = None
    """Publication date, ISO 8601 (YYYY-MM-DD)."""
    site_name: str | None = None
    description: str | None = None
    language: str | None = None
    canonical_url: str | None = None
    page_type: str | None = None
    """paper, blog, news, forum, web, government, reference, ... when the page says so."""
    page_status: str = "ok"
    """ok, paywalled or blocked: what the content itself shows."""
    failure_reason: str | None = None
    """Why no text came out (or why the status is not ok), when so."""
    metadata_sources: dict[str, str] = field(default_factory=dict)
    """Per metadata field, where its value came from (e.g. "json-ld", "opengraph")."""
    doi: str | None = None
    """DOI without resolver prefix, e.g. "10.1000/xyz123"."""
    arxiv_id: str | None = None
    """arXiv identifier, e.g. "2101.00001v2"."""
    abstract_url: str | None = None
    """For an arXiv PDF: its abstract page URL."""
    charset: str | None = None
    """Charset the raw bytes were decoded with (None when given str)."""
    platform: str | None = None
    """Platform rule that read the page (substack, wordpress, ...), if any."""
    content_kind: str = "html"
    """html or pdf."""

    def to_dict(self) -> dict:
        return asdict(self)


def extract(html: str | bytes, url: str | None = None) -> Extracted:
    """Extract the main text and metadata of ``html``; never raises."""
    try:
        return _extract(html, url)
    except Exception as exc:  # last guard: a crawl must never die on one page
        return Extracted(failure_reason=f"extraction error: {exc!r}"[:300])


def _extract(raw: str | bytes, url: str | None) -> Extracted:
    charset = None
    if isinstance(raw, bytes | bytearray):
        raw = bytes(raw)
        if pdf.is_pdf(raw):
            return _from_pdf(raw, url)
        html, charset = decode_html(raw)
    else:
        html = raw
    tree = _parse(html)
    if tree is None:
        return Extracted(charset=charset, failure_reason="not an HTML document")
    meta = metadata.page_metadata(tree, url)
    rule = rules.find_rule(tree, url)
    body = None
    if rule is not None:
        body = _rule_body(rule, tree, url)
    if body is None:
        body = _trafilatura_body(tree, url)
    paragraphs = _paragraphs(body)
    text = "\n\n".join(boilerplate.clean_paragraphs(paragraphs))
    if len(text) < FULL_PASS_BELOW and (rule is None or body is None):
        fuller = _paragraphs(_trafilatura_body(tree, url, _FULL_OPTIONS))
        fuller_text = "\n\n".join(boilerplate.clean_paragraphs(fuller))
        if len(fuller_text) > len(text):
            paragraphs, text = fuller, fuller_text
    if len(text) < SECOND_OPINION_BELOW:
        second_opinion = _readability_paragraphs(html, url)
        cleaned = "\n\n".join(boilerplate.clean_paragraphs(second_opinion))
        if len(cleaned) >= max(SECOND_OPINION_BELOW, 2 * len(text)):
            paragraphs, text = second_opinion, cleaned
    raw_text = "\n".join(paragraphs)
    # NFC like trafilatura.extract(): one spelling per character for search and matching
    text = unicodedata.normalize("NFC", text)
    metadata.find_date(tree, url, meta)
    metadata.find_byline_author(tree, meta)
    status, status_reason = page_status.page_status(
        html, tree, raw_text, rule is not None and rules.is_paywalled(rule, tree)
    )
    result = Extracted(
        text=text,
        charset=charset,
        platform=rule.name if rule else None,
        page_status=status,
        failure_reason=status_reason or (None if text else "no main text found"),
    )
    _apply_metadata(result, meta, url, rule, tree)
    return result


def _paragraphs(body: Any) -> list[str]:
    if body is None:
        return []
    _drop_link_tail(body)
    return xmltotxt(body, False).splitlines()


def _readability_paragraphs(html: str, url: str | None) -> list[str]:
    """Second opinion: readability-lxml's article, read by trafilatura in recall mode."""
    from readability import Document  # imported here: needed on few pages

    try:
        summary = Document(html, url=url).summary(html_partial=True)
        page = load_html(f"<html><body>{summary}</body></html>")
    except Exception:  # readability raises on empty and odd documents
        return []
    if page is None:
        return []
    return _paragraphs(_trafilatura_body(page, url, _CONTAINER_OPTIONS))


def _parse(html: str) -> HtmlElement | None:
    """trafilatura's tolerant parse (it also rejects binary junk); None if not HTML."""
    try:
        tree = load_html(html)
    except Exception:
        return None
    return tree if isinstance(tree, HtmlElement) else None


def _trafilatura_body(tree: HtmlElement, url: str | None, options: Extractor = _OPTIONS) -> Any:
    try:
        document = trafilatura.bare_extraction(tree, url=url, options=options)
    except Exception:  # trafilatura raises bare ValueErrors on odd input
        return None
    return None if document is None else document.body


def _drop_link_tail(body: Any) -> None:
    """Remove trailing link-dominated blocks, then unwrap all links (text only).

    A tail under a "References" / "Sources" / "Notes" heading is the article's own
    apparatus, not a list of teasers: for a cache of cited sources it stays.
    """
    tail = []
    for child in reversed(list(body)):
        text = "".join(child.itertext()).strip()
        if child.tag == "head" and _REFERENCES_HEADING.search(text):
            tail = []  # everything after this heading belongs to the article
            break
        if len(text) > TAIL_LINK_MAX_CHARS:
            break
        if text:
            linked = sum(len("".join(ref.itertext()).strip()) for ref in child.iter("ref"))
            if linked < TAIL_LINK_RATIO * len(text):
                if tail and _REFERENCES_HEADING.search(text) and len(text) < 60:
                    tail = []  # a references heading set as a plain paragraph
                break
        tail.append(child)
    for child in tail:
        body.remove(child)
    strip_tags(body, "ref")


def _rule_body(rule: rules.Rule, tree: HtmlElement, url: str | None) -> Any:
    """Extract from the rule's article container with its chrome pruned; None to fall back."""
    work = deepcopy(tree)
    rules.prune(rule, work)
    node = rules.content_node(rule, work)
    if node is None:
        return _trafilatura_body(work, url)
    page = fromstring("<html><body></body></html>")
    page.find("body").append(node)
    body = _trafilatura_body(page, url, _CONTAINER_OPTIONS)
    if body is None or len(" ".join(body.itertext())) < MIN_RULE_TEXT:
        return None
    return body


def _apply_metadata(
    result: Extracted,
    meta: metadata.Metadata,
    url: str | None,
    rule: rules.Rule | None,
    tree: HtmlElement,
) -> None:
    sources = dict(meta.sources)
    title = rules.rule_title(rule, tree) if rule is not None else None
    if title and sources.get("title") != "citation":
        result.title, sources["title"] = title, f"rule:{rule.name}"  # type: ignore[union-attr]
    elif sources.get("title") in ("html", "opengraph", "meta", "json-ld"):
        result.title = _headline_part(meta.title, tree) or _clean_title(
            meta.title,
            meta.site_name or (rule and rule.site_name),
            guess=sources.get("title") == "html",
        )
    else:
        result.title = meta.title
    result.authors = meta.authors
    result.published = meta.published
    result.site_name = meta.site_name
    if not result.site_name and rule is not None and rule.site_name:
        result.site_name, sources["site_name"] = rule.site_name, f"rule:{rule.name}"
    result.description = meta.description
    result.language = meta.language
    result.canonical_url = meta.canonical_url if meta.canonical_url != url else None
    result.doi, result.arxiv_id = meta.doi, meta.arxiv_id
    if meta.type_hint and (rule is None or rule.markup_type_wins):
        result.page_type, sources["page_type"] = meta.type_hint, sources.get("type_hint", "markup")
    elif rule is not None:
        result.page_type, sources["page_type"] = rule.page_type, f"rule:{rule.name}"
    elif url and _GOV_HOST.search(_host(url)):
        result.page_type, sources["page_type"] = "government", "url"
    else:
        result.page_type, sources["page_type"] = "web", "default"
    sources.pop("type_hint", None)
    result.metadata_sources = sources


def _headline_part(title: str | None, tree: HtmlElement) -> str | None:
    """The part of a "Headline | Site" title that the page's first <h1> repeats, if any."""
    if not title or not _HEADLINE_SEPARATORS.search(title):
        return None
    nodes = _H1(tree)
    if not nodes:
        return None
    h1 = " ".join(" ".join(nodes[0].itertext()).split())
    if len(h1) < 4:
        return None
    folded = h1.casefold()
    for part in _HEADLINE_SEPARATORS.split(title):
        if part.strip().casefold() == folded:
            return part.strip()
    # "Headline: subtitle | Site" with an h1 of "Headline: subtitle"
    return h1 if title.casefold().startswith(folded) and len(h1) > 10 else None


def _clean_title(title: str | None, site_name: str | None, guess: bool) -> str | None:
    """Drop a " | Site" suffix (or prefix); with ``guess``, keep the longest part."""
    if not title:
        return title
    parts = _TITLE_SEPARATORS.split(title)
    if len(parts) < 2:
        return title
    if site_name:
        kept = [p for p in parts if p.strip().lower() != site_name.strip().lower()]
        if kept and len(kept) < len(parts):
            return " - ".join(kept)
    if not guess:
        return title
    # the longest part is the headline; site names are short
    return max(parts, key=len) if len(max(parts, key=len)) > 20 else title


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def _from_pdf(raw: bytes, url: str | None) -> Extracted:
    content = pdf.extract_pdf(raw)
    result = Extracted(
        text=content.text,
        title=content.title,
        authors=content.authors,
        published=content.published,
        page_type="paper" if url and "arxiv.org" in url else "document",
        failure_reason=content.failure_reason,
        content_kind="pdf",
    )
    sources = {}
    if content.title:
        sources["title"] = content.title_source or "pdf"
    if content.authors:
        sources["authors"] = "pdf-info"
    if content.published:
        sources["published"] = "pdf-info"
    match = metadata.ARXIV_PATTERN.search(url or "")
    if match:
        arxiv_id = match.group(1).removesuffix(".pdf")
        result.arxiv_id, sources["arxiv_id"] = arxiv_id, "url"
        result.abstract_url = f"https://arxiv.org/abs/{arxiv_id}"
        result.site_name, sources["site_name"] = "arXiv", "url"
    doi = metadata.DOI_PATTERN.search(content.text[:5000])
    if doi:
        result.doi, sources["doi"] = doi.group(1), "pdf-text"
    sources["page_type"] = "url" if result.page_type == "paper" else "default"
    result.metadata_sources = sources
    return result
