"""What the platform hears: the one place that decides which stored outcomes become events, and what each says.

An event is a new incoming message, a status that moved forward (queued included), or an opt-out. The store
builds them inside the transaction that stores the outcome, so its planner turns them into webhook and bridge
calls atomically; the gateway fires the plugin hooks from the same list after the commit. Webhooks and hooks
therefore cannot disagree about what happened, or in which order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from ._models import Event, IncomingMessage, MessageRecord, OptOut, Status, StatusUpdate, utcnow

__all__ = ["OPTED_OUT", "RECEIVED", "STATUS_CHANGED", "TYPES", "PlatformEvent", "from_inbound", "made_by",
           "opted_out", "received", "status_changed", "timestamp"]

RECEIVED = "message.received"
STATUS_CHANGED = "message.status_changed"
OPTED_OUT = "contact.opted_out"
TYPES = (RECEIVED, STATUS_CHANGED, OPTED_OUT)
"""Every event type, as webhooks name them."""


def timestamp(value: datetime | None = None) -> str:
    """The stored and published form of a time: ISO 8601 in UTC, to the microsecond."""
    return (value or utcnow()).astimezone(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True, slots=True)
class PlatformEvent:
    """One thing the platform hears about: a webhook's type and data, and the plugin hook's arguments."""

    type: str
    channel: str
    key: str
    """Events with one key are delivered in order (one message's statuses, one contact's opt-outs)."""
    at: str
    subject: IncomingMessage | StatusUpdate | OptOut
    previous: Status | None = None
    current: Status | None = None
    message: MessageRecord | None = None
    """The message as stored, when the store read it for the payload (only a planner needs it)."""

    @property
    def data(self) -> dict[str, Any]:
        """The webhook payload's `data`: the format receivers parse, documented in docs/gateway.md. `tenant` is
        the tenant that sent an outgoing message (the platform fills in the tenant owning the channel of an
        incoming message or an opt-out)."""
        subject = self.subject
        if isinstance(subject, IncomingMessage):
            return {"id": subject.id, "channel": self.channel, "from": subject.from_, "to": subject.to,
                    "text": subject.text, "attachments": subject.attachments, "external_id": subject.external_id,
                    "received_at": timestamp(subject.received_at), "tenant": None}
        if isinstance(subject, OptOut):
            return {"channel": self.channel, "address": subject.address, "reason": subject.reason,
                    "at": timestamp(subject.at), "tenant": None}
        record = self.message
        return {"id": subject.message_id, "channel": self.channel,
                "status": self.current.value if self.current else subject.status.value,
                "previous": self.previous.value if self.previous else None,
                "to": record.to if record else None, "from": record.from_ if record else None,
                "external_id": subject.external_id, "external_ids": record.external_ids if record else [],
                "segments": record.segments if record else 0, "error_code": subject.error_code,
                "error_reason": subject.error_reason, "metadata": record.metadata if record else {},
                "at": timestamp(subject.at), "tenant": record.tenant if record else None}


def received(channel: str, message: IncomingMessage) -> PlatformEvent:
    """A new incoming message (not a retried delivery of one already stored)."""
    return PlatformEvent(RECEIVED, channel, message.id, timestamp(), message)


def status_changed(channel: str, update: StatusUpdate, previous: Status | None, current: Status,
                   message: MessageRecord | None = None) -> PlatformEvent:
    """A message's status moved forward (`previous` None: the message was just queued)."""
    assert update.message_id is not None
    return PlatformEvent(STATUS_CHANGED, channel, update.message_id, timestamp(update.at), update, previous,
                         current, message)


def opted_out(channel: str, event: OptOut) -> PlatformEvent:
    """A contact asked to stop (a stop request, or an aggregator's opted-out error)."""
    return PlatformEvent(OPTED_OUT, channel, f"opt-out:{channel}:{event.address}", timestamp(event.at), event)


class _Change(Protocol):
    """What applying a status did (`smsgate.store.StatusChange`)."""

    @property
    def message_id(self) -> str | None: ...
    @property
    def previous(self) -> Status | None: ...
    @property
    def current(self) -> Status | None: ...
    @property
    def applied(self) -> bool: ...


class _Outcome(Protocol):
    """What the store made of one inbound event (`smsgate.store.InboundOutcome`)."""

    @property
    def event(self) -> Event: ...
    @property
    def created(self) -> bool: ...
    @property
    def change(self) -> _Change | None: ...


def made_by(channel: str, outcome: _Outcome, read: Callable[[str], MessageRecord | None] | None = None
            ) -> tuple[PlatformEvent, ...]:
    """The events one stored inbound event makes: a new message, an applied status move, an opt-out; else none.

    `read` loads a message for a status event's payload (inside the storing transaction); None skips it.
    """
    event, change = outcome.event, outcome.change
    if isinstance(event, IncomingMessage) and outcome.created:
        return (received(channel, event),)
    if isinstance(event, StatusUpdate) and change is not None and change.applied:
        assert change.message_id is not None and change.current is not None
        update = event if event.message_id == change.message_id else _with_id(event, change.message_id)
        return (status_changed(channel, update, change.previous, change.current,
                               read(change.message_id) if read else None),)
    if isinstance(event, OptOut):
        return (opted_out(channel, event),)
    return ()


def from_inbound(channel: str, outcomes: Sequence[_Outcome],
                 read: Callable[[str], MessageRecord | None] | None = None) -> list[PlatformEvent]:
    """The events of every outcome of one request, in order."""
    return [event for outcome in outcomes for event in made_by(channel, outcome, read)]


def _with_id(update: StatusUpdate, message_id: str) -> StatusUpdate:
    """`update` naming the message it was matched to (a report may name it by the aggregator's id only)."""
    return StatusUpdate(update.channel, update.status, message_id, update.external_id, update.error_code,
                        update.error_reason, update.at, update.raw)
