"""What every part of the store shares: the connection, the policy, and query helpers."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from .backend import Backend
from .health import HealthPolicy


class StoreBase:
    """The state the store's parts (registry, recording, schedule, ...) work on.

    Each part is a mixin over this class in a module of its own; ``storage.store.Store``
    puts them together. SQL stays inside ``storage/``: other packages call the verbs.
    """

    target: str
    """The database as given: a SQLite file path or a PostgreSQL URL."""
    readonly: bool
    preview_max_chars: int
    policy: HealthPolicy
    sql: Backend
    """The database engine (storage/backend.py). Only ``storage/`` touches it."""

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict]:
        return self.sql.rows(sql, params)

    def _row(self, sql: str, params: Sequence[Any] = ()) -> dict | None:
        return self.sql.row(sql, params)

    def _scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.sql.scalar(sql, params)

    def _update_resource(self, resource_id: str, values: dict[str, Any]) -> None:
        self._update_row("resources", resource_id, values)

    def _update_row(self, table: str, row_id: Any, values: dict[str, Any]) -> None:
        assignments = ", ".join(f"{column} = ?" for column in values)
        self.sql.execute(
            f"UPDATE {table} SET {assignments} WHERE id = ?", [*values.values(), row_id]
        )

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """One transaction that begins as a writer; nested, a savepoint."""
        with self.sql.transaction():
            yield
