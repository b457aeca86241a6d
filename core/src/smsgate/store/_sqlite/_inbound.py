"""What aggregators report: inbound events in one transaction, parts of messages, channel logs."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Sequence
from functools import cached_property

from ... import _events
from ..._events import PlatformEvent
from ..._events import timestamp as _ts
from ..._http._channellog import ChannelLog
from ..._json import loads_stored
from ..._models import Event, IncomingMessage
from ...errors import StoreUnavailable
from .._coalesce import Coalescer
from .._records import (
    Fragment,
    FragmentJoin,
    InboundOutcome,
)
from ._base import _Base
from ._rows import _ROWS_PER_STATEMENT, _insert_log, _insert_logs
from ._statuses import _NEW_MESSAGE, _NEW_MESSAGE_ROW, _new_message_outcome, _new_message_row, _store_event

_Request = tuple[str, Sequence[IncomingMessage], ChannelLog | None]
"""One inbound request of new messages only: its channel, its messages, its log."""


class _Inbound(_Base):
    """What aggregators report: inbound events in one transaction, parts of messages, channel logs."""

    async def record_inbound(self, channel: str, events: Sequence[Event], log: ChannelLog | None
                             ) -> list[InboundOutcome]:
        """Store every event of one inbound request in one transaction."""

        if all(isinstance(e, IncomingMessage) for e in events):
            return await self._new_messages((channel, events, log))  # type: ignore[arg-type]
        return await self._call(lambda conn: self._store_request(conn, channel, events, log))

    def _store_request(self, conn: sqlite3.Connection, channel: str, events: Sequence[Event],
                       log: ChannelLog | None) -> list[InboundOutcome]:
        outcomes = self._store_events(conn, channel, events, log)
        if log is not None:
            _insert_log(conn, log)
        return outcomes

    @cached_property
    def _new_messages(self) -> Coalescer[_Request, list[InboundOutcome]]:
        """The requests of one loop tick that bring only new messages (an aggregator's usual callback): one
        writer job, their messages in one multi-row INSERT and their logs in another, instead of two statements
        each (every statement costs the writer thread the interpreter lock back from the busy event loop).

        New messages only write rows (and set ids that come out the same again), so the job may run twice (see
        `_Writer.submit_async`). When it fails, each request is stored in a job of its own, so the one that
        failed fails alone."""

        async def run(items: list[_Request]) -> list[list[InboundOutcome] | BaseException]:
            try:
                return list(await self._call(lambda conn: self._store_new(conn, items), rerunnable=True))
            except StoreUnavailable:
                raise  # the transaction did not commit: every caller hears it, as each would alone
            except Exception:
                return list(await asyncio.gather(*(self._store_alone(item) for item in items),
                                                 return_exceptions=True))

        return Coalescer(run)

    async def _store_alone(self, item: _Request) -> list[InboundOutcome]:
        channel, events, log = item
        return await self._call(lambda conn: self._store_request(conn, channel, events, log))

    def _store_new(self, conn: sqlite3.Connection, items: list[_Request]) -> list[list[InboundOutcome]]:
        """`_store_request` for requests of new messages only, a statement per table for all of them."""
        pairs = [(channel, event) for channel, events, _log in items for event in events]
        created: set[str] = set()
        for start in range(0, len(pairs), _ROWS_PER_STATEMENT):
            chunk = pairs[start:start + _ROWS_PER_STATEMENT]
            values = [v for channel, event in chunk for v in _new_message_row(channel, event)]
            created.update(row[0] for row in conn.execute(
                _NEW_MESSAGE + ",".join([_NEW_MESSAGE_ROW] * len(chunk)) + " RETURNING id", values))
        read = self._reader(conn)
        answers: list[list[InboundOutcome]] = []
        made_all: list[PlatformEvent] = []
        for channel, events, log in items:
            outcomes = []
            for event in events:
                outcome = _new_message_outcome(conn, channel, event, event.id in created, log)
                made = _events.made_by(channel, outcome, read)
                outcomes.append(InboundOutcome(outcome.event, outcome.created, outcome.change, made) if made
                                else outcome)
                made_all.extend(made)
            answers.append(outcomes)
        self._plan(conn, made_all)
        _insert_logs(conn, [log for _channel, _events_, log in items if log is not None])
        return answers

    def _store_events(self, conn: sqlite3.Connection, channel: str, events: Sequence[Event],
                      log: ChannelLog | None) -> list[InboundOutcome]:
        """Store inbound events, each outcome with the platform events it makes, planned in this transaction."""
        read = self._reader(conn)
        outcomes = []
        for event in events:
            outcome = _store_event(conn, channel, event, log)
            made = _events.made_by(channel, outcome, read)
            outcomes.append(InboundOutcome(outcome.event, outcome.created, outcome.change, made) if made
                            else outcome)
        self._plan(conn, [e for outcome in outcomes for e in outcome.platform_events])
        return outcomes

    async def add_log(self, log: ChannelLog) -> None:
        """Store a channel log on its own."""
        await self._call(lambda conn: _insert_log(conn, log))

    async def add_fragment(self, channel: str, fragment: Fragment, join: FragmentJoin, log: ChannelLog | None
                           ) -> tuple[bool, list[InboundOutcome]]:
        """Durably keep one part; when all parts of its key are in, store `join(parts)`'s events in the same
        transaction. (False for a part already held; the stored outcomes, or [] while parts are missing.)

        A part equal to one already held (a redelivery, even after the join) is not kept twice. A different part
        at a held position means the sender reused the key for a new message: the old parts are joined as they
        are (still unjoined ones reach `join` incomplete) and the new message starts. `join` runs on the store's
        writer thread inside the transaction, so it must be quick and must not raise.
        """
        data = json.dumps(fragment.data, sort_keys=True, ensure_ascii=False)

        def held_parts(conn: sqlite3.Connection) -> list[Fragment]:
            rows = conn.execute("SELECT * FROM fragments WHERE channel = ? AND key = ? AND joined_at IS NULL"
                                " ORDER BY idx", (channel, fragment.key)).fetchall()
            return [Fragment(r["key"], r["idx"], r["total"], loads_stored(r["data"])) for r in rows]

        def op(conn: sqlite3.Connection) -> tuple[bool, list[InboundOutcome]]:
            outcomes: list[InboundOutcome] = []
            held = conn.execute("SELECT data, total FROM fragments WHERE channel = ? AND key = ? AND idx = ?",
                                (channel, fragment.key, fragment.index)).fetchone()
            if held is not None and held["data"] == data and held["total"] == fragment.total:
                if log is not None:
                    _insert_log(conn, log)
                return False, outcomes
            if held is not None:  # the key now names another message: finish the old one as it is
                leftover = held_parts(conn)
                if leftover:
                    outcomes += self._store_events(conn, channel, join(leftover), log)
                conn.execute("DELETE FROM fragments WHERE channel = ? AND key = ?", (channel, fragment.key))
            else:  # parts of a finished message with this key (other positions) belong to that one
                conn.execute("DELETE FROM fragments WHERE channel = ? AND key = ? AND joined_at IS NOT NULL",
                             (channel, fragment.key))
            now = _ts()
            conn.execute("INSERT INTO fragments (channel, key, idx, total, data, created_at) VALUES (?,?,?,?,?,?)",
                         (channel, fragment.key, fragment.index, fragment.total, data, now))
            present = held_parts(conn)
            if len(present) >= fragment.total:
                outcomes += self._store_events(conn, channel, join(present), log)
                conn.execute("UPDATE fragments SET joined_at = ? WHERE channel = ? AND key = ?",
                             (now, channel, fragment.key))
            if log is not None:
                _insert_log(conn, log)
            return True, outcomes

        return await self._call(op)

    async def known_inbound(self, channel: str, external_ids: Sequence[str]) -> set[str]:
        """Which of `external_ids` are stored incoming messages of `channel`."""
        ids = list(external_ids)
        if not ids:
            return set()

        def op(conn: sqlite3.Connection) -> set[str]:
            marks = ",".join("?" * len(ids))
            return {r["external_id"] for r in conn.execute(
                "SELECT external_id FROM messages WHERE channel = ? AND direction = 'in'"
                f" AND external_id IN ({marks})", (channel, *ids))}

        return await self._call(op)
