"""Parse the wiki's Markdown/MDX pages: frontmatter and the sources each page cites.

A page cites a source three ways: a markdown link ``[text](https://...)``, a footnote
definition ``[^1]: [title](https://...)`` (or a bare URL in it), and an ``<R id="...">``
tag whose id is a resource id (16 hex) or a stable id (10 characters). Pure functions,
no database; :func:`wiki.scan.scan_pages` records the result in the store.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from storage.ids import looks_like_id, parse_stable_id

PAGE_SUFFIXES = (".md", ".mdx")

# The wiki's folders name what kind of page lives there: knowledge-base/risks holds
# risks. Its frontmatter `subcategory` is finer ("accident", "misuse") and is absent on
# many pages, so the "Type" column of a "Cited by" table comes from the folder.
FOLDER_TYPES = {
    "risks": "Risk",
    "models": "Model",
    "organizations": "Organization",
    "people": "Person",
    "responses": "Response",
    "capabilities": "Capability",
    "debates": "Debate",
    "history": "History",
    "forecasting": "Forecasting",
    "metrics": "Metric",
    "incidents": "Incident",
    "worldviews": "Worldview",
    "future-projections": "Future Projection",
    "cruxes": "Crux",
    "intelligence-paradigms": "Intelligence Paradigm",
    "insight-hunting": "Insight Hunting",
    "factbase": "Factbase",
    "project": "Project",
    "sources": "Source",
    "guides": "Guide",
    "tools": "Tool",
    "dashboard": "Dashboard",
    "internal": "Internal",
    "knowledge-base": "Knowledge Base",
}

_FRONTMATTER = re.compile(r"\A\ufeff?---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)
_FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.DOTALL | re.MULTILINE)
# An http(s) URL inside (...): allows one level of balanced parentheses, as in
# https://en.wikipedia.org/wiki/Foo_(bar).
_PAREN_URL = r"(https?://(?:[^\s()<>]|\([^\s()<>]*\))+)"
_LINK = re.compile(
    r"(?<!!)\[((?:[^\[\]]|\[[^\]]*\])*)\]\(\s*<?" + _PAREN_URL + r'>?(?:\s+"[^"]*")?\s*\)'
)
_AUTOLINK = re.compile(r"<(https?://[^\s<>]+)>")
_BARE_URL = re.compile(r"https?://[^\s<>\"'\]\[)]+(?:\([^\s()]*\))?[^\s<>\"'\]\[().,;:!?]*")
_FOOTNOTE = re.compile(r"^\[\^([^\]]+)\]:[ \t]*(.*)$", re.MULTILINE)
_R_TAG = re.compile(r"<R\s+[^>]*?\bid\s*=\s*(?:\{\s*)?[\"']([^\"']+)[\"']")


@dataclass(frozen=True)
class Citation:
    """One place where a page cites a source."""

    kind: str
    """``link`` | ``footnote`` | ``ref`` (an ``<R id>`` tag)."""
    target: str
    """The URL (link, footnote) or the id as written (ref)."""
    line: int
    """1-based line in the page file."""
    text: str = ""
    """The link text, when there is one."""
    label: str = ""
    """The footnote's label (``1`` for ``[^1]:``)."""

    @property
    def id_kind(self) -> str | None:
        """For a ref: ``id`` (16 hex, optionally ``kb-``), ``stable_id``, or None if neither."""
        if self.kind != "ref":
            return None
        if looks_like_id(self.target):
            return "id"
        if parse_stable_id(self.target):
            return "stable_id"
        return None


@dataclass
class Page:
    """A parsed page: its slug, frontmatter fields and citations."""

    slug: str
    path: str
    title: str
    type: str | None
    quality: float | None
    citations: list[Citation] = field(default_factory=list)
    frontmatter: dict = field(default_factory=dict)
    error: str | None = None
    """Why the frontmatter could not be read, when it could not."""


def page_slug(path: Path) -> str:
    """The file name without extension; an ``index`` page takes its folder's name."""
    if path.stem == "index" and path.parent.name:
        return path.parent.name
    return path.stem


def page_type(path: Path) -> str | None:
    """The type named by the nearest known folder above the page, else None."""
    for folder in path.parent.parts[::-1]:
        if folder in FOLDER_TYPES:
            return FOLDER_TYPES[folder]
    return None


def split_frontmatter(text: str) -> tuple[dict, str, int, str | None]:
    """``(frontmatter, body, body_first_line, error)``; a page without one gives ``{}``."""
    match = _FRONTMATTER.match(text)
    if not match:
        return {}, text, 1, None
    body_line = text.count("\n", 0, match.end()) + 1
    try:
        data = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        reason = str(exc).splitlines()[0]
        return {}, text[match.end() :], body_line, f"bad frontmatter: {reason}"
    if not isinstance(data, dict):
        return {}, text[match.end() :], body_line, "frontmatter is not a mapping"
    return data, text[match.end() :], body_line, None


def _blank_fences(body: str) -> str:
    """Code blocks hold examples, not citations: blank them, keeping line numbers."""
    return _FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), body)


def _clean_url(url: str) -> str:
    url = url.strip()
    # Trailing punctuation of the sentence, or an unbalanced closing parenthesis.
    while (
        url and url[-1] in ".,;:!?'\"*_" or (url.endswith(")") and url.count("(") < url.count(")"))
    ):
        url = url[:-1]
    return url


def find_citations(body: str, first_line: int = 1) -> list[Citation]:
    """Every citation in a page body, in order of appearance."""
    body = _blank_fences(body)
    found: list[tuple[int, Citation]] = []

    def line_of(pos: int) -> int:
        return first_line + body.count("\n", 0, pos)

    footnote_spans = []
    for match in _FOOTNOTE.finditer(body):
        footnote_spans.append(match.span())
        label, rest = match.group(1), match.group(2)
        links = [(m.group(2), m.group(1).strip()) for m in _LINK.finditer(rest)]
        if not links:
            links = [(url, "") for url in _AUTOLINK.findall(rest) or _BARE_URL.findall(rest)]
        for url, text in links:
            citation = Citation("footnote", _clean_url(url), line_of(match.start()), text, label)
            found.append((match.start(), citation))

    def in_footnote(pos: int) -> bool:
        return any(start <= pos < end for start, end in footnote_spans)

    for match in _LINK.finditer(body):
        if not in_footnote(match.start()):
            found.append(
                (
                    match.start(),
                    Citation(
                        "link",
                        _clean_url(match.group(2)),
                        line_of(match.start()),
                        match.group(1).strip(),
                    ),
                )
            )
    for match in _AUTOLINK.finditer(body):
        if not in_footnote(match.start()):
            found.append(
                (
                    match.start(),
                    Citation("link", _clean_url(match.group(1)), line_of(match.start())),
                )
            )
    for match in _R_TAG.finditer(body):
        found.append(
            (match.start(), Citation("ref", match.group(1).strip(), line_of(match.start())))
        )
    found.sort(key=lambda item: item[0])
    return [citation for _, citation in found]


def _quality(value) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def parse_page(path: Path, text: str | None = None) -> Page:
    """Read one page file (or ``text`` given for it)."""
    path = Path(path)
    if text is None:
        text = path.read_text(encoding="utf-8", errors="replace")
    frontmatter, body, first_line, error = split_frontmatter(text)
    slug = page_slug(path)
    title = frontmatter.get("title")
    return Page(
        slug=slug,
        path=str(path),
        title=str(title).strip() if title else slug,
        type=page_type(path),
        quality=_quality(frontmatter.get("quality")),
        citations=find_citations(body, first_line),
        frontmatter=frontmatter,
        error=error,
    )


def iter_page_files(root: Path) -> list[Path]:
    """Markdown and MDX files under ``root``, sorted, hidden folders skipped."""
    root = Path(root)
    if root.is_file():
        return [root]
    return sorted(
        p
        for p in root.rglob("*")
        if p.suffix in PAGE_SUFFIXES
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )
