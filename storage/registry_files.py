"""Read registry files (YAML, JSON, JSON lines, CSV, or one URL per line) into records.

Each record comes with where it was found (``file:line``) so that a bad one can be
reported precisely while the rest is imported.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import yaml

from .fields import LIST_FIELDS, SNAKE_CASE

CSV_LIST_SEPARATOR = ";"


class RegistryFileError(ValueError):
    """The file as a whole cannot be read (not its single records)."""


class _LineLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """A safe YAML loader that remembers the line each mapping starts on."""

    def construct_mapping(self, node, deep=False):
        mapping = super().construct_mapping(node, deep=deep)
        mapping["__line__"] = node.start_mark.line + 1
        return mapping


def read_records(path: str | Path) -> Iterator[tuple[str, dict]]:
    """Yield ``(where, record)`` for every record of the file, by its format."""
    path = Path(path)
    if not path.is_file():
        raise RegistryFileError(f"no such file: {path}")
    try:
        text = path.read_text("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RegistryFileError(
            f"{path.name}: not UTF-8 (bad byte at offset {exc.start}); "
            "save it as UTF-8 and import again"
        ) from None
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        yield from _yaml_records(path.name, text)
    elif suffix == ".json":
        yield from _json_records(path.name, text)
    elif suffix in (".jsonl", ".ndjson"):
        yield from _jsonl_records(path.name, text)
    elif suffix == ".csv":
        yield from _csv_records(path.name, text)
    else:
        yield from _line_records(path.name, text)


def _normalize(record: dict) -> dict:
    return {SNAKE_CASE.get(k, k): v for k, v in record.items()}


def _yaml_records(name: str, text: str) -> Iterator[tuple[str, dict]]:
    try:
        data = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a safe loader subclass
    except yaml.YAMLError as exc:
        raise _yaml_error(name, exc) from None
    if isinstance(data, dict):
        data = data.get("resources", [data])
    if not isinstance(data, list):
        raise RegistryFileError(f"{name}: expected a list of resources")
    for index, item in enumerate(data, 1):
        if not isinstance(item, dict):
            yield f"{name}: item {index}", {"url": item if isinstance(item, str) else None}
            continue
        line = item.pop("__line__", None)
        item = {k: _strip_lines(v) for k, v in item.items()}
        yield f"{name}:{line}", _normalize(item)


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
    if isinstance(data, dict):
        data = data.get("resources", [data])
    if not isinstance(data, list):
        raise RegistryFileError(f"{name}: expected a JSON array of resources")
    for index, item in enumerate(data, 1):
        if isinstance(item, str):
            item = {"url": item}
        if not isinstance(item, dict):
            yield f"{name}: item {index}", {"url": None}
            continue
        yield f"{name}: item {index}", _normalize(item)


def _jsonl_records(name: str, text: str) -> Iterator[tuple[str, dict]]:
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            yield f"{name}:{number}", {"url": None, "_error": f"not valid JSON ({exc.msg})"}
            continue
        yield f"{name}:{number}", _normalize(item if isinstance(item, dict) else {"url": item})


def _csv_records(name: str, text: str) -> Iterator[tuple[str, dict]]:
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "url" not in [f.strip() for f in reader.fieldnames]:
        raise RegistryFileError(f"{name}: a CSV registry needs a 'url' column")
    for row in reader:
        record = {}
        for key, value in row.items():
            if key is None or value is None or value == "":
                continue
            key = SNAKE_CASE.get(key.strip(), key.strip())
            if key in LIST_FIELDS or key == "cited_by":
                value = [v.strip() for v in value.split(CSV_LIST_SEPARATOR) if v.strip()]
            record[key] = value
        yield f"{name}:{reader.line_num}", record


def _line_records(name: str, text: str) -> Iterator[tuple[str, dict]]:
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if line and not line.startswith("#"):
            yield f"{name}:{number}", {"url": line}
