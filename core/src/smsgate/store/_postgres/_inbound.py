"""What aggregators report: inbound events in one transaction (dedupe by a unique index), parts, logs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..._http._channellog import ChannelLog
from ..._json import loads_stored
from ..._models import (
    Event,
    utcnow,
)
from .._records import (
    Fragment,
    FragmentJoin,
    InboundOutcome,
)
from ._base import _Base
from ._rows import _insert_log
from ._statuses import _lock, _store_event


class _Inbound(_Base):
    """What aggregators report: inbound events in one transaction (dedupe by a unique index), parts, logs."""

    async def record_inbound(self, channel: str, events: Sequence[Event], log: ChannelLog | None
                             ) -> list[InboundOutcome]:
        """Store every event of one inbound request in one transaction; status lookups only within `channel`."""
        woke: set[str] = set()

        async def op(conn: Any) -> list[InboundOutcome]:
            return await self._store_events(conn, channel, events, log, woke, log)

        outcomes = await self._run(op)
        self._woke(woke)
        return outcomes

    async def _store_events(self, conn: Any, channel: str, events: Sequence[Event], log: ChannelLog | None,
                            woke: set[str], insert_log: ChannelLog | None = None) -> list[InboundOutcome]:
        """Store inbound events, each outcome with the platform events it makes, planned in this transaction
        (with `insert_log` written in the planning statement)."""
        outcomes = []
        for event in events:
            outcome = await _store_event(conn, channel, event, log)
            made = await self._made_by(conn, channel, outcome)
            outcomes.append(InboundOutcome(outcome.event, outcome.created, outcome.change, made)
                            if made else outcome)
        await self._plan(conn, [e for outcome in outcomes for e in outcome.platform_events], woke, insert_log)
        return outcomes

    async def add_log(self, log: ChannelLog) -> None:
        """Store a channel log on its own."""
        await self._run(lambda conn: _insert_log(conn, log), transaction=False)

    async def add_fragment(self, channel: str, fragment: Fragment, join: FragmentJoin, log: ChannelLog | None
                           ) -> tuple[bool, list[InboundOutcome]]:
        """Durably keep one part; when all parts of its key are in, store `join(parts)`'s events in the same
        transaction. (False for a part already held; the stored outcomes, or [] while parts are missing.)

        As the SQLite store does (see there), with the parts of one key decided one transaction at a time (an
        advisory lock): two instances getting the last two parts at once cannot both wait for the other's.
        """
        data = json.dumps(fragment.data, sort_keys=True, ensure_ascii=False)
        woke: set[str] = set()

        async def held_parts(conn: Any) -> list[Fragment]:
            rows = await conn.fetch("SELECT idx, total, data FROM fragments WHERE channel = $1 AND key = $2"
                                    " AND joined_at IS NULL ORDER BY idx", channel, fragment.key)
            return [Fragment(fragment.key, r["idx"], r["total"], loads_stored(r["data"])) for r in rows]

        async def op(conn: Any) -> tuple[bool, list[InboundOutcome]]:
            await _lock(conn, f"fragment:{channel}:{fragment.key}")
            outcomes: list[InboundOutcome] = []
            held = await conn.fetchrow("SELECT data, total FROM fragments WHERE channel = $1 AND key = $2"
                                       " AND idx = $3", channel, fragment.key, fragment.index)
            if held is not None and held["data"] == data and held["total"] == fragment.total:
                if log is not None:
                    await _insert_log(conn, log)
                return False, outcomes
            if held is not None:  # the key now names another message: finish the old one as it is
                leftover = await held_parts(conn)
                if leftover:
                    outcomes += await self._store_events(conn, channel, join(leftover), log, woke)
                await conn.execute("DELETE FROM fragments WHERE channel = $1 AND key = $2", channel, fragment.key)
            else:  # parts of a finished message with this key (other positions) belong to that one
                await conn.execute("DELETE FROM fragments WHERE channel = $1 AND key = $2 AND joined_at IS NOT NULL",
                                   channel, fragment.key)
            now = utcnow()
            await conn.execute("INSERT INTO fragments (channel, key, idx, total, data, created_at)"
                               " VALUES ($1, $2, $3, $4, $5, $6)", channel, fragment.key, fragment.index,
                               fragment.total, data, now)
            present = await held_parts(conn)
            if len(present) >= fragment.total:
                outcomes += await self._store_events(conn, channel, join(present), log, woke)
                await conn.execute("UPDATE fragments SET joined_at = $3 WHERE channel = $1 AND key = $2", channel,
                                   fragment.key, now)
            if log is not None:
                await _insert_log(conn, log)
            return True, outcomes

        result = await self._run(op)
        self._woke(woke)
        return result

    async def known_inbound(self, channel: str, external_ids: Sequence[str]) -> set[str]:
        """Which of `external_ids` are stored incoming messages of `channel`."""
        ids = list(external_ids)
        if not ids:
            return set()

        async def op(conn: Any) -> set[str]:
            return {r["external_id"] for r in await conn.fetch(
                "SELECT external_id FROM messages WHERE channel = $1 AND direction = 'in'"
                " AND external_id = ANY($2::text[])", channel, ids)}

        return await self._run(op, transaction=False)
