"""``extract(html_or_bytes, url) -> Extracted``: the stages of extraction/__init__.py, in order."""

from __future__ import annotations

import unicodedata

from lxml.etree import XPath
from lxml.html import HtmlElement
from trafilatura.utils import load_html

from extraction import (
    boilerplate,
    dates,
    main_text,
    metadata,
    page_status,
    pdf,
    rules,
    script_shell,
)
from extraction.charset import decode_html
from extraction.extracted import Extracted, fill_metadata, from_pdf

# libxml2 nests elements at most this deep and silently drops what lies deeper; a page
# whose article sits below that comes out empty, and the reason should say so.
PARSER_MAX_DEPTH = 256
_TOO_DEEP = XPath(f"boolean(//*[count(ancestor::*) >= {PARSER_MAX_DEPTH - 1}])")


def extract(html: str | bytes, url: str | None = None) -> Extracted:
    """Extract the main text and metadata of ``html``; never raises.

    An error inside a stage becomes ``failure_reason`` with empty text.
    """
    try:
        return _extract(html, url)
    except Exception as exc:  # last guard: a crawl must never die on one page
        return Extracted(failure_reason=f"extraction error: {exc!r}"[:300])


def _extract(raw: str | bytes, url: str | None) -> Extracted:
    charset = None
    if isinstance(raw, bytes | bytearray):
        raw = bytes(raw)
        if pdf.is_pdf(raw):  # 1. PDF
            return from_pdf(pdf.extract_pdf(raw), url)
        html, charset = decode_html(raw)  # 2. charset
    else:
        html = raw
    tree = _parse(html)  # one parse, shared by the stages below
    if tree is None:
        return Extracted(charset=charset, failure_reason="not an HTML document")
    meta = metadata.page_metadata(tree, url)  # 3. metadata
    dates.find_date(tree, url, meta)
    metadata.find_byline_author(tree, meta)
    rule = rules.find_rule(tree, url)  # 4. platform rule
    paragraphs, text = _main_text(html, tree, url, rule)  # 5. main text, 6. boilerplate
    # NFC like trafilatura.extract(): one spelling per character for search and matching
    text = unicodedata.normalize("NFC", text)
    metadata.find_signature(tree, meta, text)  # an author signing the text, where none else
    status, status_reason = page_status.page_status(  # 7. page status
        html,
        tree,
        "\n".join(paragraphs),
        rule is not None and rules.is_paywalled(rule, tree),
    )
    result = Extracted(
        text=text,
        charset=charset,
        platform=rule.name if rule else None,
        page_status=status,
        failure_reason=status_reason or (None if text else _no_text_reason(tree)),
        script_shell=script_shell.shell_reason(tree, text),  # 8. needs a browser?
    )
    fill_metadata(result, meta, url, rule, tree)
    return result


def _main_text(
    html: str, tree: HtmlElement, url: str | None, rule: rules.Rule | None
) -> tuple[list[str], str]:
    """The main text's lines before cleaning, and its cleaned text.

    Candidates cheapest first, a costlier one only when the text so far is short: the
    rule's container (else the whole page in trafilatura's fast mode), trafilatura's full
    pass, readability-lxml. They compete on their length after boilerplate removal.
    """
    body = main_text.rule_body(rule, tree, url) if rule is not None else None
    if body is None:
        body = main_text.trafilatura_body(tree, url)
    paragraphs = main_text.paragraphs(body)
    text = _cleaned(paragraphs)
    if len(text) < main_text.FULL_PASS_BELOW and (rule is None or body is None):
        fuller = main_text.paragraphs(main_text.trafilatura_body(tree, url, main_text.FULL_OPTIONS))
        fuller_text = _cleaned(fuller)
        if len(fuller_text) > len(text):
            paragraphs, text = fuller, fuller_text
    if len(text) < main_text.SECOND_OPINION_BELOW:
        second_opinion = main_text.readability_paragraphs(html, url)
        cleaned = _cleaned(second_opinion)
        if len(cleaned) >= max(main_text.SECOND_OPINION_BELOW, 2 * len(text)):
            paragraphs, text = second_opinion, cleaned
    return paragraphs, text


def _no_text_reason(tree: HtmlElement) -> str:
    if _TOO_DEEP(tree):
        return f"no main text found (markup nested over {PARSER_MAX_DEPTH} levels deep, cut there)"
    return "no main text found"


def _cleaned(paragraphs: list[str]) -> str:
    return "\n\n".join(boilerplate.clean_paragraphs(paragraphs))


def _parse(html: str) -> HtmlElement | None:
    """trafilatura's tolerant parse (it also rejects binary junk); None if not HTML."""
    try:
        tree = load_html(html)
    except Exception:
        return None
    return tree if isinstance(tree, HtmlElement) else None
