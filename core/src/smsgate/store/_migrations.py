"""Versioned schema migrations: each backend lists its own (`_sqlite._migrations`, `_postgres._migrations`);
one runner applies the missing ones in order.

A database records the versions applied in `schema_migrations`. Opening a store applies what is missing
inside one locked transaction (SQLite: BEGIN IMMEDIATE), so two processes starting at once never both
migrate. A migration is SQL statements or a Python step, never edited once released: a change is a new one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Migration", "missing", "statements"]


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step: its version (1, 2, ...), a name for humans, and its statements or a Python step."""

    version: int
    name: str
    statements: tuple[str, ...] = ()
    step: Callable[[Any], None] | None = None
    """Called with the connection after the statements, for what SQL alone cannot say (e.g. 'if absent')."""


def missing(applied: set[int], migrations: Sequence[Migration]) -> list[Migration]:
    """The migrations not yet applied, in order; a gap (a newer database than this code) is an error."""
    known = {m.version for m in migrations}
    unknown = sorted(applied - known)
    if unknown:
        raise RuntimeError(f"the database has schema version(s) {unknown} that this smsgate does not know: "
                           "it was upgraded by a newer version")
    return [m for m in sorted(migrations, key=lambda m: m.version) if m.version not in applied]


def statements(script: str) -> tuple[str, ...]:
    """The `;`-separated statements of an SQL script, stripped, empty ones dropped."""
    return tuple(s.strip() for s in script.split(";") if s.strip())
