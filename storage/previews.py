"""Content hashes and the truncated previews of extracted text. Pure functions."""

from __future__ import annotations

import hashlib
import re
import unicodedata

PREVIEW_MAX_CHARS = 51_200
"""Default size of the stored preview, as the wiki stores it: 51,200 UTF-16 code units
(JavaScript's string length, which the wiki's schema checks: an emoji counts 2)."""

CARD_PREVIEW_CHARS = 3_000
"""How much of the text a rendered card shows."""

_WHITESPACE = re.compile(r"\s+")
_LAST_SPACE = re.compile(r"\s+\S*\Z")


def normalize_text(text: str) -> str:
    """NFC, with every run of whitespace collapsed to one space, stripped."""
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFC", text)).strip()


def content_hash(text: str) -> str:
    """sha256 hex of the normalized text: same article, same hash, whatever the markup."""
    return hashlib.sha256(normalize_text(text).encode("utf-8")).hexdigest()


def truncate_at_word(text: str, max_chars: int) -> str:
    """``text`` cut to at most ``max_chars`` characters, at the last word boundary.

    Any Unicode whitespace is a boundary (an ideographic space too). A word longer than
    the limit, with no boundary before it, is cut hard rather than dropped.
    """
    if len(text) <= max_chars:
        return text
    cut = text[:max_chars]
    # A boundary exists at the limit when the first character dropped is whitespace.
    if text[max_chars].isspace():
        return cut.rstrip()
    match = _LAST_SPACE.search(cut)
    head = cut[: match.start()].rstrip() if match else ""
    return head if head else cut


def utf16_length(text: str) -> int:
    """The length JavaScript gives ``text``: UTF-16 code units (an emoji counts 2)."""
    return len(text.encode("utf-16-le")) // 2


def utf16_fit(text: str, max_units: int) -> int:
    """How many characters of ``text``, from its start, fit in ``max_units`` code units."""
    if len(text) * 2 <= max_units or utf16_length(text) <= max_units:
        return len(text)
    # errors="ignore" drops the half of a surrogate pair the cut split.
    return len(text.encode("utf-16-le")[: max_units * 2].decode("utf-16-le", errors="ignore"))


def stored_preview(text: str, max_units: int = PREVIEW_MAX_CHARS) -> str:
    """``text`` cut at a word boundary to at most ``max_units`` UTF-16 code units."""
    return truncate_at_word(text, utf16_fit(text, max_units))


def size_kb(content_length: int) -> int:
    """``content_length / 1024`` rounded half up (Python's round() rounds half to even)."""
    return (content_length * 2 + 1024) // 2048


def card_preview(text: str, content_length: int | None = None) -> str:
    """The first 3,000 characters at a word boundary, then the truncation line if longer."""
    head, note = card_preview_parts(text, content_length)
    return f"{head}\n\n{note}" if note else head


def card_preview_parts(text: str, content_length: int | None = None) -> tuple[str, str | None]:
    """The card's text, and the truncation line when that is not all of it."""
    total = len(text) if content_length is None else content_length
    if total <= CARD_PREVIEW_CHARS and len(text) <= CARD_PREVIEW_CHARS:
        return text, None
    head = truncate_at_word(text, CARD_PREVIEW_CHARS)
    return head, f"... (truncated, {size_kb(total)} KB total)"
