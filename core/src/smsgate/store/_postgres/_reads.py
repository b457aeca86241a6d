"""Reads for the API, the CLI and the console, each served by an index."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ..._events import timestamp as _ts
from ..._json import loads_stored
from ..._models import MessageRecord
from .._paging import decode_cursor, encode_cursor, merge_pages, where
from .._records import (
    Backlog,
    HourCount,
    MessagePage,
)
from ._base import _Base
from ._rows import _filters, _full, _outbox_item, _record, _when

# the contact of a message (whom it is from or to); messages_by_contact indexes exactly this expression
_CONTACT = "(CASE direction WHEN 'in' THEN from_addr ELSE to_addr END)"


# rows one page of find_messages may examine when it filters by direction, status or text (as SQLite's)
_SCAN = 100_000


class _Reads(_Base):
    """Reads for the API, the CLI and the console, each served by an index."""

    async def get_message(self, message_id: str) -> MessageRecord | None:
        """One message with its status history, or None."""
        return await self._run(lambda conn: _full(conn, message_id), transaction=False)

    async def list_messages(self, *, channel: str | None = None, status: str | None = None,
                            direction: str | None = None, limit: int = 50) -> list[MessageRecord]:
        """Messages newest first, optionally filtered."""
        where, args = _filters(channel=channel, status=status, direction=direction)

        async def op(conn: Any) -> list[MessageRecord]:
            rows = await conn.fetch(f"SELECT * FROM messages{where} ORDER BY created_at DESC, seq DESC"
                                    f" LIMIT ${len(args) + 1}", *args, limit)
            return [_record(r) for r in rows]

        return await self._run(op, transaction=False)

    async def list_logs(self, *, channel: str | None = None, message_id: str | None = None,
                        errors_only: bool = False, limit: int = 50) -> list[dict[str, Any]]:
        """Channel logs newest first (already redacted when they were recorded)."""
        where, args = _filters(channel=channel, message_id=message_id)
        if errors_only:
            where += (" AND" if where else " WHERE") + " is_error"

        async def op(conn: Any) -> list[dict[str, Any]]:
            rows = await conn.fetch(f"SELECT data FROM channel_logs{where} ORDER BY seq DESC LIMIT ${len(args) + 1}",
                                    *args, limit)
            return [loads_stored(r["data"]) for r in rows]

        return await self._run(op, transaction=False)

    async def opt_outs(self, *, channel: str | None = None) -> list[dict[str, Any]]:
        """Stored opt-out events, oldest first."""
        where, args = _filters(channel=channel)

        async def op(conn: Any) -> list[dict[str, Any]]:
            rows = await conn.fetch(f"SELECT channel, address, reason, at FROM opt_outs{where} ORDER BY seq", *args)
            return [{**dict(r), "at": _ts(r["at"])} for r in rows]

        return await self._run(op, transaction=False)

    async def find_messages(self, *, channel: str | None = None, direction: str | None = None,
                            status: str | None = None, number: str | None = None, text: str | None = None,
                            cursor: str | None = None, limit: int = 50,
                            channels: Sequence[str] | None = None) -> MessagePage:
        """Messages newest first matching every filter given (`number`: the contact, `text`: a substring,
        case-insensitive; `channels`: any of these, as a tenant sees), from `cursor` on; ValueError for a cursor
        this store did not make.

        The SQLite store's plan on (created_at, seq): keyset pagination over an index (by channel, by contact,
        by status, by direction, or by time), the filters it does not serve examining at most `_SCAN` of the
        rows it yields per page; several `channels` merge one page per channel (`merge_pages`).
        """
        after = None
        if cursor is not None:
            created, seq = decode_cursor(cursor)
            after = (datetime.fromisoformat(created), seq)
        names: list[str | None] = [channel]
        if channels is not None:
            if channel is None:
                names = list(dict.fromkeys(channels))
            elif channel not in channels:
                return MessagePage([], None)

        async def op(conn: Any) -> MessagePage:
            found = [await self._page(conn, name, direction, status, number, text, after, limit) for name in names]
            rows, following = (found[0] if len(found) == 1 else
                               merge_pages(found, limit, lambda r: (r["created_at"], r["seq"])))
            return MessagePage([_record(r) for r in rows],
                               encode_cursor(_ts(following[0]), following[1]) if following is not None else None)

        return await self._run(op, transaction=False)

    @staticmethod
    async def _page(conn: Any, channel: str | None, direction: str | None, status: str | None, number: str | None,
                    text: str | None, after: tuple[datetime, int] | None, limit: int
                    ) -> tuple[list[Any], tuple[datetime, int] | None]:
        """One page's rows (at most `limit`, newest first) and where the next page starts, (created_at, seq):
        every match from `after` down to that point is in the rows; None when nothing older matches."""
        # conditions as (SQL with `?` for each value, values): each query numbers its own ($1, $2, ...)
        Condition = tuple[str, tuple[Any, ...]]
        indexed: list[Condition] = []  # served by an index: channel, contact, the cursor on (created_at, seq)
        if channel:
            indexed.append(("channel = ?", (channel,)))
        if number:
            indexed.append((f"{_CONTACT} = ?", (number,)))
        if not indexed and status:  # messages_by_status: a rare status is found at once, however old
            indexed.append(("status = ?", (status,)))
            status = None
        if not indexed and direction:  # messages_by_direction
            indexed.append(("direction = ?", (direction,)))
            direction = None
        if after is not None:
            indexed.append(("(created_at, seq) < (?, ?)", after))
        filters: list[Condition] = [(f"{name} = ?", (value,)) for name, value in
                                    (("direction", direction), ("status", status)) if value is not None]
        if text:
            pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            filters.append(("text ILIKE ?", (pattern,)))
        order = " ORDER BY created_at DESC, seq DESC"

        def query(head: str, conditions: list[Condition], tail: str, *extra: Any) -> tuple[Any, ...]:
            values = [v for _, vs in conditions for v in vs] + list(extra)
            numbers = iter(range(1, len(values) + 1))
            sql = head + where([c for c, _ in conditions]) + tail
            return (re.sub(r"\?", lambda _m: f"${next(numbers)}", sql), *values)

        def full(rows: list[Any]) -> tuple[list[Any], tuple[datetime, int] | None]:
            if len(rows) > limit:  # a full page: the next one starts after its last row
                return rows[:limit], (rows[limit - 1]["created_at"], rows[limit - 1]["seq"])
            return rows, None

        select = "SELECT * FROM messages"
        if not filters:
            return full(await conn.fetch(*query(select, indexed, order + " LIMIT ?", limit + 1)))
        # the newest _SCAN rows the index yields bound what this page examines
        edge = await conn.fetchrow(*query("SELECT created_at, seq FROM messages", indexed,
                                          order + " LIMIT 1 OFFSET ?", _SCAN - 1))
        window = list(indexed)
        if edge is not None:
            window.append(("(created_at, seq) >= (?, ?)", (edge["created_at"], edge["seq"])))
        rows = await conn.fetch(*query(select, window + filters, order + " LIMIT ?", limit + 1))
        if len(rows) > limit or edge is None:
            return full(rows)
        # the window ran out before the page filled: go on from its oldest row, if anything is older
        beyond = ("(created_at, seq) < (?, ?)", (edge["created_at"], edge["seq"]))
        older = await conn.fetchval(*query("SELECT 1 FROM messages", [*indexed, beyond], " LIMIT 1"))
        return rows, ((edge["created_at"], edge["seq"]) if older else None)

    async def hourly_counts(self, since: datetime, *, channel: str | None = None) -> list[HourCount]:
        """Messages created since `since`, counted per channel, UTC hour, direction and current status."""
        extra = " AND channel = $2" if channel else ""
        args: tuple[Any, ...] = (since, channel) if channel else (since,)

        async def op(conn: Any) -> list[HourCount]:
            rows = await conn.fetch(
                "SELECT channel, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24') AS hour, direction,"
                f" status, count(*) AS n FROM messages WHERE created_at >= $1{extra}"
                " GROUP BY channel, hour, direction, status ORDER BY hour", *args)
            return [HourCount(r["channel"], r["hour"], r["direction"], r["status"], r["n"]) for r in rows]

        return await self._run(op, transaction=False)

    async def backlog(self) -> Backlog:
        """Pending sends per channel and undelivered outbox items, each with the age of the oldest."""

        async def op(conn: Any) -> Backlog:
            queued = {r["channel"]: (r["n"], _when(r["oldest"])) for r in await conn.fetch(
                "SELECT channel, count(*) AS n, min(created_at) AS oldest FROM messages"
                " WHERE status IN ('queued', 'errored') AND direction = 'out' GROUP BY channel")}
            row = await conn.fetchrow("SELECT count(*) AS n, min(created_at) AS oldest FROM outbox"
                                      " WHERE done_at IS NULL")
            return Backlog(queued, row["n"], _when(row["oldest"]))

        return await self._run(op, transaction=False)

    async def last_errors(self, channels: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Per channel of `channels`, its newest channel log that holds an error (redacted, as stored)."""
        names = list(dict.fromkeys(channels))
        if not names:
            return {}

        async def op(conn: Any) -> dict[str, dict[str, Any]]:
            # one index probe per channel (logs_errors), where a GROUP BY would read every error
            rows = await conn.fetch(
                "SELECT c.name, l.data FROM unnest($1::text[]) AS c(name) CROSS JOIN LATERAL"
                " (SELECT data FROM channel_logs WHERE channel = c.name AND is_error ORDER BY seq DESC LIMIT 1) l",
                names)
            return {r["name"]: loads_stored(r["data"]) for r in rows}

        return await self._run(op, transaction=False)

    async def outbox_for(self, key: str, *, limit: int = 100) -> list[dict[str, Any]]:
        """The outbox items (webhook and bridge calls, delivered or not) of ordering key `key` (a message id),
        oldest first."""

        async def op(conn: Any) -> list[dict[str, Any]]:
            return [_outbox_item(r) for r in await conn.fetch(
                "SELECT * FROM outbox WHERE key = $1 ORDER BY seq LIMIT $2", key, limit)]

        return await self._run(op, transaction=False)
