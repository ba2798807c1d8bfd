"""The publication date a page shows its reader, next to the article.

``shown_date(tree) -> "YYYY-MM-DD" | None``, first of:

1. a labelled date in the text: "Veröffentlicht am 16.08.2019", "Published: 2023-11-07",
   "Erstellt am: 01.11.2023";
2. an element marked up as the publication date in the body (microdata
   ``itemprop=datePublished`` or ``dateCreated``);
3. the first ``<time>``, or element whose class names a date ("date", "datum",
   "published", "posted"), in the article (else the body) outside navigation, footers,
   comments, sidebars, teasers and related-post lists: its ``datetime`` attribute, or a
   short text holding a numeric date (day first: "21.01.2022 - 13:30").

``dates.find_date`` asks for it only where the head's tags are weak (no tag date, or
Dublin Core's) or disagree with htmldate: on the dev set it made 20 dates right and 1
wrong, and where it differs from a JSON-LD or OpenGraph date the tags are right more
often (the page shows an update or a related story's date).
"""

from __future__ import annotations

import re

from lxml.etree import XPath
from lxml.html import HtmlElement

from extraction import dates

_NUMERIC_DATE = re.compile(
    r"(?<![\d.])(\d{1,2})\.\s?(\d{1,2})\.\s?((?:19|20)\d{2})(?![\d.])"  # 21.01.2022
    r"|(?<!\d)((?:19|20)\d{2})-(\d{2})-(\d{2})(?!\d)"  # 2022-01-21
)
_LABELLED = re.compile(
    r"(?:ver[öo]ffentlicht|erstellt|erschienen|publi[ée]e?|published|posted|written|"
    r"datum|date)\s*(?:am|on|le)?\s*:?\s*"
    r"(\d{1,2}\.\s?\d{1,2}\.\s?(?:19|20)\d{2}|(?:19|20)\d{2}-\d{2}-\d{2})(?![\d.])",
    re.I,
)
# the labels' first letters, looked up with str.find before the regex runs: a
# case-insensitive alternation tried at every position of a long page costs ~2 ms
_LABEL_STEMS = (
    "veröffentlicht",
    "veroffentlicht",
    "erstellt",
    "erschienen",
    "publi",
    "posted",
    "written",
    "datum",
    "date",
)
_MARKED_UP = XPath('.//*[@itemprop="datePublished" or @itemprop="dateCreated"]')
# class words of an element holding a date
_DATE_CLASS = re.compile(r"[Dd]ate|datum|publish|posted")
# containers whose dates belong to something else than the article
_ELSEWHERE = re.compile(
    r"(?:^|[\s_-])(?:comments?|footer|sidebar|related|teaser|widget|nav|navigation|menu|"
    r"recommend\w*)(?:$|[\s_-])",
    re.I,
)
_NOT_CONTENT = {"script", "style", "meta", "link", "body", "html"}
# a date in an element's own text is read when the text is this short (a date line)
_DATE_LINE_MAX = 80


def shown_date(tree: HtmlElement) -> str | None:
    """The publication date shown with the article, or None (see the module docstring)."""
    body = tree.find("body")
    if body is None:
        return None
    return _labelled(body) or _marked_up(body) or _first_date_element(body)


def _labelled(body: HtmlElement) -> str | None:
    text = body.text_content()  # text nodes run together: "A postVeröffentlicht am"
    lowered = text.lower()
    if len(lowered) != len(text):  # "İ" lowers to two characters: offsets would drift
        lowered = text
    starts = sorted(i for stem in _LABEL_STEMS for i in _occurrences(lowered, stem))
    for start in starts:
        if _word_starts(text, start):
            match = _LABELLED.match(lowered, start)
            if match:
                return _numeric_date(match.group(1))
    return None


def _word_starts(text: str, at: int) -> bool:
    before = text[at - 1] if at else " "
    return not before.isalnum() or (before.islower() and text[at].isupper())


def _occurrences(text: str, word: str):
    start = text.find(word)
    while start != -1:
        yield start
        start = text.find(word, start + 1)


def _marked_up(body: HtmlElement) -> str | None:
    for element in _MARKED_UP(body):
        found = _element_date(element)
        if found:
            return found
    return None


def _first_date_element(body: HtmlElement) -> str | None:
    # a walk in document order that stops at the first date: cheaper than an XPath
    # that collects every candidate of a long page
    article = body.find(".//article")
    for scope in (article, body) if article is not None else (body,):
        for element in scope.iter():
            if element.tag == "time" or _DATE_CLASS.search(element.get("class") or ""):
                if element.tag in _NOT_CONTENT:
                    continue
                found = _element_date(element)
                if found and not _elsewhere(element):
                    return found
    return None


def _element_date(element: HtmlElement) -> str | None:
    stated = element.get("datetime") or element.get("content")
    found = dates.iso_date(stated) if stated else None
    if found or element.tag == "meta":
        return found
    text = element.text_content()
    return _numeric_date(text) if len(text) <= _DATE_LINE_MAX else None


def _elsewhere(element: HtmlElement) -> bool:
    for ancestor in element.iterancestors():
        if ancestor.tag in ("body", "html"):
            return False
        if ancestor.tag in ("nav", "footer"):
            return True
        if _ELSEWHERE.search(f"{ancestor.get('class', '')} {ancestor.get('id', '')}"):
            return True
    return False


def _numeric_date(text: str) -> str | None:
    match = _NUMERIC_DATE.search(text)
    if not match:
        return None
    if match.group(1):
        day, month, year = match.group(1, 2, 3)
    else:
        year, month, day = match.group(4, 5, 6)
    return dates.iso_date(f"{year}-{int(month):02d}-{int(day):02d}")
