"""The publication date a page shows its reader, next to the article.

``shown_date(tree) -> "YYYY-MM-DD" | None``, first of:

1. a labelled date in the text: "Veröffentlicht am 16.08.2019", "Published: 2023-11-07",
   "Erstellt am: 01.11.2023", "Publicado el 3 de mayo de 2022";
2. an element marked up as the publication date in the body (microdata
   ``itemprop=datePublished`` or ``dateCreated``);
3. the first ``<time>``, or element whose class names a date ("date", "datum",
   "published", "posted"), in the article (else the body) outside navigation, footers,
   comments, sidebars, teasers, related-post lists and the site's header (a masthead
   shows today's date), and not showing a change ("Aktualisiert: ...", "Last updated
   on ..."): its ``datetime`` attribute, or a short text holding a date, numeric (day
   first: "21.01.2022 - 13:30") or with the month's name in English, German, French,
   Spanish, Italian, Portuguese or Dutch ("3. Mai 2022", "May 3, 2022").

``dates.find_date`` asks for it where the head's tags are weak (no tag date, or Dublin
Core's), to check a JSON-LD date, where the tags state a UTC time, and where the tags
and htmldate disagree; see its module docstring for when it decides.
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
    r"(?:(?:ver[öo]ffentlicht|erstellt|erschienen|publi(?:[ée]e?|shed|cado)|posted|written)"
    r"\s*(?:am|on|le|el)?|(?:datum|date)\s*(?=:))\s*:?\s*",  # a bare "date" needs its colon
    re.I,
)
# a date with its month written out, day first ("3. Mai 2022", "3 de mayo de 2022",
# "3 May, 2022") or month first ("May 3, 2022"); the word must be a month's name
_WORDED_DATE = re.compile(
    r"(?<![\d.])(\d{1,2})(?:\.|st|nd|rd|th)?\s*(?:de\s+)?([^\W\d_]{3,10})\.?,?\s*(?:de\s+)?"
    r"((?:19|20)\d{2})(?!\d)"
    r"|\b([^\W\d_]{3,10})\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+((?:19|20)\d{2})(?!\d)"
)
_MONTH_NAMES = (
    "january february march april may june july august september october november december",
    "januar februar märz april mai juni juli august september oktober november dezember",
    "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
    "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre",
    "gennaio febbraio marzo aprile maggio giugno luglio agosto settembre ottobre novembre dicembre",
    "janeiro fevereiro março abril maio junho julho agosto setembro outubro novembro dezembro",
    "januari februari maart april mei juni juli augustus september oktober november december",
)


def _month_words() -> dict[str, int]:
    """Each month name and its unambiguous abbreviations (3 letters or more) -> 1-12."""
    months: dict[str, set[int]] = {}
    for names in _MONTH_NAMES:
        for number, name in enumerate(names.split(), 1):
            for end in range(3, len(name) + 1):
                months.setdefault(name[:end], set()).add(number)
    months.setdefault("jänner", set()).add(1)
    months.setdefault("setiembre", set()).add(9)
    return {word: found.pop() for word, found in months.items() if len(found) == 1}


_MONTHS = _month_words()
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
# an element showing a change, not the publication: "Aktualisiert: 11.04.2020",
# "Last updated on 20 Feb, 2020" (not a class: WordPress themes mark the publication
# date "entry-date updated")
_UPDATE_WORDS = re.compile(
    r"(?:last\s+)?(?:updated|modified|edited)|aktualisiert|zuletzt|actualizad|mis\s+à\s+jour",
    re.I,
)
# containers whose dates belong to something else than the article
_ELSEWHERE = re.compile(
    r"(?:^|[\s_-])(?:comments?|footer|sidebar|related|teaser|widget|nav|navigation|menu|"
    r"recommend\w*|masthead|topbar|top-bar|site-header)(?:$|[\s_-])",
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
            found = match and _date_in(lowered, at=match.end())
            if found:
                return found
    return None


def _word_starts(text: str, at: int) -> bool:
    # text nodes run together: "A postVeröffentlicht am", "14:49:39Erschienen am"
    before = text[at - 1] if at else " "
    return not before.isalnum() or (not before.isupper() and text[at].isupper())


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
                if found and not _elsewhere(element) and not _an_update(element):
                    return found
    return None


def _element_date(element: HtmlElement) -> str | None:
    stated = element.get("datetime") or element.get("content")
    found = dates.iso_date(stated) if stated else None
    if found or element.tag == "meta":
        return found
    text = element.text_content()
    return _date_in(text) if len(text) <= _DATE_LINE_MAX else None


def _an_update(element: HtmlElement) -> bool:
    """Whether the element shows when the article was changed, not published."""
    return bool(_UPDATE_WORDS.match(element.text_content().lstrip()))


def _elsewhere(element: HtmlElement) -> bool:
    for ancestor in element.iterancestors():
        if ancestor.tag in ("body", "html"):
            return False
        if ancestor.tag in ("nav", "footer"):
            return True
        if ancestor.tag == "header" and ancestor.getparent().tag == "body":  # the site's
            return True
        if _ELSEWHERE.search(f"{ancestor.get('class', '')} {ancestor.get('id', '')}"):
            return True
    return False


def _date_in(text: str, at: int | None = None) -> str | None:
    """The first date of a short text, or the date starting at ``at``: numeric (day
    first or ISO), or with its month written out."""
    match = _NUMERIC_DATE.search(text) if at is None else _NUMERIC_DATE.match(text, at)
    if match:
        if match.group(1):
            day, month, year = match.group(1, 2, 3)
        else:
            year, month, day = match.group(4, 5, 6)
        return _iso(year, int(month), day)
    worded = _WORDED_DATE.finditer(text) if at is None else [_WORDED_DATE.match(text, at)]
    for match in worded:
        if match is None:
            break
        if match.group(1):
            day, word, year = match.group(1, 2, 3)
        else:
            word, day, year = match.group(4, 5, 6)
        month = _MONTHS.get(word.lower())
        if month:
            return _iso(year, month, day)
    return None


def _iso(year: str, month: int, day: str) -> str | None:
    return dates.iso_date(f"{year}-{month:02d}-{int(day):02d}")
