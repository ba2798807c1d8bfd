"""Read registry files (YAML, JSON, JSON lines, CSV, or one URL per line) into records.

Each record comes with where it was found (``file:line``) so that a bad one can be
reported precisely while the rest is imported.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path

import yaml

from .fields import LIST_FIELDS, SNAKE_CASE

CSV_LIST_SEPARATOR = ";"
TOO_DEEP = "nested too deeply"


class RegistryFileError(ValueError):
    """The file as a whole cannot be read (not its single records)."""


class NoAliasLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """A safe YAML loader that refuses aliases: a few hundred bytes of nested aliases
    expand to gigabytes (a "billion laughs"), and our files have no use for them."""

    def construct_object(self, node, deep=False):
        if node in self.constructed_objects or node in self.recursive_objects:
            raise yaml.constructor.ConstructorError(
                None, None, "aliases (*name) are not accepted", node.start_mark
            )
        return super().construct_object(node, deep=deep)


class _LineLoader(NoAliasLoader):
    """The registry's loader: it also remembers the line each mapping starts on."""

    def construct_mapping(self, node, deep=False):
        mapping = super().construct_mapping(node, deep=deep)
        mapping["__line__"] = node.start_mark.line + 1
        return mapping


def read_records(path: str | Path) -> Iterator[tuple[str, dict]]:
    """Yield ``(where, record)`` for every record of the file, by its format."""
    path = Path(path)
    if not path.is_file():
        raise RegistryFileError(f"no such file: {path}")
    suffix = path.suffix.lower()
    if suffix not in (".yaml", ".yml", ".json", ".csv"):  # a line at a time, however long
        lines = _lines(path)
        if suffix in (".jsonl", ".ndjson"):
            yield from _jsonl_records(path.name, lines)
        else:
            yield from _line_records(path.name, lines)
        return
    try:
        text = path.read_text("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RegistryFileError(
            f"{path.name}: not UTF-8 (bad byte at offset {exc.start}); "
            "save it as UTF-8 and import again"
        ) from None
    if suffix in (".yaml", ".yml"):
        yield from _yaml_records(path.name, text)
    elif suffix == ".json":
        yield from _json_records(path.name, text)
    else:
        yield from _csv_records(path.name, text)


def _lines(path: Path) -> Iterator[str]:
    """The file's lines, read as they are needed (a URL list may hold millions)."""
    with path.open(encoding="utf-8-sig") as file:
        try:
            yield from file
        except UnicodeDecodeError:
            raise RegistryFileError(
                f"{path.name}: not UTF-8; save it as UTF-8 and import again"
            ) from None


def _normalize(record: dict) -> dict:
    return {SNAKE_CASE.get(k, k): v for k, v in record.items()}


def _yaml_records(name: str, text: str) -> Iterator[tuple[str, dict]]:
    try:
        data = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a safe loader subclass
    except yaml.YAMLError as exc:
        raise _yaml_error(name, exc) from None
    except RecursionError:
        raise RegistryFileError(f"{name}: not valid YAML: {TOO_DEEP}") from None
    if isinstance(data, dict):
        data = data.get("resources", [data])
    if not isinstance(data, list):
        raise RegistryFileError(f"{name}: expected a list of resources")
    for index, item in enumerate(data, 1):
        if not isinstance(item, dict):
            yield f"{name}: item {index}", {"url": item if isinstance(item, str) else None}
            continue
        where = f"{name}:{item.pop('__line__', None)}"
        try:
            item = {k: _strip_lines(v) for k, v in item.items()}
        except RecursionError:
            yield where, {"url": None, "_error": TOO_DEEP}
            continue
        yield where, _normalize(item)


def _yaml_error(name: str, exc: yaml.YAMLError) -> RegistryFileError:
    """One line naming the file and line (PyYAML's own message names "<unicode string>")."""
    mark = getattr(exc, "problem_mark", None)
    where = f"{name}:{mark.line + 1}" if mark else name
    parts = [getattr(exc, "context", None), getattr(exc, "problem", None)]
    what = "; ".join(str(p) for p in parts if p) or str(exc)
    return RegistryFileError(f"{where}: not valid YAML: {what}")


def _strip_lines(value):
    if isinstance(value, dict):
        return {k: _strip_lines(v) for k, v in value.items() if k != "__line__"}
    if isinstance(value, list):
        return [_strip_lines(v) for v in value]
    return value


def _json_records(name: str, text: str) -> Iterator[tuple[str, dict]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RegistryFileError(
            f"{name}:{exc.lineno}: not valid JSON: {exc.msg} (column {exc.colno})"
        ) from None
    except RecursionError:
        data = _array_items_one_by_one(name, text)
    if isinstance(data, dict):
        data = data.get("resources", [data])
    if not isinstance(data, list):
        raise RegistryFileError(f"{name}: expected a JSON array of resources")
    for index, item in enumerate(data, 1):
        if item is _TOO_DEEP_ITEM:
            yield f"{name}: item {index}", {"url": None, "_error": TOO_DEEP}
            continue
        if isinstance(item, str):
            item = {"url": item}
        if not isinstance(item, dict):
            yield f"{name}: item {index}", {"url": None}
            continue
        yield f"{name}: item {index}", _normalize(item)


_TOO_DEEP_ITEM = object()
"""Stands for an array item nested too deeply to decode: an error of that item alone."""


def _array_items_one_by_one(name: str, text: str) -> list:
    """The items of a JSON array too deep to decode whole, each decoded alone; an item
    too deep itself is skipped to its end and kept as ``_TOO_DEEP_ITEM``. Decoded to
    the end before any is imported, so a broken file still imports nothing."""
    decoder = json.JSONDecoder()
    start = len(text) - len(text.lstrip())
    if not text.startswith("[", start):  # a top-level object: no items to tell apart
        raise RegistryFileError(f"{name}: not valid JSON: {TOO_DEEP}")
    items: list = []
    at = _skip_space(text, start + 1)
    try:
        while text[at] != "]":
            try:
                item, at = decoder.raw_decode(text, at)
            except RecursionError:
                item, at = _TOO_DEEP_ITEM, _end_of_value(text, at)
            items.append(item)
            at = _skip_space(text, at)
            if text[at] == ",":
                at = _skip_space(text, at + 1)
            elif text[at] != "]":
                raise json.JSONDecodeError("Expecting ',' delimiter", text, at)
    except json.JSONDecodeError as exc:
        raise RegistryFileError(
            f"{name}:{exc.lineno}: not valid JSON: {exc.msg} (column {exc.colno})"
        ) from None
    except IndexError:
        raise RegistryFileError(f"{name}: not valid JSON: the array is not closed") from None
    if text[at + 1 :].strip():
        raise RegistryFileError(f"{name}: not valid JSON: extra data after the array")
    return items


def _skip_space(text: str, at: int) -> int:
    while at < len(text) and text[at] in " \t\r\n":
        at += 1
    return at


def _end_of_value(text: str, at: int) -> int:
    """Where the array or object starting at ``at`` ends, strings taken into account."""
    depth, in_string, escaped = 0, False, False
    for position in range(at, len(text)):
        char = text[position]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
            if depth == 0:
                return position + 1
    raise IndexError(at)


def _jsonl_records(name: str, lines: Iterable[str]) -> Iterator[tuple[str, dict]]:
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            yield f"{name}:{number}", {"url": None, "_error": f"not valid JSON ({exc.msg})"}
            continue
        except RecursionError:
            yield f"{name}:{number}", {"url": None, "_error": TOO_DEEP}
            continue
        yield f"{name}:{number}", _normalize(item if isinstance(item, dict) else {"url": item})


def _csv_records(name: str, text: str) -> Iterator[tuple[str, dict]]:
    lines = text.splitlines(keepends=True)
    header = next(csv.reader(lines[:1]), [])
    if "url" not in [f.strip() for f in header]:
        raise RegistryFileError(f"{name}: a CSV registry needs a 'url' column")
    for number, row in _csv_rows(lines, header):
        if isinstance(row, str):
            yield f"{name}:{number}", {"url": None, "_error": f"not valid CSV: {row}"}
            continue
        record = {}
        for key, value in row.items():
            if key is None or value is None or value == "":
                continue
            key = SNAKE_CASE.get(key.strip(), key.strip())
            if key in LIST_FIELDS or key == "cited_by":
                value = [v.strip() for v in value.split(CSV_LIST_SEPARATOR) if v.strip()]
            record[key] = value
        yield f"{name}:{number}", record


def _csv_rows(lines: list[str], header: list[str]) -> Iterator[tuple[int, dict | str]]:
    """``(line, row)`` for each row after the header, or ``(line, error)`` for a row
    the csv module refuses (a quote never closed, a field over its 128 KB limit): the
    row is reported on the line it starts, and reading goes on with the next line, so
    that a stray quote cannot swallow the rows after it."""
    start = 1  # index in ``lines`` where this reader begins
    while start < len(lines):
        reader = csv.DictReader(islice(lines, start, None), fieldnames=header, strict=True)
        after = start  # index of the line after the last good row
        try:
            for row in reader:
                after = start + reader.line_num
                yield after, row  # its last line, 1-based
            return
        except csv.Error as exc:
            while after < len(lines) - 1 and not lines[after].strip("\r\n"):  # no rows
                after += 1
            message = str(exc)
            if "end of data" in message:
                message = "a quoted field opened on this line is never closed"
            yield after + 1, message
            start = after + 1


def _line_records(name: str, lines: Iterable[str]) -> Iterator[tuple[str, dict]]:
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if line and not line.startswith("#"):
            yield f"{name}:{number}", {"url": line}
