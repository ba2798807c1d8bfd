"""Scholarly identifiers: find, normalize and validate DOI, arXiv id, ISBN and PubMed id.

Each ``normalize_*`` takes what a page states (a bare id, a resolver URL, an id with a
prefix like ``doi:`` or ``arXiv:``) and returns the id in its canonical form, or None
when it is not a valid id. ``find_*`` look for one in free text (a PDF's first page).
"""

from __future__ import annotations

import re
from urllib.parse import unquote

# DOI syntax (Crossref's recommended pattern): "10." + a registrant code of 4-9 digits
# (sub-codes after dots allowed) + "/" + a suffix of printable characters.
# "&", "?" and "#" end it: in a URL they start the query or fragment.
_DOI = re.compile(r"\b(10\.\d{4,9}(?:\.\d+)*/[^\s\"'<>&?#]+)", re.I)
_DOI_PREFIX = re.compile(
    r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*|info:doi/|urn:doi:|https?://[^/]+/doi/(?:abs/|full/|pdf/)?)",
    re.I,
)
# a sentence ends after an id: its full stop, comma or closing bracket is not part of it
_DOI_TAIL = re.compile(r"[.,;:)\]}>]+$")
# new style (April 2007 on): YYMM.NNNN (to 2014) or YYMM.NNNNN, optional version
_ARXIV_NEW = re.compile(r"^(\d{2}(0[1-9]|1[0-2])\.\d{4,5})(v\d+)?$")
# old style: archive[.SUBJECT]/YYMMNNN, e.g. hep-th/9901001, math.GT/0309136
_ARXIV_OLD = re.compile(r"^([a-z]+(?:-[a-z]+)?(?:\.[A-Z]{2})?/\d{2}(?:0[1-9]|1[0-2])\d{3})(v\d+)?$")
_ARXIV_PREFIX = re.compile(
    r"^(?:arxiv:|https?://(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|html)/)", re.I
)
ARXIV_IN_TEXT = re.compile(
    r"arxiv(?:\.org/(?:abs|pdf|html)/|:\s*)"
    r"(\d{4}\.\d{4,5}(?:v\d+)?|[a-z]+(?:-[a-z]+)?(?:\.[A-Z]{2})?/\d{7}(?:v\d+)?)",
    re.I,
)
_ISBN_IN_TEXT = re.compile(r"\bISBN(?:-1[03])?:?\s*((?:97[89][-\s]?)?(?:\d[-\s]?){9}[\dXx])\b")
_PMID_IN_TEXT = re.compile(r"\bPMID:?\s*(\d{1,8})\b")
_PUBMED_URL = re.compile(r"(?:ncbi\.nlm\.nih\.gov/pubmed/|pubmed\.ncbi\.nlm\.nih\.gov/)(\d{1,8})")


def normalize_doi(value: str | None) -> str | None:
    """``10.1000/xyz`` from a bare DOI, ``doi:...`` or a resolver URL, in the case given (DOIs
    compare case-insensitively); None when it is not DOI syntax."""
    if not value:
        return None
    value = _DOI_PREFIX.sub("", unquote(value.strip()))
    match = _DOI.match(value)
    if not match:
        return None
    doi = _DOI_TAIL.sub("", match.group(1))
    # "/doi/10.1/x/full" style links: the DOI ends at the next path word of the site
    doi = re.sub(r"/(?:full|abstract|pdf|epdf|html)$", "", doi, flags=re.I)
    return doi if "/" in doi and not doi.endswith("/") else None


def find_doi(text: str) -> str | None:
    """The first valid DOI in ``text``."""
    for match in _DOI.finditer(text):
        doi = normalize_doi(match.group(1))
        if doi:
            return doi
    return None


def normalize_arxiv(value: str | None) -> str | None:
    """An arXiv id, new (``2101.00001v2``) or old (``hep-th/9901001``) form, from a bare
    id, ``arXiv:...`` or an abs/pdf URL; None when it is neither form."""
    if not value:
        return None
    value = _ARXIV_PREFIX.sub("", value.strip()).removesuffix(".pdf")
    if _ARXIV_NEW.match(value):
        return value
    match = _ARXIV_OLD.match(value)
    return value if match else None


def find_arxiv(text: str) -> str | None:
    """The first arXiv id in ``text`` that says it is one (``arXiv:`` or an arxiv.org link)."""
    for match in ARXIV_IN_TEXT.finditer(text):
        arxiv_id = normalize_arxiv(match.group(1))
        if arxiv_id:
            return arxiv_id
    return None


def normalize_isbn(value: str | None) -> str | None:
    """An ISBN as 13 digits (an ISBN-10 is converted), when its check digit is right."""
    if not value:
        return None
    digits = re.sub(r"[-\s]|^isbn(?:-1[03])?:?", "", value.strip(), flags=re.I).upper()
    if re.fullmatch(r"\d{9}[\dX]", digits):
        if sum((10 - i) * (10 if c == "X" else int(c)) for i, c in enumerate(digits)) % 11:
            return None
        digits = "978" + digits[:9]
        return digits + _isbn13_check(digits)
    if re.fullmatch(r"97[89]\d{10}", digits) and _isbn13_check(digits[:12]) == digits[12]:
        return digits
    return None


def _isbn13_check(first12: str) -> str:
    total = sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(first12))
    return str((10 - total % 10) % 10)


def find_isbn(text: str) -> str | None:
    """The first ISBN in ``text`` labelled "ISBN" whose check digit is right."""
    for match in _ISBN_IN_TEXT.finditer(text):
        isbn = normalize_isbn(match.group(1))
        if isbn:
            return isbn
    return None


def normalize_pmid(value: str | None) -> str | None:
    """A PubMed id (1 to 8 digits, no leading zero) from a bare id, ``PMID: ...`` or a
    PubMed URL."""
    if not value:
        return None
    value = value.strip()
    match = _PUBMED_URL.search(value) or re.fullmatch(r"(?:PMID:?\s*)?(\d{1,8})", value, re.I)
    if not match or match.group(1).startswith("0"):
        return None
    return match.group(1)


def find_pmid(text: str) -> str | None:
    """The first PubMed id in ``text``, labelled "PMID" or as a PubMed link."""
    match = _PMID_IN_TEXT.search(text) or _PUBMED_URL.search(text)
    return normalize_pmid(match.group(1)) if match else None
