"""Page metadata from several sources, each field with its provenance.

``page_metadata(tree, url) -> Metadata``. Sources, most trusted first per field:
Highwire ``citation_*`` meta tags (set by journals and preprint servers for Google
Scholar), JSON-LD, OpenGraph, Dublin Core, plain ``<meta>``, then the HTML itself
(``<title>``, ``<html lang>``, ``<link rel=canonical>``), and htmldate for the date when
no tag states it. JSON-LD, OpenGraph and Dublin Core are read with lxml as extruct 0.18
read them (it was a dependency for these three only, see docs/extraction.md).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

from lxml.etree import XPath
from lxml.html import HtmlElement

from citation.names import is_organisation
from extraction import authors, bylines, identifiers
from extraction.dates import iso_date

_JSONLD_SCRIPTS = XPath('descendant-or-self::script[@type="application/ld+json"]')
# JSON-LD that strict JSON rejects is retried without what sloppy pages add: a comment
# line around it (<!-- -->, //<![CDATA[ ... //]]>) and trailing commas.
_JSON_COMMENT_START = re.compile(r"^\s*(//.*|<!--.*-->)")
_JSON_COMMENT_END = re.compile(r"(//[^\n\"]*|<!--.*-->)\s*$")
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")
# OpenGraph properties count under these prefixes (case-sensitive), in the head only.
_OG_PREFIXES = {"og", "music", "video", "article", "book", "profile", "product"}
_OG_META = XPath("//head/meta[@property and @content]")
# Dublin Core: <meta name="DC.x"> or "DCterms.x"; the fields read below.
_DC_NAME = re.compile(
    r"^dc(?:terms)?\.(title|creator|date|issued|created|description|abstract|publisher|"
    r"language)",
    re.I,
)

_SPACES = re.compile(r"\s+")
# JSON-LD @type -> our page type; OpenGraph og:type is too coarse ("article") to say more.
_JSONLD_TYPES = {
    "scholarlyarticle": "paper",
    "medicalscholarlyarticle": "paper",
    "report": "report",
    "newsarticle": "news",
    "reportagenewsarticle": "news",
    "analysisnewsarticle": "news",
    "opinionnewsarticle": "news",
    "blogposting": "blog",
    "liveblogposting": "blog",
    "socialmediaposting": "blog",
    "discussionforumposting": "forum",
    "qapage": "forum",
    "book": "book",
    "videoobject": "video",
}


@dataclass
class Metadata:
    """Metadata fields found on a page; ``sources`` says where each came from."""

    title: str | None = None
    authors: list[str] = field(default_factory=list)
    published: str | None = None
    """ISO 8601 date (YYYY-MM-DD)."""
    site_name: str | None = None
    description: str | None = None
    language: str | None = None
    canonical_url: str | None = None
    doi: str | None = None
    arxiv_id: str | None = None
    isbn: str | None = None
    """ISBN-13, digits only."""
    pmid: str | None = None
    type_hint: str | None = None
    """Page type implied by the markup (JSON-LD @type, citation_* tags); None if unsaid."""
    sources: dict[str, str] = field(default_factory=dict)
    stated_date: str | None = field(default=None, repr=False)
    """The published date as the page wrote it (with its time and zone, if any)."""

    def offer(self, name: str, value: Any, source: str) -> None:
        """Set field ``name`` to ``value`` unless a more trusted source already did."""
        raw = value
        if isinstance(value, str):
            value = _SPACES.sub(" ", value).strip()
            if name == "published":  # a date that does not parse leaves room for the next
                value = iso_date(value)
        if not value or getattr(self, name):
            return
        if name == "published":
            self.stated_date = raw
        setattr(self, name, value)
        self.sources[name] = source


def page_metadata(tree: HtmlElement, url: str | None = None) -> Metadata:
    """Collect the metadata of a parsed page; never raises on odd markup."""
    meta = Metadata()
    tags = _meta_tags(tree)
    _from_citation(meta, tags)
    items = _safe(lambda: _jsonld_items(tree), [])
    nodes = _jsonld_nodes(items)
    for item in items:
        _from_jsonld(meta, item, nodes)
    og = _opengraph(tree)
    _from_opengraph(meta, og)
    _from_dublincore(meta, tree)
    _from_plain_meta(meta, tags)
    _from_html(meta, tree, url)
    _find_ids(meta, tree, tags, url, og)
    return meta


def find_byline_author(tree: HtmlElement, meta: Metadata) -> None:
    """Clean the authors the tags named; read the page's byline when they named no person.

    Only explicit author markup is read (``extraction/bylines.py``): trafilatura's full
    author search costs ~5 ms a page, this well under 1 ms.
    """
    people = authors.clean_authors(
        meta.authors, meta.site_name, split=meta.sources.get("authors") in _SPLIT_SOURCES
    )
    organisations_only = bool(people) and all(is_organisation(p) for p in people)
    if people and not organisations_only:
        meta.authors = people
        if len(people) == 1 and " " not in people[0]:
            _spelled_out(tree, meta)
        elif len(people) == 1 and meta.sources.get("authors") == "json-ld":
            _byline_extends(tree, meta)
        return
    # no person named: the page's byline; a tag naming only an organisation (the
    # publisher, often) gives way to a person's byline, and stays when there is none
    found = _page_byline(tree, meta)
    if organisations_only and all(is_organisation(p) for p in found):
        meta.authors = people
        return
    meta.authors = []
    meta.sources.pop("authors", None)
    meta.offer("authors", found, "byline")


def find_signature(tree: HtmlElement, meta: Metadata, text: str) -> None:
    """Where no tag or byline named an author: the name that signs the main text."""
    if meta.authors or not text:
        return
    last = text.rsplit("\n", 1)[-1]
    found = _safe(lambda: bylines.signature_author(tree, last, meta.site_name), [])
    meta.offer("authors", found, "signature")


def _page_byline(tree: HtmlElement, meta: Metadata) -> list[str]:
    return _safe(lambda: bylines.byline_authors(tree, meta.site_name), []) or _safe(
        lambda: bylines.text_byline_authors(tree, meta.site_name), []
    )


def _byline_extends(tree: HtmlElement, meta: Metadata) -> None:
    """JSON-LD often names the first author only: a byline that names that person and
    others ("von Rudolf Fischer, Simon Kohler") names them all."""
    found = _safe(lambda: bylines.byline_authors(tree, meta.site_name), [])
    if len(found) > 1 and _extends(found, meta.authors):
        meta.authors, meta.sources["authors"] = found, "byline"


def _spelled_out(tree: HtmlElement, meta: Metadata) -> None:
    """A tag author that is a handle ("arianschlichenmayer", "gabor_munier") or a first
    name alone ("Todd") gives way to the page's byline when that spells the same letters
    as a name ("Arian Schlichenmayer") or starts with that first name ("Todd Bates")."""
    found = _page_byline(tree, meta)
    if len(found) != 1 or " " not in found[0]:
        return
    named = authors.letters(meta.authors[0])
    if named in (authors.letters(found[0]), authors.letters(found[0].split()[0])):
        meta.authors, meta.sources["authors"] = found, "byline"


# sources whose one value may name several people ("Kim Lee and Sam Ng")
_SPLIT_SOURCES = ("meta", "opengraph", "byline")


def _safe(func: Any, default: Any) -> Any:
    try:
        return func()
    except Exception:  # third-party parsers on broken markup or JSON
        return default


def _meta_tags(tree: HtmlElement) -> dict[str, list[str]]:
    """All ``<meta name|property|itemprop=... content=...>`` values by lowercased key."""
    tags: dict[str, list[str]] = {}
    for node in tree.iter("meta"):
        key = node.get("name") or node.get("property") or node.get("itemprop")
        content = node.get("content")
        if key and content and content.strip():
            tags.setdefault(key.strip().lower(), []).append(content.strip())
    return tags


def _from_citation(meta: Metadata, tags: dict[str, list[str]]) -> None:
    first = {k: v[0] for k, v in tags.items() if k.startswith("citation_")}
    if not first:
        return
    meta.offer("title", first.get("citation_title"), "citation")
    meta.offer("authors", _dedupe(tags.get("citation_author", [])), "citation")
    meta.offer(
        "published",
        first.get("citation_publication_date")
        or first.get("citation_date")
        or first.get("citation_online_date"),
        "citation",
    )
    meta.offer(
        "site_name",
        first.get("citation_journal_title") or first.get("citation_conference_title"),
        "citation",
    )
    meta.offer("language", first.get("citation_language"), "citation")
    if "citation_title" in first and ("citation_author" in first or "citation_doi" in first):
        meta.offer("type_hint", "paper", "citation")


def _from_jsonld(meta: Metadata, item: Any, nodes: dict[str, dict] | None = None) -> None:
    if not isinstance(item, dict):
        return
    if "@graph" in item and isinstance(item["@graph"], list):
        for sub in item["@graph"]:
            _from_jsonld(meta, sub, nodes)
        return
    types = item.get("@type")
    types = [
        t.lower() for t in (types if isinstance(types, list) else [types]) if isinstance(t, str)
    ]
    if "website" in types or "organization" in types:
        meta.offer("site_name", _text(item.get("name")), "json-ld")
        return
    if not any(
        t.endswith(("article", "posting", "page", "report", "book")) or t in _JSONLD_TYPES
        for t in types
    ):
        return
    if any(t in ("webpage", "collectionpage", "searchresultspage") for t in types) and not (
        item.get("headline")
    ):
        meta.offer("description", _text(item.get("description")), "json-ld")
        # a WebPage's author is the page's (Yoast states the post's author there only)
        meta.offer("authors", _people(_resolved(item.get("author"), nodes or {})), "json-ld")
        return
    for t in types:
        meta.offer("type_hint", _JSONLD_TYPES.get(t), "json-ld")
    meta.offer("title", _text(item.get("headline")) or _text(item.get("name")), "json-ld")
    meta.offer("authors", _people(_resolved(item.get("author"), nodes or {})), "json-ld")
    meta.offer(
        "published", _text(item.get("datePublished")) or _text(item.get("dateCreated")), "json-ld"
    )
    meta.offer("description", _text(item.get("description")), "json-ld")
    meta.offer("language", _text(item.get("inLanguage")), "json-ld")
    _jsonld_ids(meta, item)
    publisher = item.get("publisher")
    if isinstance(publisher, dict):
        meta.offer("site_name", _text(publisher.get("name")), "json-ld")


def _jsonld_ids(meta: Metadata, item: dict) -> None:
    """``isbn``, ``identifier`` (a string or PropertyValue) and ``sameAs`` resolver links."""
    meta.offer("isbn", identifiers.normalize_isbn(_text(item.get("isbn"))), "json-ld")
    values: list[Any] = []
    for key in ("identifier", "sameAs"):
        value = item.get(key)
        values += value if isinstance(value, list) else [value]
    for value in values:
        if isinstance(value, dict):
            kind = str(value.get("propertyID") or value.get("name") or "").lower()
            value = value.get("value")
            if not isinstance(value, str):
                continue
            value = f"{kind}:{value}" if kind in ("doi", "pmid", "arxiv") else value
        if not isinstance(value, str):
            continue
        lowered = value.lower()
        if lowered.startswith("doi:") or "doi.org/" in lowered:
            meta.offer("doi", identifiers.normalize_doi(value), "json-ld")
        elif lowered.startswith("arxiv:") or "arxiv.org/" in lowered:
            meta.offer("arxiv_id", identifiers.normalize_arxiv(value), "json-ld")
        elif lowered.startswith("pmid:") or "pubmed" in lowered:
            meta.offer("pmid", identifiers.normalize_pmid(value.split(":")[-1]), "json-ld")


def _jsonld_nodes(items: list[Any]) -> dict[str, dict]:
    """The page's JSON-LD objects by ``@id``, top level and in ``@graph``."""
    nodes: dict[str, dict] = {}
    for item in items:
        graph = item.get("@graph") if isinstance(item, dict) else None
        for node in [item, *(graph if isinstance(graph, list) else [])]:
            if isinstance(node, dict) and isinstance(node.get("@id"), str):
                nodes.setdefault(node["@id"], node)
    return nodes


def _resolved(value: Any, nodes: dict[str, dict]) -> Any:
    """``value`` with references (``{"@id": ...}`` and no name) replaced by the node named:
    Yoast and other SEO plugins state the article's author as a reference to a Person
    elsewhere in the graph."""
    if isinstance(value, list):
        return [_resolved(v, nodes) for v in value]
    if isinstance(value, dict) and "name" not in value and value.get("@id") in nodes:
        return nodes[value["@id"]]
    return value


def _jsonld_items(tree: HtmlElement) -> list[Any]:
    """The objects of the page's JSON-LD scripts (a top-level list counts as its items).

    A script that is not JSON even leniently raises, and the caller drops all of the
    page's JSON-LD, as extruct did: skipping only that script changed the title or site
    name of 4 dev-set pages, which is for a measured change of its own, not this port.
    """
    items: list[Any] = []
    for node in _JSONLD_SCRIPTS(tree):
        script = node.xpath("string()")
        try:
            data = json.loads(script, strict=False)
        except ValueError:
            lenient = _JSON_COMMENT_END.sub("", _JSON_COMMENT_START.sub("", script))
            data = json.loads(_TRAILING_COMMA.sub(r"\1", lenient), strict=False)
        items.extend(item for item in (data if isinstance(data, list) else [data]) if item)
    return items


def _opengraph(tree: HtmlElement) -> dict[str, str]:
    """``og:*`` and like ``<meta property>`` values of the head, first one per lowercased key."""
    props: dict[str, str] = {}
    for node in _OG_META(tree):
        name = node.get("property")
        if name.partition(":")[0] in _OG_PREFIXES:
            props.setdefault(name.lower(), node.get("content"))
    return props


def _from_opengraph(meta: Metadata, og: dict[str, str]) -> None:
    meta.offer("title", og.get("og:title"), "opengraph")
    meta.offer("site_name", og.get("og:site_name"), "opengraph")
    meta.offer("description", og.get("og:description"), "opengraph")
    meta.offer("published", og.get("article:published_time"), "opengraph")
    author = og.get("article:author")
    if author and not author.startswith("http"):
        meta.offer("authors", [author], "opengraph")
    meta.offer("canonical_url", og.get("og:url"), "opengraph")
    locale = og.get("og:locale")
    if locale and re.fullmatch(r"[a-zA-Z]{2,3}([_-][a-zA-Z]{2})?", locale):
        meta.offer("language", locale.split("_")[0].split("-")[0].lower(), "opengraph")


def _from_dublincore(meta: Metadata, tree: HtmlElement) -> None:
    values: dict[str, list[str]] = {}
    for node in tree.iter("meta"):
        match = _DC_NAME.fullmatch(node.get("name") or "")
        if match and node.get("content"):
            values.setdefault(match.group(1).lower(), []).append(node.get("content"))
    if not values:
        return

    def first(*names: str) -> str | None:
        return next((values[n][0] for n in names if values.get(n)), None)

    meta.offer("title", first("title"), "dublincore")
    meta.offer("authors", _dedupe(values.get("creator", [])), "dublincore")
    meta.offer(
        "published",
        first("date", "issued", "created"),
        "dublincore",
    )
    meta.offer(
        "description",
        first("description", "abstract"),
        "dublincore",
    )
    meta.offer("site_name", first("publisher"), "dublincore")
    meta.offer("language", first("language"), "dublincore")


def _from_plain_meta(meta: Metadata, tags: dict[str, list[str]]) -> None:
    first = {k: v[0] for k, v in tags.items()}
    meta.offer("title", first.get("twitter:title"), "meta")
    author = (
        first.get("author")
        or "; ".join(tags.get("parsely-author", []))  # one tag per author
        or first.get("sailthru.author")
        or _twitter_label(first, _WRITTEN_BY)
    )
    if author and not author.startswith("http"):
        names = [a.strip() for a in re.split(r";|\band\b", author) if a.strip()]
        if meta.sources.get("authors") == "json-ld" and _extends(names, meta.authors):
            meta.authors = []  # JSON-LD often names the first author only
        meta.offer("authors", names, "meta")
    meta.offer("description", first.get("description") or first.get("twitter:description"), "meta")
    meta.offer(
        "published",
        first.get("date")
        or first.get("pubdate")
        or first.get("parsely-pub-date")
        or first.get("sailthru.date")
        or first.get("publish-date")
        or first.get("article.published"),
        "meta",
    )
    meta.offer(
        "site_name",
        first.get("application-name") or first.get("twitter:site", "").lstrip("@"),
        "meta",
    )
    meta.offer("language", first.get("language") or first.get("content-language"), "meta")


# Yoast SEO's Twitter card labels, in the site's language: "Written by" -> the author
_WRITTEN_BY = re.compile(
    r"^(?:written by|verfasst von|geschrieben von|écrit par|escrito por|scritto da|"
    r"geschreven door|skrevet af|skrivet av|napisane przez)$",
    re.I,
)


def _twitter_label(first: dict[str, str], label: re.Pattern[str]) -> str | None:
    """The value of the ``twitter:dataN`` whose ``twitter:labelN`` matches ``label``."""
    for n in range(1, 5):
        if label.match(first.get(f"twitter:label{n}", "").strip()):
            return first.get(f"twitter:data{n}")
    return None


def _extends(values: list[str], found: list[str]) -> bool:
    """Whether author strings ``values`` name more people than ``found``, all of them too."""
    more = {n.casefold() for n in authors.clean_authors(values)}
    return len(more) > len(found) and all(n.casefold() in more for n in found)


def _from_html(meta: Metadata, tree: HtmlElement, url: str | None) -> None:
    titles = tree.xpath("//head/title//text()") or tree.xpath("//title//text()")
    meta.offer("title", " ".join(titles), "html")
    lang = tree.get("lang") or tree.get("{http://www.w3.org/XML/1998/namespace}lang")
    meta.offer("language", lang, "html")
    canonical = tree.xpath("//link[@rel='canonical']/@href")
    if canonical:
        meta.offer("canonical_url", urljoin(url or "", canonical[0].strip()), "html")
    if meta.language:
        meta.language = meta.language.replace("_", "-").split("-")[0].lower()[:3] or None


# meta names (lowercased) that may hold each identifier, most specific first
_ID_TAGS = {
    "doi": (
        "citation_doi",
        "prism.doi",
        "bepress_citation_doi",
        "dc.identifier",
        "dcterms.identifier",
        "doi",
    ),
    "arxiv_id": ("citation_arxiv_id",),
    "isbn": ("citation_isbn", "book:isbn", "books:isbn", "isbn"),
    "pmid": ("citation_pmid",),
}
_NORMALIZE = {
    "doi": identifiers.normalize_doi,
    "arxiv_id": identifiers.normalize_arxiv,
    "isbn": identifiers.normalize_isbn,
    "pmid": identifiers.normalize_pmid,
}
# a link to an identifier resolver counts only in the head or as the page's own
# (canonical, "cite as"); links in the text are usually references to other works
_ID_LINKS = XPath("//head/link[@href] | //link[@rel='canonical' or @rel='cite-as'][@href]")


def _find_ids(
    meta: Metadata, tree: HtmlElement, tags: dict[str, list[str]], url: str | None, og: dict
) -> None:
    """DOI, arXiv id, ISBN and PubMed id from meta tags, head links and the URL."""
    for name, keys in _ID_TAGS.items():
        for key in keys:
            value = next(filter(None, map(_NORMALIZE[name], tags.get(key, []))), None)
            if value:
                meta.offer(name, value, "citation" if key.startswith("citation_") else "meta")
                break
    meta.offer("isbn", identifiers.normalize_isbn(og.get("book:isbn")), "opengraph")
    for href in _safe(lambda: [n.get("href") for n in _ID_LINKS(tree)], []):
        if "doi.org/" in href:
            meta.offer("doi", identifiers.normalize_doi(href), "link")
    if url:
        if "doi.org/" in url or "/doi/" in url:
            meta.offer("doi", identifiers.normalize_doi(url), "url")
        match = identifiers.ARXIV_IN_TEXT.search(url)
        if match and "arxiv.org" in url:
            meta.offer("arxiv_id", identifiers.normalize_arxiv(match.group(1)), "url")
        meta.offer("pmid", identifiers.normalize_pmid(url) if "pubmed" in url else None, "url")


def _text(value: Any) -> str | None:
    if isinstance(value, list) and value:
        value = value[0]
    if isinstance(value, dict):
        value = value.get("name") or value.get("@value")
    return value.strip() if isinstance(value, str) and value.strip() else None


def _people(value: Any) -> list[str]:
    if not isinstance(value, list):
        value = [value]
    names = []
    for person in value:
        name = _text(person)
        if name and not name.startswith("http"):
            names.append(_full_name(name, person))
    return _dedupe(names)


def _full_name(name: str, person: Any) -> str:
    """A Person named by a first name alone whose description opens with the full name
    (a WordPress author bio: "Stefanus" / "Stefanus Stahl - Maschinenbauer, ...")."""
    description = person.get("description") if isinstance(person, dict) else None
    if " " in name or not isinstance(description, str):
        return name
    match = re.match(rf"{re.escape(name)}(?: [A-ZÀ-Þ][\w'-]+){{1,2}}\b", description)
    return match.group(0) if match else name


def _dedupe(values: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for v in values:
        v = _SPACES.sub(" ", v).strip()
        if v:
            seen.setdefault(v, None)
    return list(seen)
