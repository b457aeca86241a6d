"""Moving an installation between databases (`smsgate db copy`): every table, in order, checked by counts.

The target is brought to the current schema first and must hold no data, and everything is written in one
transaction, so a copy that fails leaves it as empty as it was. Rows keep their sequence numbers, so the
outbox's order per key and each message's history order survive; PostgreSQL's sequences are moved past them.
Values are converted by the target column's type: timestamps (ISO text in SQLite, timestamptz in PostgreSQL)
and booleans (0/1 in SQLite). Every `smsgate serve` on the source must be stopped first: a source whose
gateways hold their presence lease (`_presence`) is refused, and the final count check fails if the source
changed while it was read anyway.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .._events import timestamp as _ts
from .._models import utcnow
from ..errors import SmsgateError
from ._open import describe, is_postgres, sqlite_path
from ._presence import PRESENCE_PREFIX, PRESENCE_TTL

__all__ = ["TABLES", "CopyError", "copy_database"]

TABLES = ("messages", "external_ids", "status_history", "opt_outs", "channel_logs", "outbox", "fragments",
          "console_revoked")
"""What `smsgate db copy` moves, in this order (rate slots and leases are not data: they start afresh; console
sessions signed out are, or a copied cookie would work again on the new database)."""

_KEYED = {"external_ids": "channel, external_id", "fragments": "channel, key, idx", "console_revoked": "sid"}
"""Tables without a `seq`, and the order their rows are read in from PostgreSQL."""

# the presence leases of running gateways, found by the leases' primary key (a range of names)
_SERVING = (f"SELECT count(*) FROM leases WHERE name >= '{PRESENCE_PREFIX}' AND name < '{PRESENCE_PREFIX[:-1]};'"
            " AND until > {until}")

Progress = Callable[[str, int, int], None]
"""Called as `progress(table, rows_copied_so_far, rows_in_table)`."""


class CopyError(SmsgateError):
    """The copy could not start (the target holds data, a database is unreachable) or its counts differ."""


def _to_time(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    stamp = datetime.fromisoformat(str(value).replace(" ", "T", 1))
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


class _SQLite:
    """One side of the copy on a SQLite file."""

    def __init__(self, database: str, *, target: bool) -> None:
        path = sqlite_path(database)
        if target:
            from ._sqlite import migrate  # the schema first, as opening a store would

            conn = sqlite3.connect(path, isolation_level=None)
            migrate(conn)
        else:
            if not Path(path).is_file():
                raise CopyError(f"no SQLite database at {path}")
            conn = sqlite3.connect(Path(path).absolute().as_uri() + "?mode=ro", uri=True, isolation_level=None)
        self.conn = conn

    async def exists(self, table: str) -> bool:
        return self.conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                                 (table,)).fetchone() is not None

    async def count(self, table: str) -> int:
        return int(self.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])

    async def serving(self) -> int:
        if not await self.exists("leases"):
            return 0
        return int(self.conn.execute(_SERVING.format(until="?"), (_ts(utcnow()),)).fetchone()[0])

    async def columns(self, table: str) -> dict[str, str]:
        types = {row[1]: (row[2] or "").upper() for row in self.conn.execute(f"PRAGMA table_info({table})")}
        if table == "messages":
            types["seq"] = "INTEGER"  # a message's place in insertion order: its rowid here
        return types

    async def rows(self, table: str, columns: list[str], batch: int) -> AsyncIterator[list[tuple[Any, ...]]]:
        order = "rowid" if table == "messages" or table in _KEYED else "seq"
        select = ", ".join("rowid" if c == "seq" and table == "messages" else c for c in columns)
        cursor = self.conn.execute(f"SELECT {select} FROM {table} ORDER BY {order}")
        while True:
            chunk = cursor.fetchmany(batch)
            if not chunk:
                return
            yield [tuple(r) for r in chunk]

    @contextlib.asynccontextmanager
    async def writing(self) -> AsyncIterator[None]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    async def write(self, table: str, columns: list[str], types: dict[str, str], rows: list[tuple[Any, ...]]
                    ) -> None:
        if table == "messages" and "seq" in columns:  # SQLite orders messages by rowid
            columns = ["rowid" if c == "seq" else c for c in columns]
        convert = [_sqlite_value(types.get(c, "")) for c in columns]
        self.conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                              [tuple(f(v) for f, v in zip(convert, row, strict=True)) for row in rows])

    async def close(self) -> None:
        self.conn.close()


def _sqlite_value(kind: str) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        if isinstance(value, datetime):
            return _ts(value)
        if isinstance(value, bool):
            return int(value)
        return value

    return convert


class _Postgres:
    """One side of the copy on a PostgreSQL database (asyncpg; COPY for writing)."""

    def __init__(self, database: str, *, target: bool) -> None:
        self.database, self.target = database, target
        self.conn: Any = None
        self._tx: Any = None

    async def open(self) -> None:
        from ._postgres import _require_driver, migrate_postgres, schema_versions

        try:
            self.conn = await _require_driver().connect(self.database, timeout=10)
        except (OSError, TimeoutError, Exception) as exc:
            if type(exc).__name__ == "StoreUnavailable":
                raise
            raise CopyError(f"cannot reach {describe(self.database)}: {type(exc).__name__}: {exc}") from None
        if self.target:
            await migrate_postgres(self.conn)
        elif not await schema_versions(self.conn):
            raise CopyError(f"{describe(self.database)} holds no smsgate database")
        if not self.target:  # one snapshot for every table read
            self._tx = self.conn.transaction(isolation="repeatable_read", readonly=True)
            await self._tx.start()

    async def exists(self, table: str) -> bool:
        return bool(await self.conn.fetchval("SELECT to_regclass($1) IS NOT NULL", table))

    async def count(self, table: str) -> int:
        return int(await self.conn.fetchval(f"SELECT count(*) FROM {table}"))

    async def serving(self) -> int:
        if not await self.exists("leases"):
            return 0
        return int(await self.conn.fetchval(_SERVING.format(until="now()")))

    async def columns(self, table: str) -> dict[str, str]:
        rows = await self.conn.fetch("SELECT column_name, data_type FROM information_schema.columns"
                                     " WHERE table_schema = current_schema() AND table_name = $1", table)
        return {r["column_name"]: r["data_type"] for r in rows}

    async def rows(self, table: str, columns: list[str], batch: int) -> AsyncIterator[list[tuple[Any, ...]]]:
        cursor = await self.conn.cursor(f"SELECT {', '.join(columns)} FROM {table} ORDER BY"
                                        f" {_KEYED.get(table, 'seq')}")
        while True:
            chunk = await cursor.fetch(batch)
            if not chunk:
                return
            yield [tuple(r) for r in chunk]

    @contextlib.asynccontextmanager
    async def writing(self) -> AsyncIterator[None]:
        async with self.conn.transaction():
            yield
            for table in TABLES:  # new rows continue after the copied ones
                if table not in _KEYED:
                    await self.conn.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'seq'), GREATEST(max(seq), 1),"
                        f" max(seq) IS NOT NULL) FROM {table}")

    async def write(self, table: str, columns: list[str], types: dict[str, str], rows: list[tuple[Any, ...]]
                    ) -> None:
        convert = [_postgres_value(types.get(c, "")) for c in columns]
        records = [tuple(f(v) for f, v in zip(convert, row, strict=True)) for row in rows]
        await self.conn.copy_records_to_table(table, records=records, columns=columns)

    async def close(self) -> None:
        if self._tx is not None:
            with contextlib.suppress(Exception):
                await self._tx.rollback()
        if self.conn is not None:
            await self.conn.close()


def _postgres_value(kind: str) -> Callable[[Any], Any]:
    if kind.startswith("timestamp"):
        return _to_time
    if kind == "boolean":
        return lambda v: None if v is None else bool(v)
    if kind in ("integer", "bigint"):
        return lambda v: None if v is None else int(v)
    if kind == "double precision":
        return lambda v: None if v is None else float(v)
    from ._postgres._connection import _no_nul

    return lambda v: _no_nul(v) if isinstance(v, str) else v


async def _side(database: str, *, target: bool) -> _SQLite | _Postgres:
    if is_postgres(database):
        side = _Postgres(database, target=target)
        await side.open()
        return side
    return _SQLite(database, target=target)


async def copy_database(source: str, target: str, *, progress: Progress | None = None, batch: int = 2000
                        ) -> dict[str, tuple[int, int]]:
    """Copy every table of `source` into the empty database `target` (either backend, either way); per table
    the rows counted in the source and in the target afterwards. CopyError if the target holds data or a
    count differs."""
    if source.strip() == target.strip():
        raise CopyError("--from and --to name the same database")
    src = await _side(source, target=False)
    try:
        running = await src.serving()
        if running:
            raise CopyError(f"{describe(source)} is in use by {running} running smsgate serve instance(s): stop "
                            f"every one first, so nothing is written while it is copied (a stopped instance lets go "
                            f"at once, one that crashed within {PRESENCE_TTL:g} s)")
        dst = await _side(target, target=True)
        try:
            held = {t: n for t in TABLES if (n := await dst.count(t))}
            if held:
                what = ", ".join(f"{n} {t}" for t, n in held.items())
                raise CopyError(f"{describe(target)} already holds data ({what}): copy into an empty database")
            # a source from an older smsgate may lack the newest tables: there is nothing of theirs to copy
            tables = [t for t in TABLES if await src.exists(t)]
            counts = {t: await src.count(t) if t in tables else 0 for t in TABLES}
            async with dst.writing():
                for table in tables:
                    have, want = await src.columns(table), await dst.columns(table)
                    columns = [c for c in want if c in have]
                    done = 0
                    if progress is not None:
                        progress(table, 0, counts[table])
                    async for rows in src.rows(table, columns, batch):
                        await dst.write(table, columns, want, rows)
                        done += len(rows)
                        if progress is not None:
                            progress(table, done, counts[table])
            result = {t: (await src.count(t) if t in tables else 0, await dst.count(t)) for t in TABLES}
        finally:
            await dst.close()
    finally:
        await src.close()
    differ = {t: n for t, n in result.items() if n[0] != n[1] or n[0] != counts[t]}
    if differ:
        raise CopyError("counts differ after the copy (was the source written to meanwhile?): " + ", ".join(
            f"{t} {counts[t]} read, {a} in the source now, {b} copied" for t, (a, b) in differ.items()))
    return result
