"""Decode fetched HTML bytes to text without mojibake: ``decode_html(raw) -> (text, charset)``."""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

# <meta charset="x"> or <meta http-equiv="Content-Type" content="text/html; charset=x">;
# browsers look only at the first 1024 bytes, we look a little further for sloppy pages.
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_:.\-]+)""", re.I)
_XML_DECL = re.compile(rb"""^\s*<\?xml[^>]+encoding\s*=\s*["']([a-zA-Z0-9_.\-]+)""", re.I)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
# Valid multi-byte UTF-8 characters per invalid byte above which a page is UTF-8 with a few
# broken bytes rather than a legacy charset: legacy text almost never forms valid UTF-8
# sequences, so even 5:1 is far from the ~0:1 of real windows-1252 pages.
UTF8_MAJORITY = 5
# A declared latin-1 / ascii is almost always windows-1252 in practice (WHATWG label table).
_ALIASES = {"latin-1": "cp1252", "iso8859-1": "cp1252", "ascii": "cp1252"}


def declared_charset(raw: bytes) -> str | None:
    """Charset named in a BOM, an XML declaration or a <meta> tag, normalized; else None."""
    for bom, name in _BOMS:
        if raw.startswith(bom):
            return name
    head = raw[:4096]
    match = _XML_DECL.search(head) or _META_CHARSET.search(head)
    if not match:
        return None
    return _normalize(match.group(1).decode("ascii", "ignore"))


def _normalize(label: str) -> str | None:
    try:
        name = codecs.lookup(label.strip().lower()).name
    except LookupError:
        return None
    return _ALIASES.get(name, name)


def decode_html(raw: bytes, http_charset: str | None = None) -> tuple[str, str]:
    """Decode ``raw`` and return ``(text, charset)``; never raises.

    Order: a BOM; then strict UTF-8 (bytes that decode as UTF-8 and hold non-ASCII are
    UTF-8 whatever the page claims: a cp1252 text almost never forms valid UTF-8
    sequences), or UTF-8 with replacements when valid sequences far outnumber bad bytes;
    then the declared charset (HTTP header, then the markup) if it decodes without error;
    then charset-normalizer's guess; finally cp1252 with replacements.
    """
    for bom, name in _BOMS:
        if raw.startswith(bom):
            # the utf-16/32 codecs read the BOM themselves; utf-8-sig drops it
            codec = "utf-8-sig" if name == "utf-8" else name
            return raw.decode(codec, errors="replace"), name
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    text = raw.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    if len(_NON_ASCII.findall(text)) - bad >= UTF8_MAJORITY * bad:
        return text, "utf-8"  # UTF-8 with a few stray bytes (a pasted ad snippet, a cut)
    candidates = [_normalize(http_charset) if http_charset else None, declared_charset(raw)]
    for candidate in candidates:
        if candidate and candidate != "utf-8":
            try:
                return raw.decode(candidate), candidate
            except (UnicodeDecodeError, LookupError):
                continue
    guessed = _guess(raw)
    if guessed:
        try:
            return raw.decode(guessed, errors="replace"), guessed
        except LookupError:
            pass
    return raw.decode("cp1252", errors="replace"), "cp1252"


def _guess(raw: bytes) -> str | None:
    """charset-normalizer's best guess, preferring windows-1252 among equally good ones.

    On short Western text its first pick is often cp1250 or a Mac code page that decodes
    the same bytes (or nearly); windows-1252 is by far the likelier on the web.
    """
    results = list(from_bytes(raw[:65536]))
    if not results:
        return None
    best = results[0]
    for match in results:
        if match.chaos > best.chaos + 0.01 or match.coherence < best.coherence - 0.01:
            break
        if "cp1252" in match.could_be_from_charset:
            return "cp1252"
    return _normalize(best.encoding) or best.encoding
