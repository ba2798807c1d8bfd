"""A CSL-JSON item as a BibTeX entry."""

from __future__ import annotations

import re
from typing import Any

# CSL type -> BibTeX entry type (biblatex's @online where BibTeX has @misc)
BIBTEX_TYPES = {
    "article-journal": "article",
    "article-newspaper": "article",
    "article-magazine": "article",
    "book": "book",
    "report": "techreport",
    "paper-conference": "inproceedings",
    "thesis": "phdthesis",
}
# characters with a meaning in (La)TeX, escaped in field values
_SPECIAL = re.compile(r"([&%$#_{}~^\\])")
_ESCAPES = {"~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}"}


def bibtex_entry(item: dict[str, Any]) -> str:
    """The ``@type{key, field = {value}, ...}`` entry of a CSL-JSON item."""
    entry_type = BIBTEX_TYPES.get(item.get("type", ""), "misc")
    fields: list[tuple[str, str]] = [("title", _braced_title(item.get("title", "")))]
    if item.get("author"):
        fields.append(("author", " and ".join(_bibtex_name(n) for n in item["author"])))
    year_parts = (item.get("issued") or {}).get("date-parts", [[]])[0]
    if year_parts:
        fields.append(("year", str(year_parts[0])))
        if len(year_parts) > 1:
            fields.append(("month", str(year_parts[1])))
    container = item.get("container-title")
    if container:
        name = "journal" if entry_type == "article" else "howpublished"
        fields.append((name, _escape(container)))
    for csl_key, bib_key in (("DOI", "doi"), ("ISBN", "isbn"), ("PMID", "pmid")):
        if item.get(csl_key):
            fields.append((bib_key, _escape(item[csl_key])))
    if str(item.get("number", "")).startswith("arXiv:"):
        fields += [("eprint", item["number"][6:]), ("archiveprefix", "arXiv")]
    fields.append(("url", item["URL"]))
    accessed = (item.get("accessed") or {}).get("date-parts", [[]])[0]
    if accessed:
        fields.append(("urldate", "-".join(f"{p:02d}" for p in accessed)))
    if item.get("language"):
        fields.append(("language", item["language"]))
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
    return f"@{entry_type}{{{citation_key(item)},\n{body}\n}}\n"


def citation_key(item: dict[str, Any]) -> str:
    """``family + year + first title word``, ASCII letters and digits only; else the id."""
    first = (item.get("author") or [{}])[0]
    family = first.get("family") or first.get("literal") or ""
    year = (item.get("issued") or {}).get("date-parts", [[""]])[0][:1]
    word = next((w for w in re.findall(r"\w+", item.get("title", "")) if len(w) > 3), "")
    key = re.sub(
        r"[^A-Za-z0-9]", "", f"{family.split()[0] if family else ''}{''.join(map(str, year))}{word}"
    )
    return (
        key.lower() if len(key) > 3 else f"citecache{re.sub(r'[^A-Za-z0-9]', '', str(item['id']))}"
    )


def _bibtex_name(name: dict[str, str]) -> str:
    if "literal" in name:
        return "{" + _escape(name["literal"]) + "}"  # braces: not split into first/last
    family = _escape(name.get("family", ""))
    given = _escape(name.get("given", ""))
    suffix = _escape(name.get("suffix", ""))
    return ", ".join(p for p in (family, suffix, given) if p) if suffix else f"{family}, {given}"


def _braced_title(title: str) -> str:
    """The title escaped, in braces so that styles keep its capitals."""
    return "{" + _escape(title) + "}"


def _escape(value: str) -> str:
    return _SPECIAL.sub(lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), str(value))
