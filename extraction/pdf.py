"""Text and metadata of PDFs (pypdf): ``is_pdf(raw)``, ``extract_pdf(raw) -> PdfContent``."""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass, field
from typing import Any

# The spec allows junk before the header; readers look in the first 1024 bytes.
_MAGIC = b"%PDF-"
# Long books would dominate a worker for minutes; the preview and search need the start.
MAX_PAGES = 300
_SPACES = re.compile(r"[ \t\u00a0]+")
_HYPHEN_BREAK = re.compile(r"(\w)-\n(\w)")
_AUTHOR_SPLIT = re.compile(r"\s*(?:;|,|\band\b|&)\s*")

logging.getLogger("pypdf").setLevel(logging.ERROR)


@dataclass
class PdfContent:
    """What a PDF yields: text and the document-info metadata."""

    text: str = ""
    title: str | None = None
    authors: list[str] = field(default_factory=list)
    published: str | None = None
    """Creation date from the document info, ISO 8601 (YYYY-MM-DD)."""
    title_source: str | None = None
    """"pdf-info" (document info dictionary) or "pdf-first-page"."""
    pages: int = 0
    failure_reason: str | None = None


def is_pdf(raw: bytes | str) -> bool:
    """Whether ``raw`` starts (within its first 1024 bytes) with the PDF magic ``%PDF-``."""
    if isinstance(raw, str):
        raw = raw[:1024].encode("latin-1", "replace")
    # an HTML page that merely mentions "%PDF-" near its top is still HTML
    return _MAGIC in raw[:1024] and not raw.lstrip()[:1].startswith(b"<")


def extract_pdf(raw: bytes) -> PdfContent:
    """Extract text (first ``MAX_PAGES`` pages) and info metadata; never raises."""
    from pypdf import PdfReader  # imported here: most pages are HTML

    try:
        reader = PdfReader(io.BytesIO(raw), strict=False)
        if reader.is_encrypted:
            reader.decrypt("")  # most "encrypted" PDFs only restrict printing or copying
        pages = reader.pages
        texts = []
        for page in list(pages)[:MAX_PAGES]:
            try:
                texts.append(page.extract_text() or "")
            except Exception:  # one broken content stream should not lose the rest
                texts.append("")
        result = PdfContent(
            text=_clean("\n\n".join(t for t in texts if t.strip())), pages=len(pages)
        )
        info: Any = reader.metadata or {}
    except Exception as exc:  # pypdf raises many types on damaged files
        return PdfContent(failure_reason=f"unreadable PDF: {exc!r}"[:300])
    title = _info_str(info, "/Title")
    if title and _plausible_title(title):
        result.title, result.title_source = title, "pdf-info"
    else:
        first = next(
            (line.strip() for line in result.text.splitlines() if len(line.strip()) > 8), None
        )
        if first:
            result.title, result.title_source = first[:300], "pdf-first-page"
    author = _info_str(info, "/Author")
    if author:
        result.authors = [a for a in _AUTHOR_SPLIT.split(author) if a and len(a) > 1]
    created = _info_str(info, "/CreationDate")
    if created:
        match = re.match(r"(?:D:)?(\d{4})(\d{2})?(\d{2})?", created)
        if match and match.group(2) and match.group(3):
            result.published = f"{match.group(1)}-{match.group(2)}-{match.group(3)}"
    if not result.text:
        result.failure_reason = "PDF has no extractable text (scanned?)"
    return result


def _info_str(info: object, key: str) -> str | None:
    try:
        value = info.get(key)  # type: ignore[attr-defined]
    except Exception:
        return None
    value = str(value).strip() if value is not None else ""
    return value or None


def _plausible_title(title: str) -> bool:
    """Reject the file names and tool defaults that fill many PDFs' Title field."""
    lowered = title.lower()
    return not (
        len(title) < 4
        or lowered.endswith((".dvi", ".doc", ".docx", ".pdf", ".tex", ".indd"))
        or lowered in {"untitled", "microsoft word", "title", "no title", "powerpoint presentation"}
        or lowered.startswith("microsoft word - ")
    )


def _clean(text: str) -> str:
    text = _HYPHEN_BREAK.sub(r"\1\2", text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
