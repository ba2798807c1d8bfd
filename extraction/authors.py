"""Author names: author strings cleaned into a list of names.

``clean_authors(values, site_name)`` turns what tags and bylines state ("By Kim Lee and
Sam Ng", "Rob Picheta, CNN", "jo@example.org", "Staff") into names, in order: bylines
split into people, site names, placeholders, e-mail addresses and URLs dropped, an
affiliation after a name dropped, a name in capitals put in title case. An organisation
("Institute for Fiscal Studies") is kept whole (``citation/names.py`` tells them apart,
for CSL-JSON too). Reading the names off the page is ``extraction/bylines.py``.
"""

from __future__ import annotations

import re
import unicodedata
from html import unescape

from citation.names import is_organisation

# lowercase words inside a name: particles ("Ursula von der Leyen")
_PARTICLES = frozenset(
    [
        "von",
        "van",
        "der",
        "den",
        "de",
        "del",
        "della",
        "di",
        "da",
        "du",
        "le",
        "la",
        "los",
        "las",
        "y",
        "zu",
        "bin",
        "ibn",
        "al",
        "el",
        "dos",
        "das",
    ]
)
_BY = re.compile(r"^(?:by|von|vom|par|por|di|door)\s+", re.I)
_SPLIT = re.compile(r"\s*(?:;|&|\s(?:and|und|y|et|e|i|og|en|och)\s)\s*", re.I)
# author "names" that are no person: placeholders and site roles
_PLACEHOLDERS = re.compile(
    r"^(?:admin|administrator|wordpressadmin|webmaster|staff|staff writer|guest|gast|"
    r"anonymous|anonym|unknown|by|von|par|see all|alle artikel|on|am|at|le|el|hace|the|"
    r"about|stand|montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag|januar|"
    r"februar|märz|april|mai|juni|juli|august|september|oktober|november|dezember|"
    r"no author|none|name|follow|datum|date|user|author|autor|posted|undefined|null|"
    r"gesponserte inhalte|sponsored|advertorial|mehr|more)$",
    re.I,
)
# academic degrees and job words that follow a name after a comma
_DEGREE = re.compile(r"^(?:ph\.?\s?d\.?|m\.?d\.?|msc|m\.?sc\.?|ma|mba|rd|rn|dr|prof|jr|sr)$", re.I)


def clean_authors(values: list[str], site_name: str | None = None, split: bool = True) -> list[str]:
    """Names from author strings, in order, without duplicates or non-person noise.

    ``split=False`` for sources that give one person per value (``citation_author``,
    JSON-LD Person): "Anderson, Michael L." stays one name.
    """
    names: list[str] = []
    for value in values:
        if _site_like(_tidy(value), site_name):
            continue  # "Jobs & Hire" is the site, not two people
        for name in _split(value) if split else _clean_one(value):
            name = _without_site(name, site_name)
            if name.casefold() not in (n.casefold() for n in names):
                names.append(name)
    return [n for n in names if not _site_like(n, site_name)]


def _without_site(name: str, site_name: str | None) -> str:
    """The name without the site's name after it ("Adam Aaronson PhillyVoice Staff"),
    when a full name is left: "Redacción Diario Pagina Siete" is a desk, kept whole."""
    if not site_name or " " not in name:
        return name
    words = re.sub(r"\s+(?:staff|team|redaktion)$", "", name, flags=re.I).split()
    for cut in range(len(words) - 1, 1, -1):
        if _site_like(" ".join(words[cut:]), site_name):
            return " ".join(words[:cut])
    first, site = letters(words[0]), letters(site_name)
    if len(words) > 2 and first.startswith(site) and first != site:
        return " ".join(words[1:])  # the site's role before it: "FOCUS-Online-Experte X Y"
    return name


_OBFUSCATED_AT = re.compile(r"[\[({]at[\])}]", re.I)


def _split(value: str) -> list[str]:
    value = _tidy(value)
    if ("@" in value or _OBFUSCATED_AT.search(value)) and " " not in value.strip():
        return []  # an e-mail address ("kim[at]example.org") or a handle alone
    value = re.sub(r"\s+-\s+https?://\S+$|\s+@\w+$|\s+https?://\S+$", "", value)
    if is_organisation(value):
        return [value] if _plausible(value, organisation=True) else []
    parts: list[str] = []
    for part in _SPLIT.split(value):
        # "Given Family, Given Family" lists people; "Family, Given" is one person
        parts += part.split(",") if " " in part.split(",")[0].strip() else [part]
    # a full stop ends a byline, not a name's initial ("Joe S.")
    parts = [re.sub(r"(?<=\b[^\W\d_]{2})\.$|(?<=\w{3})\.$", "", p.strip(" ,;")) for p in parts]
    kept: list[str] = []
    for part in parts:
        if not part or _DEGREE.match(part):
            continue
        if kept and (part.isupper() or part.islower()) and len(part) <= 5 and " " not in part:
            continue  # "Rob Picheta, CNN", "David Hutzler, dpa": an outlet after a name
        if _plausible(part):
            kept.append(_unshouted(part))
    return kept


def _unshouted(name: str) -> str:
    """A person's name written in capitals, in title case: "SVEN MICHAELSEN" -> "Sven
    Michaelsen", "JUAN DE LA CRUZ" -> "Juan de la Cruz"; an acronym stays ("NDR")."""
    words = name.split()
    if len(words) < 2 or not name.isupper() or is_organisation(name):
        return name
    return " ".join(
        w.lower()
        if i and w.lower() in _PARTICLES
        else "-".join(p.capitalize() for p in w.split("-"))
        for i, w in enumerate(words)
    )


def _tidy(value: str) -> str:
    """Spaces squeezed, a leading "By"/"Von" and a trailing "(www.site.com)" dropped."""
    value = _BY.sub("", " ".join(unescape(value).split()).strip(" ,;|·-–~"))
    return re.sub(r"\s*\([^)]*\)$", "", value)


def _clean_one(value: str) -> list[str]:
    value = _tidy(value)
    value = re.sub(r",\s*(?:ph\.?\s?d\.?|m\.?d\.?|msc|mba)$", "", value, flags=re.I)
    return [value] if _plausible(value, organisation=is_organisation(value)) else []


def _plausible(name: str, organisation: bool = False) -> bool:
    """A name: not a placeholder, address, URL or sentence."""
    lowered = name.casefold()
    return (
        1 < len(name) <= (120 if organisation else 60)
        and not _PLACEHOLDERS.match(name)
        and "http" not in lowered
        and "@" not in name
        and not re.fullmatch(r"[\w.-]+\.[a-z]{2,}(/\S*)?", lowered)
        and (organisation or _name_shaped(name))
    )


def _name_shaped(name: str) -> bool:
    """A user name ("jancak") or words that are capitalized or particles, no sentence."""
    words = name.split()
    lowercase = [w for w in words[1:] if w[0].islower() and w not in _PARTICLES]
    return (
        len(words) <= 5
        and not re.search(r"[!?:]", name)
        and (len(words) == 1 or (words[0][0].isupper() and len(lowercase) <= 1))
    )


def _site_like(author: str, site_name: str | None) -> bool:
    """An "author" that is really the site: a domain, or the site's name written another
    way: "ElColombiano.com" for "El Colombiano", its initials ("JF" for "JUNGE FREIHEIT";
    "Deutsche Welle" on "DW.COM"), one part of a compound site name ("Die FURCHE" in
    "Achtsam durch die Krise | Die FURCHE"), or the name with a desk's initials ("IT
    Finanzmagazin /PP")."""
    lowered = author.casefold()
    if re.fullmatch(r"[\w.-]+\.[a-z]{2,}", lowered):
        return True
    if not site_name:
        return False
    site = letters(re.sub(r"\.[a-z]{2,4}$", "", site_name.casefold()))
    spelled = letters(author)
    if not spelled or not site:
        return False
    words = re.findall(r"\w+", site_name)
    parts = [letters(p) for p in re.split(r"\s[|–—:-]\s", site_name)]
    return (
        spelled == site
        or (spelled.startswith(site) and len(spelled) - len(site) <= 3)
        or (  # the site is the author's initials: "Deutsche Welle" on "DW.COM"
            len(site) >= 2
            and len(author.split()) == len(site)
            and site == letters("".join(w[0] for w in author.split()))
        )
        or (
            len(words) >= 2
            and author.isupper()
            and spelled == letters("".join(w[0] for w in words))
        )
        or (len(parts) > 1 and spelled in parts)
    )


def letters(name: str) -> str:
    """The name's letters, lowercased, without accents, spaces or punctuation."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    return "".join(c for c in decomposed if c.isalpha())  # accents decompose to marks


def unless_person(site_name: str | None) -> str | None:
    """The site name, unless it reads as a person's name of two words or more."""
    if not site_name or is_organisation(site_name) or len(site_name.split()) < 2:
        return site_name
    return None if _name_shaped(site_name) and site_name.istitle() else site_name


_CONNECTORS = frozenset({"and", "und", "y", "et", "e", "i", "og", "en", "och"})


def capitalized(line: str) -> bool:
    """Every word of the line a capitalized name part, a particle or "and"."""
    words = [w for w in re.split(r"[\s,;&]+", line) if w]
    return bool(words) and all(
        w[0].isupper() or w in _PARTICLES or w.lower() in _CONNECTORS for w in words
    )
