"""The `Store` protocol: the one seam a storage backend implements (SQLite, PostgreSQL).

Every write is durable when its coroutine returns: the gateway answers 2xx only after that. Grouped as
nyaruka/courier groups its backend, by entity: outgoing messages and their sends, inbound events, channel
logs, the platform outbox, and upkeep. `smsgate.store.conformance` holds the tests every backend passes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

from .._http._channellog import ChannelLog
from .._models import Event, MessageRecord, OutgoingMessage, SendResult
from ._records import (
    Added,
    Backlog,
    Fragment,
    FragmentJoin,
    HourCount,
    InboundOutcome,
    Limits,
    MessagePage,
    OutboxPlanner,
    OutboxRow,
    StatusChange,
)

__all__ = ["Reads", "SessionRevocations", "Store"]


class Reads(Protocol):
    """What the console, the API, the CLI's read commands and the metrics read: messages, logs, the outbox, counts."""

    async def get_message(self, message_id: str) -> MessageRecord | None:
        """One message with its status history, or None."""

    async def list_messages(self, *, channel: str | None = None, status: str | None = None,
                            direction: str | None = None, limit: int = 50) -> list[MessageRecord]:
        """Messages newest first, optionally filtered (pages: `find_messages`)."""

    async def opt_outs(self, *, channel: str | None = None) -> list[dict[str, Any]]:
        """Stored opt-out events, oldest first."""

    # -- channel logs -------------------------------------------------------------------------------------

    async def list_logs(self, *, channel: str | None = None, message_id: str | None = None,
                        errors_only: bool = False, limit: int = 50) -> list[dict[str, Any]]:
        """Channel logs newest first (redacted when they were recorded)."""

    # -- the platform outbox ----------------------------------------------------------------------------

    async def outbox_items(self, *, pending: bool | None = None, limit: int = 100, newest_first: bool = False
                           ) -> list[dict[str, Any]]:
        """Outbox items oldest (or newest) first, optionally only pending (True) or delivered (False) ones."""

    # -- reads for operators (the web console, /metrics); none of them may need a full scan of messages --

    async def find_messages(self, *, channel: str | None = None, direction: str | None = None,
                            status: str | None = None, number: str | None = None, text: str | None = None,
                            cursor: str | None = None, limit: int = 50,
                            channels: Sequence[str] | None = None) -> MessagePage:
        """Messages newest first matching every filter given (`number`: the contact, `text`: a substring,
        case-insensitive; `channels`: on any of these, what a tenant sees), from `cursor` (a page's
        `next_cursor`) on: keyset pagination, as fast deep as first."""

    async def hourly_counts(self, since: datetime, *, channel: str | None = None) -> list[HourCount]:
        """Messages created since `since`, counted per channel, UTC hour, direction and current status."""

    async def backlog(self) -> Backlog:
        """Pending sends per channel and undelivered outbox items, each with the age of the oldest."""

    async def last_errors(self, channels: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Per channel of `channels`, its newest channel log that holds an error (redacted, as stored)."""

    async def outbox_for(self, key: str, *, limit: int = 100) -> list[dict[str, Any]]:
        """The outbox items (webhook and bridge calls, delivered or not) of ordering key `key` (a message id),
        oldest first."""

    async def ping(self) -> bool:
        """Whether the database answers now (`/healthz`)."""


class SessionRevocations(Protocol):
    """Console sessions that were signed out, so that signing out on one instance ends the session on all."""

    async def revoke_session(self, sid: str, until: datetime) -> None:
        """Refuse console session `sid` from now until `until` (when its cookie would have expired anyway)."""

    async def session_revoked(self, sid: str) -> bool:
        """Whether console session `sid` was signed out (on any instance)."""


class Store(Reads, SessionRevocations, Protocol):
    """What the gateway, the worker, the outbox and the CLI need from storage."""

    # -- outgoing messages and their sends ------------------------------------------------------------

    async def add_outgoing(self, message: OutgoingMessage, claim_for: float | None = None,
                           limits: Limits | None = None) -> Added:
        """Store a new queued message (a known id: the stored one, not created); claim it if `claim_for`
        seconds are given, in the same write; a new message counts against its tenant's `limits` in that write
        (LimitReached, and nothing stored, past them: shared by every instance on one database)."""

    async def claim(self, message_id: str, lease_seconds: float = 300) -> MessageRecord | None:
        """Take a queued or errored message for sending; None if it is wired, final or taken by another worker."""

    async def claim_due(self, channel: str, *, limit: int = 100, lease_seconds: float = 300,
                        routed: bool = False) -> list[MessageRecord]:
        """Claim up to `limit` due messages of `channel` (as `due` lists them) in one write, oldest first; with
        several instances on one database, each message goes to one of them (the send worker's round).
        `routed`: only messages a route may move to another channel (the worker's, for a channel that is down)."""

    async def due(self, channel: str, *, limit: int = 100) -> list[MessageRecord]:
        """Pending messages of `channel` the worker may attempt now (unclaimed, past their backoff), oldest first."""

    async def renew(self, message_id: str, lease_seconds: float) -> bool:
        """Extend a live claim; False when the message is no longer claimed."""

    async def mark_sending(self, message_id: str) -> bool:
        """Record that a request of the current claim is going out (the send is in doubt until its outcome);
        False when the claim is no longer the caller's (the message left the queue, or its lease lapsed and
        another instance took it): then that request must not go out."""

    async def clear_in_doubt(self, message_id: str) -> None:
        """Forget that an unclaimed message's last request went out, so it is retried."""

    async def schedule_retry(self, message_id: str, at: datetime) -> None:
        """Do not attempt an errored message again before `at`."""

    async def record_send(self, message_id: str, result: SendResult, log: ChannelLog | None) -> StatusChange:
        """Store a send's outcome, its external ids, its events and its channel log; release the claim."""

    async def reroute(self, message_id: str, channel: str, to: str, from_: str, *, error_code: str,
                      error_reason: str, log: ChannelLog | None) -> StatusChange:
        """Move a pending message the caller holds to `channel`, the next of its route, keeping the claim (and one
        id): the channel it leaves keeps an `errored` row in its history saying why (`error_code`,
        `error_reason`), with `log`; its "sending" mark is cleared, since no request of it reached that channel's
        aggregator. Unapplied when the message is no longer pending or no longer the caller's."""

    async def fail_message(self, message_id: str, error_code: str, error_reason: str, *,
                           held: bool = False) -> StatusChange:
        """Make a pending message `failed` (the worker gave up): an unclaimed one, or with `held` one the caller
        claimed and did not attempt (that claim's count is taken back); unapplied if it is not pending."""

    # -- inbound ------------------------------------------------------------------------------------------

    async def record_inbound(self, channel: str, events: Sequence[Event], log: ChannelLog | None
                             ) -> list[InboundOutcome]:
        """Store every event of one inbound request in one transaction; status lookups only within `channel`."""

    async def add_fragment(self, channel: str, fragment: Fragment, join: FragmentJoin, log: ChannelLog | None
                           ) -> tuple[bool, list[InboundOutcome]]:
        """Durably keep one part; when all parts of its key are in, store `join(parts)`'s events in the same
        transaction. (False for a part already held; the stored outcomes, or [] while parts are missing.)"""

    async def known_inbound(self, channel: str, external_ids: Sequence[str]) -> set[str]:
        """Which of `external_ids` are stored incoming messages of `channel`."""

    # -- channel logs and the platform outbox --------------------------------------------------------------

    async def add_log(self, log: ChannelLog) -> None:
        """Store a channel log on its own."""

    def set_planner(self, planner: OutboxPlanner | None) -> None:
        """Turn every stored platform event into outbox rows with `planner`, in the event's own transaction."""

    async def outbox_due(self, *, limit: int = 100, lease_seconds: float = 60) -> list[OutboxRow]:
        """Take the first undelivered item of each (target, key) that is due, oldest first."""

    async def outbox_done(self, item_id: str) -> None:
        """Mark an outbox item delivered."""

    async def outbox_retry(self, item_id: str, at: datetime, error: str) -> None:
        """Release an outbox item after a failed delivery; try again at `at`."""

    async def outbox_renew(self, item_ids: Sequence[str], lease_seconds: float) -> None:
        """Extend the leases of items a dispatcher took and is still delivering (`outbox_due`), so a short
        lease suffices: a dead dispatcher's items are free soon, a live one's never lapse mid-delivery."""

    async def outbox_release(self) -> None:
        """Release every outbox claim: for an operator who knows no dispatcher runs (claims otherwise expire)."""

    # -- leases ---------------------------------------------------------------------------------------------

    async def lease(self, name: str, holder: str, seconds: float) -> bool:
        """Take or renew lease `name` for `holder` for `seconds`; False while another holder's lease is live
        (e.g. at most `max_binds` instances hold an SMPP bind per channel)."""

    async def release(self, name: str, holder: str) -> None:
        """Give lease `name` up if `holder` holds it."""

    # -- upkeep -------------------------------------------------------------------------------------------

    def subscribe(self, listener: Callable[[str], None]) -> None:
        """Call `listener("queued")` / `listener("outbox")` when such rows are committed (from any thread)."""

    async def prune(self, before: datetime) -> int:
        """Delete channel logs, delivered outbox items and joined fragments older than `before`; rows deleted."""

    async def prune_messages(self, before: datetime) -> int:
        """Delete finished messages (any status but queued and errored) created before `before`, with their
        status history and external ids, and status reports that named no message, recorded before `before`;
        in short writes, so callbacks never wait behind it. The number of messages deleted."""

    async def close(self) -> None:
        """Finish pending writes and close."""
