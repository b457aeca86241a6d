"""Which backend a `[gateway] database` value names, and opening it: `open_store` is the one place that decides.

    smsgate.sqlite3, /var/lib/smsgate.db     a SQLite file (the embedded default)
    sqlite:///relative.db, sqlite:////abs.db  the same as a URL (three slashes, then the path)
    postgresql://user:password@host:5432/db   PostgreSQL (`postgres://` too); other query parameters are
                                              server settings, e.g. `?search_path=smsgate`
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..config._database import describe, is_postgres, sqlite_path, url_password, validate_database
from ..errors import StoreInvalid, StoreUnavailable
from ._protocol import Store

__all__ = ["describe", "is_postgres", "open_store", "schema_status", "sqlite_path", "upgrade_database", "url_password",
           "validate_database"]


def open_store(database: str, *, synchronous: str = "FULL", readonly: bool = False, migrate: bool = False,
               **options: Any) -> Store:
    """The store `database` names: SQLiteStore for a path or `sqlite:///`, PostgresStore for `postgresql://`.

    SQLite creates and migrates its file on open (readonly: opens an existing one only). PostgreSQL connects
    on first use and migrates only with `migrate` (else `smsgate db upgrade` does); `synchronous` is SQLite's.
    """
    if is_postgres(database):
        from ._postgres import PostgresStore

        return PostgresStore(database.strip(), readonly=readonly, migrate=migrate, **options)
    import sqlite3

    from ._sqlite import SQLiteStore

    try:
        return SQLiteStore(sqlite_path(database), synchronous=synchronous, readonly=readonly)
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc):  # another process held it past the busy timeout: busy, not foreign
            raise StoreUnavailable(f"{describe(database)} is locked by another process ({exc})") from None
        raise StoreInvalid(f"{describe(database)} is not an smsgate database ({exc})") from None
    except sqlite3.DatabaseError as exc:  # a file that is not SQLite, or SQLite without smsgate's schema
        raise StoreInvalid(f"{describe(database)} is not an smsgate database ({exc})") from None


async def upgrade_database(database: str) -> tuple[list[int], int]:
    """Apply the migrations `database` lacks (`smsgate db upgrade`); the versions applied and the version now.

    PostgreSQL: in one transaction under an advisory lock, so instances upgrading at once never both migrate.
    SQLite: the same as opening it (BEGIN IMMEDIATE), creating the file if there is none.
    """
    if is_postgres(database):
        from ._postgres import _require_driver, migrate_postgres, schema_versions

        try:
            conn = await _require_driver().connect(database.strip(), timeout=10)
        except OSError as exc:
            from ..errors import StoreUnavailable

            raise StoreUnavailable(f"cannot reach {describe(database)}: {exc}") from None
        try:
            applied = await migrate_postgres(conn)
            return applied, max(await schema_versions(conn), default=0)
        finally:
            await conn.close()
    import sqlite3

    from ._sqlite import migrate

    path = sqlite_path(database)
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn3 = sqlite3.connect(path, isolation_level=None)
    try:
        applied = migrate(conn3)
        version = conn3.execute("SELECT max(version) FROM schema_migrations").fetchone()[0]
        return applied, int(version or 0)
    finally:
        conn3.close()


async def schema_status(database: str) -> tuple[int, list[int]]:
    """A PostgreSQL database's schema version and the migrations it lacks (`smsgate serve` checks at start).

    SQLite migrates on open, so it is never behind: (0, []) without looking."""
    if not is_postgres(database):
        return 0, []
    from ._migrations import missing
    from ._postgres import _require_driver, schema_versions
    from ._postgres._migrations import POSTGRES

    try:
        conn = await _require_driver().connect(database.strip(), timeout=10)
    except OSError as exc:
        from ..errors import StoreUnavailable

        raise StoreUnavailable(f"cannot reach {describe(database)}: {exc}") from None
    try:
        applied = await schema_versions(conn)
        return max(applied, default=0), [m.version for m in missing(applied, POSTGRES)]
    finally:
        await conn.close()
