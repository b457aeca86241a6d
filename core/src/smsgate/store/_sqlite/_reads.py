"""Reads for the API, the CLI and the console, each served by an index, on the reader threads."""

from __future__ import annotations

import sqlite3
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
from ._rows import _filters, _full, _record

# the contact of a message (whom it is from or to); messages_by_contact indexes exactly this expression
_CONTACT = "(CASE direction WHEN 'in' THEN from_addr ELSE to_addr END)"


# keyset: rows strictly older than (created_at, rowid), in the listing's order
_OLDER = "created_at <= ? AND (created_at < ? OR rowid < ?)"


# rows one page may examine when it filters by direction, status or text (no index serves those: a status index
# would be rewritten on every status change of the send path): about 30 ms of SQLite time here
_SCAN = 100_000


class _Reads(_Base):
    """Reads for the API, the CLI and the console, each served by an index, on the reader threads."""

    async def get_message(self, message_id: str) -> MessageRecord | None:
        """One message with its status history, or None."""

        return await self._read(lambda conn: _full(conn, message_id))

    async def list_messages(self, *, channel: str | None = None, status: str | None = None,
                            direction: str | None = None, limit: int = 50) -> list[MessageRecord]:
        """Messages newest first, optionally filtered (pages: `find_messages`)."""
        where, args = _filters(channel=channel, status=status, direction=direction)

        def op(conn: sqlite3.Connection) -> list[MessageRecord]:
            rows = conn.execute(f"SELECT * FROM messages{where} ORDER BY created_at DESC, rowid DESC LIMIT ?",
                                (*args, limit)).fetchall()
            return [_record(r) for r in rows]

        return await self._read(op)

    async def list_logs(self, *, channel: str | None = None, message_id: str | None = None,
                        errors_only: bool = False, limit: int = 50) -> list[dict[str, Any]]:
        """Channel logs newest first (already redacted when they were recorded)."""
        where, args = _filters(channel=channel, message_id=message_id)
        if errors_only:
            where += (" AND" if where else " WHERE") + " is_error = 1"

        def op(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = conn.execute(f"SELECT data FROM channel_logs{where} ORDER BY seq DESC LIMIT ?",
                                (*args, limit)).fetchall()
            return [loads_stored(r["data"]) for r in rows]

        return await self._read(op)

    async def opt_outs(self, *, channel: str | None = None) -> list[dict[str, Any]]:
        """Stored opt-out events, oldest first."""
        where, args = _filters(channel=channel)

        def op(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            return [dict(r) for r in conn.execute(
                f"SELECT channel, address, reason, at FROM opt_outs{where} ORDER BY seq", args)]

        return await self._read(op)

    async def find_messages(self, *, channel: str | None = None, direction: str | None = None,
                            status: str | None = None, number: str | None = None, text: str | None = None,
                            cursor: str | None = None, limit: int = 50,
                            channels: Sequence[str] | None = None) -> MessagePage:
        """Messages newest first matching every filter given (`number`: the contact, `text`: a substring,
        case-insensitive for ASCII; `channels`: any of these, as a tenant sees), from `cursor` on; ValueError for
        a cursor this store did not make.

        Keyset pagination on (created_at, rowid) over an index (by channel, by contact, by status, by
        direction, or by time): a deep page costs what the first does. Filters that index does not serve
        (direction or status beside a channel or a contact, text) filter the rows it yields, so a page examines
        at most `_SCAN` of them: one that finds fewer matches still returns a cursor, from which the next page
        goes on searching older messages. No page reads the whole table. With several `channels`, each
        channel's index gives its page and the pages are merged (`merge_pages`).
        """
        if channels is not None and channel is None and len(set(channels)) != 1:
            after = decode_cursor(cursor) if cursor is not None else None

            def merged(conn: sqlite3.Connection) -> MessagePage:
                found = [self._page(conn, name, direction, status, number, text, after, limit)
                         for name in sorted(set(channels))]
                rows, following = merge_pages(found, limit, lambda r: (r["created_at"], r["row_id"]))
                return MessagePage([_record(r) for r in rows],
                                   encode_cursor(*following) if following is not None else None)

            return await self._read(merged)
        if channels is not None:
            if channel is None:
                channel = channels[0]
            elif channel not in channels:
                return MessagePage([], None)
        after = decode_cursor(cursor) if cursor is not None else None

        def op(conn: sqlite3.Connection) -> MessagePage:
            rows, following = self._page(conn, channel, direction, status, number, text, after, limit)
            return MessagePage([_record(r) for r in rows], encode_cursor(*following) if following else None)

        return await self._read(op)

    @staticmethod
    def _page(conn: sqlite3.Connection, channel: str | None, direction: str | None, status: str | None,
              number: str | None, text: str | None, after: tuple[str, int] | None, limit: int
              ) -> tuple[list[sqlite3.Row], tuple[str, int] | None]:
        """One page's rows (at most `limit`, newest first) and where the next page starts, (created_at, rowid):
        every match from `after` down to that point is in the rows; None when nothing older matches."""
        indexed: list[str] = []  # served by an index: channel, contact, and the cursor on created_at
        params: list[Any] = []
        if channel:
            indexed.append("channel = ?")
            params.append(channel)
        if number:
            indexed.append(f"{_CONTACT} = ?")
            params.append(number)
        if not indexed and status:  # messages_by_status: a rare status is found at once, however old
            indexed.append("status = ?")
            params.append(status)
            status = None
        if not indexed and direction:  # messages_by_direction
            indexed.append("direction = ?")
            params.append(direction)
            direction = None
        if after is not None:
            created, rowid = after
            indexed.append(_OLDER)
            params += [created, created, rowid]
        filtered, values = _filters(direction=direction, status=status)
        filters = [filtered.removeprefix(" WHERE ")] if filtered else []
        filter_params: list[Any] = list(values)
        if text:
            filters.append("text LIKE ? ESCAPE '\\'")
            filter_params.append("%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
        order = " ORDER BY created_at DESC, rowid DESC"
        select = "SELECT rowid AS row_id, * FROM messages"

        def full(rows: list[sqlite3.Row]) -> tuple[list[sqlite3.Row], tuple[str, int] | None]:
            if len(rows) > limit:  # a full page: the next one starts after its last row
                return rows[:limit], (rows[limit - 1]["created_at"], rows[limit - 1]["row_id"])
            return rows, None

        if not filters:
            return full(conn.execute(select + where(indexed) + order + " LIMIT ?", (*params, limit + 1)).fetchall())
        # the newest _SCAN rows the index yields bound what this page examines
        edge = conn.execute("SELECT rowid AS row_id, created_at FROM messages" + where(indexed) + order
                            + " LIMIT 1 OFFSET ?", (*params, _SCAN - 1)).fetchone()
        window = list(indexed)
        window_params = list(params)
        if edge is not None:
            window.append("created_at >= ? AND (created_at > ? OR rowid >= ?)")
            window_params += [edge["created_at"], edge["created_at"], edge["row_id"]]
        rows = conn.execute(select + where(window + filters) + order + " LIMIT ?",
                            (*window_params, *filter_params, limit + 1)).fetchall()
        if len(rows) > limit or edge is None:
            return full(rows)
        # the window ran out before the page filled: go on from its oldest row, if anything is older
        older = conn.execute("SELECT 1 FROM messages" + where([*indexed, _OLDER]) + " LIMIT 1",
                             (*params, edge["created_at"], edge["created_at"], edge["row_id"])).fetchone()
        return rows, ((edge["created_at"], edge["row_id"]) if older else None)

    async def hourly_counts(self, since: datetime, *, channel: str | None = None) -> list[HourCount]:
        """Messages created since `since`, counted per channel, UTC hour, direction and current status."""
        extra = " AND channel = ?" if channel else ""
        args: tuple[str, ...] = (_ts(since), channel) if channel else (_ts(since),)

        def op(conn: sqlite3.Connection) -> list[HourCount]:
            rows = conn.execute(
                "SELECT channel, substr(created_at, 1, 13) AS hour, direction, status, count(*) AS n FROM messages"
                f" WHERE created_at >= ?{extra} GROUP BY channel, hour, direction, status ORDER BY hour", args)
            return [HourCount(r["channel"], r["hour"], r["direction"], r["status"], r["n"]) for r in rows]

        return await self._read(op)

    async def backlog(self) -> Backlog:
        """Pending sends per channel and undelivered outbox items, each with the age of the oldest."""

        def op(conn: sqlite3.Connection) -> Backlog:
            queued = {r["channel"]: (r["n"], r["oldest"]) for r in conn.execute(
                # the partial index holds exactly the pending sends, by channel: the cost is the backlog
                "SELECT channel, count(*) AS n, min(created_at) AS oldest FROM messages INDEXED BY messages_due"
                " WHERE status IN ('queued', 'errored') AND direction = 'out' GROUP BY channel")}
            row = conn.execute("SELECT count(*) AS n, min(created_at) AS oldest FROM outbox WHERE done_at IS NULL"
                               ).fetchone()
            return Backlog(queued, row["n"], row["oldest"])

        return await self._read(op)

    async def last_errors(self, channels: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Per channel of `channels`, its newest channel log that holds an error (redacted, as stored)."""

        def op(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
            found = {}
            for name in channels:  # one index probe each (logs_errors), where a GROUP BY would read every error
                row = conn.execute("SELECT data FROM channel_logs WHERE channel = ? AND is_error = 1"
                                   " ORDER BY seq DESC LIMIT 1", (name,)).fetchone()
                if row is not None:
                    found[name] = loads_stored(row["data"])
            return found

        return await self._read(op)

    async def outbox_for(self, key: str, *, limit: int = 100) -> list[dict[str, Any]]:
        """The outbox items (webhook and bridge calls, delivered or not) of ordering key `key` (a message id),
        oldest first."""

        def op(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = conn.execute("SELECT * FROM outbox WHERE key = ? ORDER BY seq LIMIT ?", (key, limit)).fetchall()
            return [{**dict(r), "payload": loads_stored(r["payload"])} for r in rows]

        return await self._read(op)
