"""One SQL statement on a harness's database, whichever the backend: what tests use to set up a state the
gateway's API cannot reach (a passed backoff, a lapsed lease, rows from an older release).

Write it with `?` placeholders and ISO timestamp strings; on PostgreSQL they become `$n` and datetimes, and
timestamps read back become the same ISO strings SQLite stores.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from smsgate.store import PostgresStore

_ISO = re.compile(r"^\d{4}-\d\d-\d\d(T[\d:.]+)?([+-]\d\d:\d\d)?$")


def _arg(value: Any) -> Any:
    if isinstance(value, str) and _ISO.match(value):
        stamp = datetime.fromisoformat(value)
        return stamp if stamp.tzinfo else stamp.replace(tzinfo=datetime.now().astimezone().tzinfo).astimezone()
    return value


def _out(value: Any) -> Any:
    if isinstance(value, datetime):
        from smsgate.host import utcnow

        return value.astimezone(utcnow().tzinfo).isoformat(timespec="microseconds")
    return value


async def store_sql(store: Any, statement: str, *args: Any) -> list[tuple[Any, ...]]:
    """Run `statement` on `store` (SQLite or PostgreSQL); its rows as tuples."""
    if isinstance(store, PostgresStore):
        counter = iter(range(1, 1000))
        translated = re.sub(r"\?", lambda _m: f"${next(counter)}", statement)
        rows = await store.execute(translated, *map(_arg, args))
        return [tuple(_out(v) for v in row.values()) for row in rows]
    return [tuple(row) for row in store.call_sync(lambda conn: conn.execute(statement, args).fetchall())]


def sql(h: Any, statement: str, *args: Any) -> list[tuple[Any, ...]]:
    """Run `statement` on harness `h`'s store; its rows as tuples."""
    return h.run(store_sql(h.store, statement, *args))
