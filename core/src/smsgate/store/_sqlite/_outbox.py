"""The platform outbox: heads of each (target, key) queue handed out with leases, acknowledged or retried."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from ..._events import timestamp as _ts
from ..._json import loads_stored
from ..._models import utcnow
from .._coalesce import Coalescer
from .._records import OutboxRow
from ._base import _Base


class _Outbox(_Base):
    """The platform outbox: heads of each (target, key) queue handed out with leases, acknowledged or retried."""

    async def outbox_due(self, *, limit: int = 100, lease_seconds: float = 60) -> list[OutboxRow]:
        """Take the first undelivered item of each (target, key) that is due, oldest first."""

        def op(conn: sqlite3.Connection) -> list[OutboxRow]:
            now = _ts()
            # only the head of each (target, key) queue: a later event never overtakes an earlier one
            rows = conn.execute(
                "SELECT o.* FROM outbox o WHERE o.done_at IS NULL AND o.seq = (SELECT MIN(p.seq) FROM outbox p"
                " WHERE p.target = o.target AND p.key = o.key AND p.done_at IS NULL)"
                " AND o.next_attempt_at <= ? AND (o.lease_until IS NULL OR o.lease_until < ?)"
                " ORDER BY o.seq LIMIT ?", (now, now, limit)).fetchall()
            until = _ts(utcnow() + timedelta(seconds=lease_seconds))
            for row in rows:
                conn.execute("UPDATE outbox SET lease_until = ? WHERE seq = ?", (until, row["seq"]))
            return [OutboxRow(id=r["id"], seq=r["seq"], target=r["target"], key=r["key"], type=r["type"],
                              payload=loads_stored(r["payload"]), attempts=r["attempts"], created_at=r["created_at"])
                    for r in rows]

        return await self._call(op)

    @cached_property
    def _done(self) -> Coalescer[str, None]:
        """The deliveries acknowledged in one loop tick (a dispatcher's round answered together), one UPDATE."""

        def op(conn: sqlite3.Connection, ids: list[str]) -> list[None]:
            stamp = _ts()
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                conn.execute("UPDATE outbox SET done_at = ?, lease_until = NULL, attempts = attempts + 1,"
                             f" last_error = NULL WHERE id IN ({','.join('?' * len(chunk))})", (stamp, *chunk))
            return [None] * len(ids)

        async def run(ids: list[str]) -> list[None]:
            return await self._call(lambda conn: op(conn, ids))

        return Coalescer(run)

    async def outbox_done(self, item_id: str) -> None:
        """Mark an outbox item delivered (with the others acknowledged in this loop tick, in one write)."""
        await self._done(item_id)

    async def outbox_retry(self, item_id: str, at: datetime, error: str) -> None:
        """Release an outbox item after a failed delivery; try again at `at`."""
        await self._call(lambda conn: conn.execute(
            "UPDATE outbox SET lease_until = NULL, attempts = attempts + 1, next_attempt_at = ?, last_error = ?"
            " WHERE id = ?", (_ts(at), error, item_id)))

    async def outbox_renew(self, item_ids: Sequence[str], lease_seconds: float) -> None:
        """Extend the leases of items a dispatcher took and is still delivering."""
        ids = list(item_ids)
        if not ids:
            return
        until = _ts(utcnow() + timedelta(seconds=lease_seconds))
        await self._call(lambda conn: conn.execute(
            f"UPDATE outbox SET lease_until = ? WHERE id IN ({','.join('?' * len(ids))}) AND done_at IS NULL"
            " AND lease_until IS NOT NULL", (until, *ids)))

    async def outbox_release(self) -> None:
        """Release every outbox claim: for an operator who knows no dispatcher runs (claims otherwise expire)."""
        await self._call(lambda conn: conn.execute(
            "UPDATE outbox SET lease_until = NULL WHERE done_at IS NULL AND lease_until IS NOT NULL"))

    async def outbox_items(self, *, pending: bool | None = None, limit: int = 100, newest_first: bool = False
                           ) -> list[dict[str, Any]]:
        """Outbox items oldest (or newest) first, optionally only pending (True) or delivered (False) ones."""
        where = {None: "", True: " WHERE done_at IS NULL", False: " WHERE done_at IS NOT NULL"}[pending]
        order = " DESC" if newest_first else ""

        def op(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = conn.execute(f"SELECT * FROM outbox{where} ORDER BY seq{order} LIMIT ?", (limit,)).fetchall()
            return [{**dict(r), "payload": loads_stored(r["payload"])} for r in rows]

        return await self._read(op)
