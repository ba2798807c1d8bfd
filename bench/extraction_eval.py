"""Score main-text extractors on the judged dev set and on the repo's own fixtures.

Usage::

    python bench/extraction_eval.py [--devset PATH] [--limit N] [--candidates a,b,...]

Each judged page lists snippets that must appear in the main text ("with") and
snippets that must not ("without"). A "with" hit is a true positive, a miss a false
negative; a "without" hit is a false positive (see ../shared/devsets/README.md).
Precision, recall and F1 are computed over all snippets of all pages; pages/s is the
extraction throughput on one core (single process, wall clock around extraction only).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tarfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DEVSET = REPO.parent / "shared" / "devsets" / "trafilatura-eval.tar.gz"
FIXTURES = REPO / "tests" / "pages" / "extraction"
_SPACES = re.compile(r"\s+")
META_FIELDS = ("title", "date", "author", "identifier")
IDENTIFIERS = Path(__file__).resolve().parent / "identifiers.json"
"""Identifiers judged by hand for the dev set; a page not listed states none of its own."""
ID_FIELDS = ("doi", "arxiv_id", "isbn", "pmid")


@dataclass
class Page:
    """One judged page: its URL, raw bytes and the snippets that must (not) appear."""

    url: str
    name: str
    content: bytes
    with_: list[str]
    without: list[str]
    meta: dict = field(default_factory=dict)
    """Judged metadata where the set has it: title, date (YYYY-MM-DD), author ("A; B");
    identifier (a dict of doi, arxiv_id, isbn, pmid) on every page."""


@dataclass
class Score:
    """Snippet counts for one candidate over a set of pages."""

    tp: int = 0
    fn: int = 0
    fp: int = 0
    tn: int = 0
    seconds: float = 0.0
    pages: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def pages_per_second(self) -> float:
        return self.pages / self.seconds if self.seconds else 0.0

    def add(self, text: str, page: Page) -> None:
        """Count the snippets of ``page`` found in ``text`` (whitespace-normalized)."""
        text = _SPACES.sub(" ", text or "")
        for snippet in page.with_:
            if _SPACES.sub(" ", snippet) in text:
                self.tp += 1
            else:
                self.fn += 1
        for snippet in page.without:
            if _SPACES.sub(" ", snippet) in text:
                self.fp += 1
            else:
                self.tn += 1


def load_devset(path: Path = DEFAULT_DEVSET, names: Iterable[str] | None = None) -> list[Page]:
    """Read judged pages from the tarball (``eval/*`` plus ``evaldata.json``), sorted by URL.

    Entries whose file is missing are skipped; ``names`` restricts to those file names.
    """
    wanted = set(names) if names is not None else None
    judged_ids = json.loads(IDENTIFIERS.read_text(encoding="utf-8"))["pages"]
    files: dict[str, bytes] = {}
    judged: dict = {}
    # one sequential pass: random access into a .tar.gz re-inflates from the start each time
    with tarfile.open(path, "r:gz") as tar:
        for member in tar:
            if not member.isfile():
                continue
            name = Path(member.name).name
            if name == "evaldata.json":
                judged = json.load(tar.extractfile(member))  # type: ignore[arg-type]
            elif wanted is None or name in wanted:
                files[name] = tar.extractfile(member).read()  # type: ignore[union-attr]
    return [
        Page(
            url,
            entry["file"],
            files[entry["file"]],
            entry["with"],
            entry["without"],
            {k: entry[k] for k in META_FIELDS if entry.get(k)}
            | {"identifier": judged_ids.get(url, {})},
        )
        for url, entry in sorted(judged.items())
        if entry["file"] in files
    ]


def load_fixtures(directory: Path = FIXTURES) -> list[Page]:
    """Read the repo's saved pages: ``expected.json`` maps file name to url/with/without."""
    expected_file = directory / "expected.json"
    if not expected_file.exists():
        return []
    expected = json.loads(expected_file.read_text())
    return [
        Page(
            e["url"], name, (directory / name).read_bytes(), e.get("with", []), e.get("without", [])
        )
        for name, e in sorted(expected.items())
    ]


def _citecache(content: bytes, url: str) -> str:
    from extraction import extract

    return extract(content, url).text


def _trafilatura(content: bytes, url: str) -> str:
    import trafilatura

    # the settings of trafilatura's own benchmark: defaults, comments left out
    return trafilatura.extract(content, url=url, include_comments=False) or ""


def _trafilatura_precision(content: bytes, url: str) -> str:
    import trafilatura

    return trafilatura.extract(content, url=url, include_comments=False, favor_precision=True) or ""


def _readability(content: bytes, url: str) -> str:
    from readability import Document
    from trafilatura import html2txt
    from trafilatura.utils import decode_file

    try:
        return html2txt(Document(decode_file(content), url=url).summary()) or ""
    except Exception:  # readability raises on empty or odd documents
        return ""


CANDIDATES: dict[str, Callable[[bytes, str], str]] = {
    "citecache": _citecache,
    "trafilatura": _trafilatura,
    "trafilatura-precision": _trafilatura_precision,
    "readability-lxml": _readability,
}


def _meta_citecache(content: bytes, url: str) -> dict:
    from extraction import extract

    result = extract(content, url)
    return {
        "title": result.title,
        "date": result.published,
        "author": "; ".join(result.authors),
        "identifier": {k: getattr(result, k) for k in ID_FIELDS if getattr(result, k)},
    }


def _meta_trafilatura(content: bytes, url: str) -> dict:
    import trafilatura

    doc = trafilatura.bare_extraction(content, url=url, with_metadata=True, include_comments=False)
    if doc is None:
        return {"identifier": {}}
    # trafilatura extracts no identifiers: it scores on the pages that state none
    return {"title": doc.title, "date": doc.date, "author": doc.author, "identifier": {}}


META_CANDIDATES: dict[str, Callable[[bytes, str], dict]] = {
    "citecache": _meta_citecache,
    "trafilatura": _meta_trafilatura,
}


def _norm(field_name: str, value: str | list[str] | dict | None) -> object:
    if isinstance(value, dict):  # identifiers; DOIs compare case-insensitively
        return frozenset((k, str(v).casefold()) for k, v in value.items() if v)
    if isinstance(value, list):  # a few judged entries list several authors
        value = "; ".join(value)
    value = _SPACES.sub(" ", value or "").strip().casefold()
    if field_name == "author":
        return frozenset(a.strip() for a in re.split(r";|,| and | und ", value) if a.strip())
    return value


def evaluate_metadata(
    candidate: Callable[[bytes, str], dict], pages: list[Page], accepted: set | None = None
) -> dict[str, tuple[int, int]]:
    """Per field: (exact matches, judged pages) after case and whitespace normalization.

    With ``accepted`` (see ``judged_values_the_rules_accept``), also per field under the
    key ``"<field> accepted"``: the same counted on those (page URL, field) pairs only.
    """
    counts = {f: [0, 0] for f in META_FIELDS}
    kept = {f: [0, 0] for f in ACCEPTANCE_FIELDS}
    stated = [0, 0]
    for page in pages:
        found = candidate(page.content, page.url)
        for name, expected in page.meta.items():
            right = _norm(name, found.get(name)) == _norm(name, expected)
            counts[name][1] += 1
            counts[name][0] += right
            if accepted is not None and (page.url, name) in accepted:
                kept[name][1] += 1
                kept[name][0] += right
            if name == "identifier" and expected:
                stated[1] += 1
                stated[0] += right
    result = {f: (c[0], c[1]) for f, c in counts.items()}
    result["identifier stated"] = (stated[0], stated[1])
    result |= {f"{f} accepted": (c[0], c[1]) for f, c in kept.items()}
    return result


# fields whose judged values are checked against the issue's own rules
ACCEPTANCE_FIELDS = ("date", "author")


def judged_values_the_rules_accept(pages: list[Page]) -> set[tuple[str, str]]:
    """(page URL, field) pairs whose judged value citecache's rules would accept as
    output: a date that is a valid calendar date and not the page's stated modification
    date where its tags state another publication date, authors that ``clean_authors`` keeps
    whole (people and organisations, not the site's own name, a placeholder such as
    "Staff Writer" or "Unknown", an agency code such as "dpa/lno"). The dev set's judges
    chose the others against rules the citation output follows on purpose."""
    from extraction.authors import clean_authors
    from extraction.charset import decode_html
    from extraction.dates import iso_date
    from extraction.metadata import page_metadata
    from extraction.pipeline import _parse

    accepted = set()
    for page in pages:
        tree = _parse(decode_html(page.content)[0])
        meta = page_metadata(tree, page.url) if tree is not None else None
        judged_date = page.meta.get("date")
        if judged_date and iso_date(judged_date) == judged_date:
            published = meta.published if meta else None  # the tags' publication date
            chose_modified = judged_date in _stated_modification_dates(page.content)
            if not (chose_modified and published and published != judged_date):
                accepted.add((page.url, "date"))
        if "author" in page.meta:
            site = meta.site_name if meta else None
            judged = page.meta["author"]
            values = judged if isinstance(judged, list) else [judged]
            if _norm("author", clean_authors(values, site)) == _norm("author", judged):
                accepted.add((page.url, "author"))
    return accepted


# modification dates stated in tags: JSON-LD dateModified, article:modified_time,
# og:updated_time, itemprop=dateModified
_MODIFIED = re.compile(
    rb'(?:"dateModified"\s*:\s*"|(?:modified_time|updated_time|dateModified)"?\s+content="?)'
    rb"(\d{4}-\d{2}-\d{2})"
)


def _stated_modification_dates(content: bytes) -> set[str]:
    return {m.group(1).decode() for m in _MODIFIED.finditer(content)}


def _cell(count: tuple[int, int]) -> str:
    right, judged = count
    return f"{right / judged:>6.3f} ({judged:>4})" if judged else f"{'-':>14}"


def evaluate(candidate: Callable[[bytes, str], str], pages: list[Page]) -> Score:
    """Run ``candidate`` on every page and count snippet hits and misses."""
    score = Score()
    for page in pages:
        start = time.perf_counter()
        text = candidate(page.content, page.url)
        score.seconds += time.perf_counter() - start
        score.pages += 1
        score.add(text, page)
    return score


def _bare_extraction(content: bytes, url: str) -> object:
    import trafilatura

    return trafilatura.bare_extraction(content, url=url)


def cpu_cost(pages: list[Page]) -> tuple[float, float]:
    """CPU ms per page of citecache and of plain ``trafilatura.bare_extraction`` (defaults).

    The two run interleaved page by page, so load from other processes hits both alike.
    """
    ours = base = 0.0
    for page in pages:
        start = time.process_time()
        _citecache(page.content, page.url)
        middle = time.process_time()
        _bare_extraction(page.content, page.url)
        ours += middle - start
        base += time.process_time() - middle
    return 1000 * ours / len(pages), 1000 * base / len(pages)


def print_table(title: str, scores: dict[str, Score]) -> None:
    """Print one row per candidate: precision, recall, F1, pages/s."""
    print(f"\n{title}")
    print(f"{'candidate':<22} {'precision':>9} {'recall':>7} {'F1':>7} {'pages/s':>8}")
    for name, s in scores.items():
        print(
            f"{name:<22} {s.precision:>9.4f} {s.recall:>7.4f} {s.f1:>7.4f} "
            f"{s.pages_per_second:>8.1f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devset", type=Path, default=DEFAULT_DEVSET)
    parser.add_argument("--limit", type=int, default=0, help="only the first N dev pages")
    parser.add_argument(
        "--candidates",
        default="citecache,trafilatura,readability-lxml",
        help=f"comma-separated, from: {', '.join(CANDIDATES)}",
    )
    parser.add_argument(
        "--metadata",
        action="store_true",
        help="also score title, date and author against the judged values",
    )
    parser.add_argument(
        "--cost",
        action="store_true",
        help="also compare CPU time per page with trafilatura.bare_extraction",
    )
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    names = args.candidates.split(",")
    unknown = [n for n in names if n not in CANDIDATES]
    if unknown:
        parser.error(f"unknown candidate(s): {', '.join(unknown)}")

    if args.devset.exists():
        pages = load_devset(args.devset)
        if args.limit:
            pages = pages[: args.limit]
        for name in names:  # warm up imports and caches outside the timed loop
            CANDIDATES[name](pages[0].content, pages[0].url)
        scores = {n: evaluate(CANDIDATES[n], pages) for n in names}
        print_table(f"dev set: {len(pages)} pages ({args.devset.name})", scores)
        if args.cost:
            ours, base = cpu_cost(pages)
            print(
                f"\nCPU per page: citecache {ours:.1f} ms, trafilatura.bare_extraction "
                f"{base:.1f} ms, ratio {ours / base:.2f}"
            )
        if args.metadata:
            accepted = judged_values_the_rules_accept(pages)
            print("\nmetadata: exact matches / judged pages")
            print(f"{'candidate':<22} " + " ".join(f"{f:>14}" for f in META_FIELDS))
            kept_rows = []
            for name, func in META_CANDIDATES.items():
                counts = evaluate_metadata(func, pages, accepted)
                stated = counts.pop("identifier stated")
                kept = [counts.pop(f"{f} accepted") for f in ACCEPTANCE_FIELDS]
                cells = " ".join(_cell(c) for c in counts.values())
                print(f"{name:<22} {cells}   pages stating one: {stated[0]}/{stated[1]}")
                kept_rows.append(f"{name:<22} " + " ".join(_cell(c) for c in kept))
            print(
                "\nthe same on judged values the rules accept (a valid date, not a stated"
                " modification date\nwhere the tags state another publication date; people or"
                " organisations, not the site's\nname, a placeholder or an agency code)"
            )
            print(f"{'candidate':<22} " + " ".join(f"{f:>14}" for f in ACCEPTANCE_FIELDS))
            print("\n".join(kept_rows))
    else:
        print(f"dev set not found: {args.devset}", file=sys.stderr)
    fixtures = load_fixtures()
    if fixtures:
        scores = {n: evaluate(CANDIDATES[n], fixtures) for n in names}
        print_table(f"repo fixtures: {len(fixtures)} pages (tests/pages/extraction)", scores)
    return 0


if __name__ == "__main__":
    sys.exit(main())
