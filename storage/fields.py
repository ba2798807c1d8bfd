"""The fields a registration may set: their names, their camelCase spellings, their checks."""

from __future__ import annotations

import json
from typing import Any

from .errors import StoreError

BIBLIO_FIELDS = (
    "title",
    "type",
    "authors",
    "published_date",
    "publication_id",
    "summary",
    "review",
    "key_points",
    "abstract",
    "tags",
    "credibility_override",
)
"""Bibliographic fields of a resource that a registration may set."""
FETCH_FIELDS = ("needs_browser",)
"""How a resource is fetched, which a registry may say too: always in a browser."""
REGISTER_FIELDS = (*BIBLIO_FIELDS, *FETCH_FIELDS)
"""Every field a registration (a registry file, ``Store.register``) may set."""
LIST_FIELDS = frozenset({"authors", "key_points", "tags"})
"""Fields holding lists; stored as JSON arrays."""


def camel_case(name: str) -> str:
    """``published_date`` -> ``publishedDate``: the spelling of the wiki and of our JSON."""
    head, *rest = name.split("_")
    return head + "".join(word.capitalize() for word in rest)


def camel_keys(row: dict) -> dict:
    """A row with its (top-level) keys in camelCase: the one JSON style of the API and CLI."""
    return {camel_case(key): value for key, value in row.items()}


SNAKE_CASE = {camel_case(n): n for n in (*REGISTER_FIELDS, "cited_by", "stable_id")}
"""camelCase key -> field name, for every field a registry file or the API may send."""


def clean_fields(fields: dict) -> dict:
    """Registration values checked and shaped for the ``resources`` table.

    Empty values become None (which never overwrites a known value).
    """
    values: dict[str, Any] = {}
    for name, value in fields.items():
        if value is None or value == "" or value == []:
            values[name] = None
            continue
        if name in LIST_FIELDS:
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list | tuple):
                raise StoreError(f"{name} must be a list, got {type(value).__name__}")
            value = json.dumps([str(v) for v in value], ensure_ascii=False)
        elif name == "credibility_override":
            try:
                value = int(value)
            except (TypeError, ValueError, OverflowError):  # OverflowError: 1e400 is inf
                raise StoreError(f"credibility_override must be 1-5, got {value!r}") from None
            if not 1 <= value <= 5:
                raise StoreError(f"credibility_override must be 1-5, got {value!r}")
        elif name == "needs_browser":
            value = _flag(name, value)
        elif name == "published_date":
            value = str(value)[:10]
        else:
            value = str(value).strip()
        values[name] = value
    return values


_TRUE, _FALSE = ("true", "yes", "1"), ("false", "no", "0")


def _flag(name: str, value: Any) -> int:
    """A yes/no field (a YAML boolean, or a CSV cell's text) as 1 or 0."""
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return int(text in _TRUE)
    raise StoreError(f"{name} must be true or false, got {value!r}")
