"""The PostgreSQL store's connections: the driver (asyncpg), which errors mean unavailable, migrations, locks."""

from __future__ import annotations

import inspect
import logging
import zlib
from typing import Any, TypeVar

from ...errors import StoreUnavailable
from .._migrations import missing
from ._migrations import MIGRATION_LOCK, POSTGRES

T = TypeVar("T")


log = logging.getLogger("smsgate.store")


_TOPICS = ("queued", "outbox")


def _require_driver() -> Any:
    """The asyncpg module, imported on first use (a SQLite gateway and the CLI do not pay for it)."""
    try:
        import asyncpg
    except ImportError:  # the `postgresql` extra is not installed
        raise StoreUnavailable("a postgresql:// database needs the asyncpg driver: "
                               "pip install 'smsgate[postgresql]'") from None
    return asyncpg


def _unavailable_errors() -> tuple[type[BaseException], ...]:
    pg = _require_driver()
    return (OSError, TimeoutError, pg.PostgresConnectionError, pg.InterfaceError,
            pg.exceptions.OperatorInterventionError,  # shutdown, cannot connect now, statement timeout
            pg.exceptions.InsufficientResourcesError,  # disk full, too many connections
            pg.exceptions.ReadOnlySQLTransactionError)  # a standby after a failover


def _no_nul(value: str) -> str:
    """PostgreSQL's text cannot hold U+0000 (SQLite's can): it is stored as U+FFFD, so nothing is refused for it."""
    return value.replace("\x00", "\ufffd") if "\x00" in value else value


async def _init_connection(conn: Any) -> None:
    await conn.set_type_codec("text", schema="pg_catalog", encoder=_no_nul, decoder=str, format="text")


async def _no_reset(conn: Any) -> None:
    """A pooled connection goes back as it came: smsgate sets no session state on it (no SET, no LISTEN, advisory
    locks released in `finally`), so asyncpg's RESET ALL round trip on every release is saved."""


def _lock_key(schema: str, what: str) -> int:
    """A stable signed 64-bit advisory lock key for `what` in `schema` (schemas of one database do not collide)."""
    return zlib.crc32(f"{schema}:{what}".encode()) | (MIGRATION_LOCK << 32)


async def schema_versions(conn: Any) -> set[int]:
    """The migration versions applied to the database `conn` is on (empty when it has no smsgate schema)."""
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return set()
    return {row[0] for row in await conn.fetch("SELECT version FROM schema_migrations")}


async def migrate_postgres(conn: Any) -> list[int]:
    """Apply the PostgreSQL migrations the database lacks, in one transaction under an advisory lock; the
    versions applied (empty when it was up to date). Another instance migrating at once waits, then finds
    nothing to do."""
    async with conn.transaction():
        schema = await conn.fetchval("SELECT current_schema()")
        if schema is None:
            raise StoreUnavailable("no schema to create tables in: the search_path names none that exists")
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _lock_key(schema, "migrate"))
        await conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,"
                           " name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
        done = []
        for migration in missing(await schema_versions(conn), POSTGRES):
            for statement in migration.statements:
                await conn.execute(statement)
            if migration.step is not None:
                result = migration.step(conn)
                if inspect.isawaitable(result):
                    await result
            await conn.execute("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", migration.version,
                               migration.name)
            done.append(migration.version)
    return done


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
