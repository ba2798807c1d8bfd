"""Main-text candidates of a parsed page, cheapest first; pipeline.py picks among them.

``rule_body`` (the platform rule's article container), ``trafilatura_body`` (fast pass
over the whole page, or the full pass with ``FULL_OPTIONS``) and ``readability_paragraphs``
(second opinion). ``paragraphs(body)`` turns a body into text lines, after dropping a
trailing list of links.
"""

from __future__ import annotations

import re
from copy import deepcopy
from typing import Any

import trafilatura
from lxml.etree import strip_tags
from lxml.html import HtmlElement, fromstring
from trafilatura.settings import Extractor
from trafilatura.utils import load_html
from trafilatura.xml import xmltotxt

from extraction import rules

# Built once: trafilatura re-reads its config for every call that does not pass one.
# Comments off: they are not the cited text. Metadata off: extraction/metadata.py reads it
# from the same parse at a third of the cost of trafilatura's own (measured on the dev set).
FAST_OPTIONS = Extractor(
    output_format="txt", comments=False, with_metadata=False, links=True, fast=True
)
# trafilatura's fast mode skips its readability/jusText fallbacks. Those help where the
# fast pass found little, so a page whose fast text is shorter than this gets the full
# pass too. Dev set (bench/extraction_eval.py): full pass everywhere F1 0.939 at 28 ms a
# page; fast only 0.934 at 23 ms; fast + full below 1,000 chars 0.938 at 24 ms.
FULL_PASS_BELOW = 1_000
FULL_OPTIONS = Extractor(output_format="txt", comments=False, with_metadata=False, links=True)
# Below this many characters of text the first pass probably missed the article: ask
# readability-lxml and keep its text if at least twice as long. 250 = about 2 sentences;
# it fires on ~2% of the dev set, so its cost barely shows in the average.
SECOND_OPINION_BELOW = 250
# Inside a platform's article container everything is meant as article: favor recall.
_CONTAINER_OPTIONS = Extractor(
    output_format="txt", comments=False, with_metadata=False, links=True, recall=True
)
# Blocks at the end of the text whose words are mostly link text are "more on this" lists
# and teasers, not the article: 0.6 measured on the dev set (see docs/extraction.md).
TAIL_LINK_RATIO = 0.6
TAIL_LINK_MAX_CHARS = 200
# A rule's container yielding less than this is a teaser or the wrong node: retry whole page.
MIN_RULE_TEXT = 200
_REFERENCES_HEADING = re.compile(
    r"^\W*(\d+(\.\d+)*\.?\s+)?(references|bibliography|sources|works cited|notes|"
    r"footnotes|further reading|literatur(verzeichnis)?|quellen|bibliographie|références)\W*$",
    re.IGNORECASE,
)


def rule_body(rule: rules.Rule, tree: HtmlElement, url: str | None) -> Any:
    """Extract from the rule's article container with its chrome pruned; None to fall back."""
    work = deepcopy(tree)
    rules.prune(rule, work)
    node = rules.content_node(rule, work)
    if node is None:
        return trafilatura_body(work, url)
    page = fromstring("<html><body></body></html>")
    page.find("body").append(node)
    body = trafilatura_body(page, url, _CONTAINER_OPTIONS)
    if body is None or len(" ".join(body.itertext())) < MIN_RULE_TEXT:
        return None
    return body


def trafilatura_body(tree: HtmlElement, url: str | None, options: Extractor = FAST_OPTIONS) -> Any:
    """trafilatura's main-text tree of ``tree`` (which it copies, not changes); None if none."""
    try:
        document = trafilatura.bare_extraction(tree, url=url, options=options)
    except Exception:  # trafilatura raises bare ValueErrors on odd input
        return None
    return getattr(document, "body", None)  # a Document (a dict only with output_format)


def readability_paragraphs(html: str, url: str | None) -> list[str]:
    """Second opinion: readability-lxml's article, read by trafilatura in recall mode."""
    from readability import Document  # imported here: needed on few pages

    try:
        summary = Document(html, url=url).summary(html_partial=True)
        page = load_html(f"<html><body>{summary}</body></html>")
    except Exception:  # readability raises on empty and odd documents
        return []
    if page is None:
        return []
    return paragraphs(trafilatura_body(page, url, _CONTAINER_OPTIONS))


def paragraphs(body: Any) -> list[str]:
    """The text lines of a trafilatura body, its trailing link list dropped; [] for None."""
    if body is None:
        return []
    _drop_link_tail(body)
    return xmltotxt(body, False).splitlines()


def _drop_link_tail(body: Any) -> None:
    """Remove trailing link-dominated blocks, then unwrap all links (text only).

    A tail under a "References" / "Sources" / "Notes" heading is the article's own
    apparatus, not a list of teasers: for a cache of cited sources it stays.
    """
    tail: list[Any] = []
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
