"""The platform outbox: the head of each (target, key) queue handed out to one instance at a time."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cached_property
from typing import Any

from ..._events import timestamp as _ts
from ..._json import loads_stored
from .._coalesce import Coalescer
from .._records import OutboxRow
from ._base import _Base
from ._rows import _outbox_item


class _Outbox(_Base):
    """The platform outbox: the head of each (target, key) queue handed out to one instance at a time."""

    async def outbox_due(self, *, limit: int = 100, lease_seconds: float = 60) -> list[OutboxRow]:
        """Take the first undelivered item of each (target, key) that is due, oldest first; items another
        instance holds, or is taking right now, are skipped."""

        async def op(conn: Any) -> list[OutboxRow]:
            # only the head of each (target, key) queue: a later event never overtakes an earlier one
            rows = await conn.fetch(
                "WITH due AS (SELECT o.seq FROM outbox o WHERE o.done_at IS NULL AND o.next_attempt_at <= now()"
                " AND (o.lease_until IS NULL OR o.lease_until < now())"
                " AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.target = o.target AND p.key = o.key"
                " AND p.done_at IS NULL AND p.seq < o.seq) ORDER BY o.seq LIMIT $1 FOR UPDATE SKIP LOCKED)"
                " UPDATE outbox u SET lease_until = now() + make_interval(secs => $2) FROM due WHERE u.seq = due.seq"
                " RETURNING u.*", limit, lease_seconds)
            return [OutboxRow(id=r["id"], seq=r["seq"], target=r["target"], key=r["key"], type=r["type"],
                              payload=loads_stored(r["payload"]), attempts=r["attempts"],
                              created_at=_ts(r["created_at"])) for r in sorted(rows, key=lambda r: r["seq"])]

        return await self._run(op, transaction=False)  # one statement

    @cached_property
    def _done(self) -> Coalescer[str, None]:
        """The deliveries acknowledged in one loop tick, one statement and round trip."""

        async def run(ids: list[str]) -> list[None]:
            await self._run(lambda conn: conn.execute(
                "UPDATE outbox SET done_at = now(), lease_until = NULL, attempts = attempts + 1, last_error = NULL"
                " WHERE id = ANY($1::text[])", ids), transaction=False)
            return [None] * len(ids)

        return Coalescer(run)

    async def outbox_done(self, item_id: str) -> None:
        """Mark an outbox item delivered (with the others acknowledged in this loop tick, in one statement)."""
        await self._done(item_id)

    async def outbox_retry(self, item_id: str, at: datetime, error: str) -> None:
        """Release an outbox item after a failed delivery; try again at `at`."""
        await self._run(lambda conn: conn.execute(
            "UPDATE outbox SET lease_until = NULL, attempts = attempts + 1, next_attempt_at = $2, last_error = $3"
            " WHERE id = $1", item_id, at, error), transaction=False)

    async def outbox_renew(self, item_ids: Sequence[str], lease_seconds: float) -> None:
        """Extend the leases of items a dispatcher took and is still delivering (on the database's clock)."""
        ids = list(item_ids)
        if not ids:
            return
        await self._run(lambda conn: conn.execute(
            "UPDATE outbox SET lease_until = now() + make_interval(secs => $2) WHERE id = ANY($1::text[])"
            " AND done_at IS NULL AND lease_until IS NOT NULL", ids, lease_seconds), transaction=False)

    async def outbox_release(self) -> None:
        """Release every outbox claim: only for an operator who knows no dispatcher runs (claims otherwise expire)."""
        await self._run(lambda conn: conn.execute(
            "UPDATE outbox SET lease_until = NULL WHERE done_at IS NULL AND lease_until IS NOT NULL"))

    async def outbox_items(self, *, pending: bool | None = None, limit: int = 100, newest_first: bool = False
                           ) -> list[dict[str, Any]]:
        """Outbox items oldest (or newest) first, optionally only pending (True) or delivered (False) ones."""
        where = {None: "", True: " WHERE done_at IS NULL", False: " WHERE done_at IS NOT NULL"}[pending]
        order = " DESC" if newest_first else ""

        async def op(conn: Any) -> list[dict[str, Any]]:
            return [_outbox_item(r) for r in await conn.fetch(
                f"SELECT * FROM outbox{where} ORDER BY seq{order} LIMIT $1", limit)]

        return await self._run(op, transaction=False)
