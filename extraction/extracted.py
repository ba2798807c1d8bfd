"""The result, ``Extracted``, and how the stages' findings fill it.

``from_pdf`` for a PDF; ``fill_metadata`` for an HTML page: the metadata stage's fields,
where a platform rule may name the title, site and page type, and a "Headline | Site"
title is cut to its headline.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from lxml.etree import XPath
from lxml.html import HtmlElement

from extraction import identifiers, metadata, rules
from extraction.pdf import PdfContent
from storage.ids import host_of

_GOV_HOST = re.compile(
    r"(\.gov|\.gov\.[a-z]{2}|\.gouv\.fr|\.bund\.de|\.admin\.ch|\.gv\.at|"
    r"\.gob\.[a-z]{2}|\.europa\.eu|\.govt\.nz|\.gc\.ca|\.mil)$"
)
_TITLE_SEPARATORS = re.compile(r"\s+(?:[|\-–—·»«›‹]|//|::)\s+")
# Headline candidates may also be cut at a spaced colon ("Headline : Site", French style).
_HEADLINE_SEPARATORS = re.compile(r"\s+(?:[|\-–—·»«›‹:]|//|::)\s+")
_H1 = XPath("(//h1)[1]")
# about one page of text: where a PDF states its own DOI, arXiv id, ISBN or PMID
PDF_FIRST_PAGE_CHARS = 5000


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
    script_shell: str | None = None
    """Why the page looks script-rendered (an app shell whose text only its scripts
    bring: extraction/script_shell.py), else None."""
    metadata_sources: dict[str, str] = field(default_factory=dict)
    """Per metadata field, where its value came from (e.g. "json-ld", "opengraph")."""
    doi: str | None = None
    """DOI without resolver prefix, e.g. "10.1000/xyz123"."""
    arxiv_id: str | None = None
    """arXiv identifier, e.g. "2101.00001v2" or "hep-th/9901001"."""
    isbn: str | None = None
    """ISBN-13, digits only (an ISBN-10 is converted)."""
    pmid: str | None = None
    """PubMed id, digits only."""
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


def fill_metadata(
    result: Extracted,
    meta: metadata.Metadata,
    url: str | None,
    rule: rules.Rule | None,
    tree: HtmlElement,
) -> None:
    """Set the metadata fields of ``result`` and their sources."""
    sources = dict(meta.sources)
    title = rules.rule_title(rule, tree) if rule is not None else None
    if title and sources.get("title") != "citation":
        result.title, sources["title"] = title, f"rule:{rule.name}"  # type: ignore[union-attr]
    elif sources.get("title") in ("html", "opengraph", "meta", "json-ld"):
        result.title = _headline_part(meta.title, tree) or _clean_title(
            meta.title,
            meta.site_name or (rule.site_name if rule else None),
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
    result.isbn, result.pmid = meta.isbn, meta.pmid
    if meta.type_hint and (rule is None or rule.markup_type_wins):
        result.page_type, sources["page_type"] = meta.type_hint, sources.get("type_hint", "markup")
    elif rule is not None:
        result.page_type, sources["page_type"] = rule.page_type, f"rule:{rule.name}"
    elif url and _GOV_HOST.search(host_of(url)):
        result.page_type, sources["page_type"] = "government", "url"
    else:
        result.page_type, sources["page_type"] = "web", "default"
    sources.pop("type_hint", None)
    result.metadata_sources = sources


def from_pdf(content: PdfContent, url: str | None) -> Extracted:
    """The result for a PDF: its text and info metadata, arXiv and DOI ids."""
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
    match = identifiers.ARXIV_IN_TEXT.search(url or "") if "arxiv.org" in (url or "") else None
    arxiv_id = identifiers.normalize_arxiv(match.group(1)) if match else None
    if arxiv_id:
        result.arxiv_id, sources["arxiv_id"] = arxiv_id, "url"
        result.abstract_url = f"https://arxiv.org/abs/{arxiv_id}"
        result.site_name, sources["site_name"] = "arXiv", "url"
    # the ids a paper states about itself are on its first page (later ones are references)
    first_page = content.text[:PDF_FIRST_PAGE_CHARS]
    for name, find in (
        ("doi", identifiers.find_doi),
        ("arxiv_id", identifiers.find_arxiv),
        ("isbn", identifiers.find_isbn),
        ("pmid", identifiers.find_pmid),
    ):
        value = None if getattr(result, name) else find(first_page)
        if value:
            setattr(result, name, value)
            sources[name] = "pdf-text"
    sources["page_type"] = "url" if result.page_type == "paper" else "default"
    result.metadata_sources = sources
    return result


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
