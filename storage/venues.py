"""Publication venues: which venue a URL belongs to, and what its credibility means."""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources as package_files
from urllib.parse import urlsplit

import yaml

from .ids import host_of

CREDIBILITY_LEVELS = {
    5: "Gold standard. Rigorous peer review, high editorial standards, and strong "
    "institutional reputation.",
    4: "High quality. Established institution or organization with editorial oversight "
    "and accountability.",
    3: "Good quality. Reputable source with generally reliable content and some editorial review.",
    2: "Mixed quality. Some useful content but inconsistent editorial standards. "
    "Claims should be verified.",
    1: "Low quality. Unvetted or promotional content. Use with caution and verify independently.",
}


class InvalidVenue(ValueError):
    """A venue record lacks a field or has a value out of range."""


def bundled_publications() -> list[dict]:
    """The venues that ship with citecache: the wiki's 79 plus blog platforms."""
    text = package_files.files("storage").joinpath("data/publications.yaml").read_text("utf-8")
    return [clean_venue(v) for v in yaml.safe_load(text)]


def clean_venue(record: dict) -> dict:
    """A venue record checked and shaped for the ``publications`` table."""
    if not isinstance(record, dict):
        raise InvalidVenue(f"a venue must be a mapping, got {type(record).__name__}")
    missing = [k for k in ("id", "name", "domains") if not record.get(k)]
    if missing:
        raise InvalidVenue(f"venue {record.get('id')!r} lacks {', '.join(missing)}")
    domains = record["domains"]
    if isinstance(domains, str):
        domains = [domains]
    credibility = record.get("credibility")
    if credibility is not None and (not isinstance(credibility, int) or not 1 <= credibility <= 5):
        raise InvalidVenue(f"venue {record['id']!r}: credibility must be 1-5, got {credibility!r}")
    peer = record.get("peer_reviewed")
    return {
        "id": str(record["id"]),
        "name": str(record["name"]),
        "domains": [str(d).lower().removeprefix("www.") for d in domains],
        "type": record.get("type"),
        "credibility": credibility,
        "peer_reviewed": None if peer is None else int(bool(peer)),
        "description": record.get("description"),
    }


class VenueMatcher:
    """Finds a URL's venue: exact host without ``www.``, then the longest domain suffix.

    A domain entry may carry a path (``nature.com/articles``); it then matches only
    URLs under that path, and counts as longer than the bare host.
    """

    def __init__(self, venues: Iterable[dict]):
        self._by_host: dict[str, str] = {}
        self._by_path: dict[str, list[tuple[str, str]]] = {}
        self.ids: set[str] = set()
        for venue in venues:
            self.ids.add(venue["id"])
            for domain in venue["domains"]:
                host, slash, path = domain.partition("/")
                if slash:
                    prefixes = self._by_path.setdefault(host, [])
                    prefixes.append(("/" + path.rstrip("/"), venue["id"]))
                    prefixes.sort(key=lambda p: -len(p[0]))
                else:
                    # The first venue to claim a domain keeps it, as in the table's order.
                    self._by_host.setdefault(host, venue["id"])

    def venue_of(self, url: str, publication_id: str | None) -> str | None:
        """The venue a card shows: the resource's own publication if it names a known
        venue, else the one its URL matches."""
        if publication_id in self.ids:
            return publication_id
        return self.match(url)

    def match(self, url: str) -> str | None:
        host = host_of(url)
        path = urlsplit(url).path
        labels = host.split(".")
        # The host itself, then ever shorter suffixes that still hold a dot.
        for i in range(len(labels) - 1):
            candidate = ".".join(labels[i:])
            for prefix, venue_id in self._by_path.get(candidate, ()):
                if path == prefix or path.startswith(prefix + "/"):
                    return venue_id
            if candidate in self._by_host:
                return self._by_host[candidate]
        return None
