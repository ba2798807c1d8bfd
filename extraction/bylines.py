"""Bylines: where a page names its authors, when its tags do not.

``byline_authors(tree, site_name)`` reads the page's own byline markup (``rel``/
``itemprop=author``, ``/author/`` links, author and byline class words, credit lines),
``text_byline_authors`` a short unmarked line ("By X", "Autor: X", a label element and
the name after it, "11.12.2019 - X"), and ``signature_author`` the name that signs the
text. The names found go through ``authors.clean_authors``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from lxml.html import HtmlElement

from citation.names import is_organisation
from extraction.authors import capitalized, clean_authors, unless_person

# Elements that name the author: rel/itemprop author, /author/ links, and class or id
# words with "author" or "byline" (BEM too: "post__author", "c-page-intro__author").
_CANDIDATE_CLASS = re.compile(r"[Aa]uthor|[Bb]yline|autor|auteur|vcard|contributor|credit")
# Elements whose own text may open an unmarked byline ("Von Lisa Petrich", "By X | date")
_TEXT_BYLINE_TAGS = (
    "p",
    "span",
    "small",
    "h4",
    "h5",
    "h6",
    "time",
    "address",
    "em",
    "i",
    "b",
    "strong",
    "div",
)
# "By X", also after a dash or a lead word ("Posted by X", "Text von X", "Autoren X und Y",
# "Geschrieben von X"); the name may sit in a child element ("von <em>X</em>")
_TEXT_BYLINE_LEAD = (
    r"^\s*(?:[-–—]+\s*|[\d.:/-]+\s+){0,2}(?:(?:(?:posted|written|text|blog\s+beitrag|"
    r"(?:ein\s+)?beitrag|(?:ein\s+)?artikel|geschrieben|verfasst|eingestellt|erstellt|écrit|"
    r"escrito|publicado)\s+)?(?:by|von|par|por|door)\s*:?|autoren|authors|"
    r"(?:autor(?:in)?|auteur|author|redaktion|text|interview)\s*:)"
)
_TEXT_BYLINE = re.compile(_TEXT_BYLINE_LEAD + r"\s+\w", re.I)
_TEXT_BYLINE_OPENING = re.compile(
    _TEXT_BYLINE_LEAD + r"(?:\s+\w|\s*$)|^\s*(?:autor(?:in|en)?|auteur|authors?|interview)\s*$",
    re.I,
)
# a date line that ends with a name and holds nothing else: "11.12.2019 - Amelie
# Loevenich", "04.02.2022 | 13:10 Uhr | Uta Helkenberg" (each name part capitalized)
_DATED_LINE_MAX = 70
_DATED_NAME = re.compile(
    r"^\s*\d{1,2}\.\s?\d{1,2}\.\s?\d{2,4}(?:\s*[|,]?\s*\d{1,2}:\d{2}(?:\s*Uhr)?)?\s*[|–-]\s*"
    r"((?:[^\W\d_][^\W\d_'-]*(?:-[^\W\d_]+)?|[^\W\d_]\.)"
    r"(?:\s(?:[^\W\d_][^\W\d_'-]*(?:-[^\W\d_]+)?|[^\W\d_]\.)){1,2})\s*$"
)
# a label that introduces one person: what follows a comma is a role
_ONE_AUTHOR = re.compile(r"^\s*(?:autor(?:in)?|auteur|author)\s*:", re.I)
# at most this many "By ..." lines that are no byline are read: the byline sits near the
# top, and later ones are sentences
_TEXT_BYLINE_TRIES = 5
# a class word that names the byline itself, not a bio, photo or list about authors
_BYLINE_WORD = re.compile(
    r"^(?:[\w-]*?(?:__|-|_))?(?:author|byline|authors|autor|auteurs?|autoren|vcard|"
    r"contributors?)"
    r"(?:(?:__|-|_)(?:name|link|info|txt|text|meta|wrapper|inner|first|box|block))*$|"
    r"^(?:author|byline)\w*$|authorName|AuthorName|dates_auteurs|^credit$",
    re.I,
)
_NOT_BYLINE_WORD = re.compile(
    r"comment|bio|avatar|image|img|photo|picture|description|about|social|follow|more|"
    r"related|widget|box-title|recent|popular|copyright",
    re.I,
)
# containers whose bylines are not the article's: comments, sidebars, menus, footers
# (a class that starts with the word: "content-sidebar-wrap" holds the article; "sidebar"
# and "widget" are not skipped: Blogger and some themes wrap the article in them)
_SKIPPED_TAGS = frozenset({"nav", "aside", "form", "footer", "input", "textarea"})
_SKIPPED_WORD = re.compile(
    r"^(?:comments?|commentlist|menu|nav|footer|copyright|related)(?:[-_]|$)",
    re.I,
)
# words before a name: "By", "Von", "Posted by", "Text:", "Veröffentlicht von", ...
_LEAD = re.compile(
    r"^(?:(?:(?:post\s+)?authors?|autor(?:in|en)?|auteur|written|posted|published|veröffentlicht|"
    r"verfasst|erstellt|geschrieben|eingestellt|publiziert|publié|publicado|escrito|text|texte|"
    r"interview|redaktion|story|reporting|ein\s+artikel|artikel|beitrag|blog\s+beitrag|"
    r"alle\s+(?:artikel|beiträge)|zeige\s+alle\s+beiträge|mehr|more\s+from|rezept|recipe)"
    r"(?:\s+(?:by|von|vom|par|por|de))?|by|von|vom|par|por|di|door)\s*:?\s+",
    re.I,
)
# where a byline's name ends: a date, a time (digits that do not end a user name such as
# "freeman1984"), a separator, an agency after a slash ("Peter Maahn/SP-X"), "on"/"am"/
# "le" + date, a photo credit, a link to the author's other articles, a weekday and its
# date ("J.R. Stone Thursday, August 24")
_NAME_END = re.compile(
    r"\s*(?:[|•·—–]|\s-\s|(?<!\w)\d|\s(?:on|am|at|um|in|the|[Hh]ace)(?:\s|$)|\bsays\b|"
    r"\bsagt\b|\bsaid\b|\(|@|\s/\s|/(?=[A-Z][A-Z-]{1,7}\b|dpa\b|afp\b|apa\b|epd\b|kna\b)|\s(?:Illustrations?|Fotos?|Photos?|Bilder?)\b|"
    r"\s(?:[Aa]lle|[Aa]ll|[Mm]ehr|[Mm]ore)\s(?:[Aa]rtikel|[Bb]eiträge|[Pp]osts|[Aa]rticles)\b|"
    r"\s(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day,)"
)
# a weekday left between a byline's name and its date ("Von Tomas Spahn Fr, 18. Oktober")
_TRAILING_WEEKDAY = re.compile(
    r"\s+(?:mo|di|mi|do|fr|sa|so|mon|tue|wed|thu|fri|sat|sun|montag|dienstag|mittwoch|"
    r"donnerstag|freitag|samstag|sonntag|monday|tuesday|wednesday|thursday|friday|saturday|"
    r"sunday|stand|vor|posted|veröffentlicht),?$",
    re.I,
)


def byline_authors(tree: HtmlElement, site_name: str | None) -> list[str]:
    """The names of the page's first usable byline (outside comments, menus, sidebars)."""
    for node in _candidates(tree):
        if not _names_author(node) or _in_skipped(node):
            continue
        text = " ".join(" ".join(node.itertext()).split())
        if not text or len(text) > 200:
            continue
        # a byline naming the site is a personal site's owner ("Helge Fahrnberger")
        names = clean_authors([_byline_names(text)], unless_person(site_name))
        if names:
            return names
    return []


def _candidates(tree: HtmlElement) -> Iterator[HtmlElement]:
    """Elements that may hold the byline, in document order; a walk that stops at the
    first byline costs half of an XPath collecting them all (one string test per
    attribute instead of one per ``contains``)."""
    body = tree.find("body")  # author links and metas in the head have no text to read
    for element in (body if body is not None else tree).iter():
        classes = element.get("class")
        if (
            (classes and _CANDIDATE_CLASS.search(classes))
            or element.get("rel") == "author"
            or element.get("itemprop") == "author"
            or "/author/" in (element.get("href") or "")
            or "author" in (element.get("id") or "")
            or "byline" in (element.get("data-testid") or "")
            or element.tag == "byline"
        ):
            yield element


def _in_skipped(node: HtmlElement) -> bool:
    for element in (node, *node.iterancestors()):
        if element.tag == "body":
            return False
        if element.tag == "footer" and any(a.tag == "article" for a in element.iterancestors()):
            continue  # an article's own footer carries its byline
        words = f"{element.get('class') or ''} {element.get('id') or ''}".split()
        if element.tag in _SKIPPED_TAGS or any(_SKIPPED_WORD.match(w) for w in words):
            return True
    return False


def text_byline_authors(tree: HtmlElement, site_name: str | None) -> list[str]:
    """Names from a short line that opens with "By"/"Von"/"Par" and no author markup.

    Stricter than marked bylines: every word of a name capitalized (or a particle), so
    that a sentence opening with "Von Anfang an" is no author.
    """
    tries = 0
    for node in tree.iter(_TEXT_BYLINE_TAGS):
        if not node.text:
            continue
        if node.text.lstrip()[:1].isdigit():  # "11.12.2019 - Amelie Loevenich"
            names = _dated_name(node, site_name)
            if names:
                return names
        if not _TEXT_BYLINE_OPENING.match(node.text):
            continue
        text = " ".join(" ".join(node.itertext()).split())
        if not _TEXT_BYLINE.match(text):  # a label alone: "<b>Text:</b> Kim Lee"
            label = text.rstrip(": ")
            if not (text.endswith(":") or label[:1].isupper()):
                continue  # "Marie Arana, <span>author</span>": a role after a name
            text = f"{label}: {_text_after(node)}"
        if len(text) > 120 or not _TEXT_BYLINE.match(text) or _in_skipped(node):
            continue
        line = _byline_names(text)
        names = clean_authors([line], unless_person(site_name))
        if names and capitalized(line):
            # "Autorin: Uta Staschewski, Projektleiterin der HSS": one author, a role
            return names[:1] if _ONE_AUTHOR.match(text) else names
        tries += 1
        if tries >= _TEXT_BYLINE_TRIES:
            break
    return []


# elements after which a label's line has ended, once it holds text
_LINE_ENDS = frozenset(
    {"br", "p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "table", "section"}
)


def _text_after(label: HtmlElement, limit: int = 120) -> str:
    """The line that follows a label element: its tail, then its next siblings' text up
    to a line break or block; else its parent's, or grandparent's, following text
    ("<p><strong>By</strong></p><p class="name">Kim Lee</p>"), up to ``limit`` characters."""
    parts: list[str] = []
    element = label
    for _ in range(3):
        for following in (element, *element.itersiblings()):
            if following is not element and following.tag in _LINE_ENDS and parts:
                return " ".join(parts)
            text = following.tail or ""
            if following is not element:
                text = following.text_content() + text
            if text.strip():
                parts.append(" ".join(text.split()))
            if sum(map(len, parts)) >= limit:
                break
        element = element.getparent()
        if parts or element is None or element.tag == "body":
            break
    return " ".join(parts)


def _dated_name(node: HtmlElement, site_name: str | None) -> list[str]:
    dated = _DATED_NAME.match(node.text_content()[: _DATED_LINE_MAX + 1])
    line = dated.group(1) if dated else ""
    if not line or not capitalized(line) or is_organisation(line) or _in_skipped(node):
        return []
    return clean_authors([line], unless_person(site_name))


def signature_author(tree: HtmlElement, last_line: str, site_name: str | None) -> list[str]:
    """The name that signs the text: its last line, when that is a name of two or three
    words set apart in bold or italics in a paragraph of its own ("<p><b><i>Stefan
    Wasmer</i></b></p>"). Headings in capitals and organisations are no signature."""
    line = " ".join(last_line.split())
    if (
        not 2 <= len(line.split()) <= 3
        or len(line) > 40
        or line.isupper()
        or not capitalized(line)
        or is_organisation(line)
    ):
        return []
    for element in tree.iter("b", "strong", "em", "i"):
        if " ".join(element.text_content().split()) != line:
            continue
        while element.getparent() is not None and element.getparent().tag in _EMPHASIS:
            element = element.getparent()
        paragraph = element.getparent()
        if (
            paragraph is not None
            and paragraph.tag == "p"
            and " ".join(paragraph.text_content().split()) == line
            and not _in_skipped(paragraph)
        ):
            return clean_authors([line], unless_person(site_name))
    return []


_EMPHASIS = frozenset({"b", "strong", "em", "i", "font", "span"})


def _names_author(node: HtmlElement) -> bool:
    if node.tag == "byline" or "byline" in (node.get("data-testid") or ""):
        return True
    if node.get("rel") == "author" or node.get("itemprop") == "author":
        return True
    if "/author/" in (node.get("href") or ""):
        return True
    words = f"{node.get('class') or ''} {node.get('id') or ''}".split()
    return any(_BYLINE_WORD.search(w) for w in words) and not any(
        _NOT_BYLINE_WORD.search(w) for w in words
    )


# a date before the name: "Posted on May 4, 2020 by Kim Lee", "06.11.2023 13:30 von Olga"
_DATE_THEN_BY = re.compile(r"^[^|•]*?\d[^|•]*?\s(?:by|By|BY|von|Von)\s+(?=[^\W\d_])")


def _byline_names(text: str) -> str:
    """ "Von Tomas Spahn Fr, 18. Oktober 2019" -> "Tomas Spahn"."""
    text = _DATE_THEN_BY.sub("", text.lstrip("-–—~ "), count=1)
    text = _LEAD.sub("", text, count=1)
    # a label before the lead word: "Disko Von Ernst Lohoff", "Interview: By Kim Lee"
    text = re.sub(r"^(?:\S+\s+){1,2}?(?:By|BY|Von|VON|Par|PAR|Por|POR)\s+", "", text, count=1)
    text = _NAME_END.split(text, maxsplit=1)[0]
    return _TRAILING_WEEKDAY.sub("", text.rstrip(":, "))
