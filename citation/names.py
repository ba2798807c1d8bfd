"""Kinds of author names: a person's or an organisation's."""

from __future__ import annotations

import re

# words that make a name an organisation: it is kept whole, never split into people
_ORGANISATION = re.compile(
    r"\b(?:institut\w*|institute|university|universität|université|universidad|college|"
    r"school|academy|akademie|agency|agentur|agence|agencia|association|verband|verein|"
    r"society|gesellschaft|foundation|stiftung|fondation|fundación|council|committee|"
    r"commission|kommission|ministry|ministerium|ministère|department|office|amt|bureau|"
    r"centre|center|zentrum|group|gruppe|team|company|corporation|inc|ltd|llc|gmbh|ag|"
    r"e\.\s?v|s\.a|press|presse|news|media|redaktion|editorial|board|network|partei|party|"
    r"organi[sz]ation|bank|trust|service|services|laboratory|labor|project|projekt|"
    r"world health|united nations|european|bundes\w*|nationale?s?|protection|customs|police|"
    r"polizei|government|regierung|administration)\b",
    re.I,
)


def is_organisation(name: str) -> bool:
    """Whether ``name`` reads as an organisation ("Institute for X", "Acme GmbH")."""
    return bool(_ORGANISATION.search(name))
