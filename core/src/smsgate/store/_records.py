"""What the store answers: the outcome of each write, and the outbox's items and rows."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._events import PlatformEvent
from .._models import Event, MessageRecord, Status

__all__ = ["Added", "Backlog", "Fragment", "FragmentJoin", "HourCount", "InboundOutcome", "Limits", "MessagePage",
           "OutboxItem", "OutboxPlanner", "OutboxRow", "StatusChange"]


@dataclass(frozen=True, slots=True)
class StatusChange:
    """What applying a status did: the message it hit, its status before and after, and whether it moved."""

    message_id: str | None
    previous: Status | None
    current: Status | None
    applied: bool
    record: MessageRecord | None = field(default=None, compare=False, repr=False)
    """The message as stored after the change, with its history, when the store read it anyway."""
    platform_events: tuple[PlatformEvent, ...] = field(default=(), compare=False, repr=False)
    """What the platform hears about this write (webhooks were planned from these; hooks fire from them)."""


@dataclass(frozen=True, slots=True)
class InboundOutcome:
    """The stored result of one inbound event: new or a duplicate, or the status change it caused."""

    event: Event
    created: bool = True
    change: StatusChange | None = None
    platform_events: tuple[PlatformEvent, ...] = field(default=(), compare=False, repr=False)
    """What the platform hears about this event."""


@dataclass(frozen=True, slots=True)
class Added:
    """An outgoing message written (or found): the stored record, whether it is new, whether it was claimed."""

    record: MessageRecord
    created: bool
    claimed: bool = False
    platform_events: tuple[PlatformEvent, ...] = field(default=(), compare=False, repr=False)
    """`queued`, when the message is new."""


@dataclass(frozen=True, slots=True)
class Limits:
    """A tenant's limits, counted in the write that stores each new message of it (`Store.add_outgoing`)."""

    tenant: str
    tps: float | None = None
    """Most new messages per second (a burst of one second's worth allowed)."""
    daily: int | None = None
    """Most new messages per UTC day."""


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One delivery a planner wants: to `target`, in order with the other items of the same `key`."""

    target: str
    key: str
    type: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """A stored outbox item taken for delivery: its stable id (the webhook-id) and attempt count."""

    id: str
    seq: int
    target: str
    key: str
    type: str
    payload: dict[str, Any]
    attempts: int
    created_at: str


@dataclass(frozen=True, slots=True)
class MessagePage:
    """One page of `find_messages`: messages newest first and the cursor of the next (older) page, if any."""

    messages: list[MessageRecord]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class HourCount:
    """How many messages of one channel, direction and (current) status were created in one UTC hour."""

    channel: str
    hour: str
    """The hour's start, `YYYY-MM-DDTHH` (UTC)."""
    direction: str
    status: str
    count: int


@dataclass(frozen=True, slots=True)
class Backlog:
    """Work still waiting, read at one moment: pending sends per channel and undelivered outbox items."""

    queued: dict[str, tuple[int, str | None]]
    """Per channel: outgoing messages queued or errored, and the `created_at` of the oldest."""
    outbox: int
    outbox_oldest: str | None


OutboxPlanner = Callable[[PlatformEvent], Sequence[OutboxItem]]
"""Turns one platform event into outbox items; called inside the transaction that stores the event."""


@dataclass(frozen=True, slots=True)
class Fragment:
    """One part of an inbound message that arrives in pieces (a concatenated SMS): `key` names the whole
    message within its channel, `index` counts from 1 to `total`, `data` (JSON-ready) is what joining needs."""

    key: str
    index: int
    total: int
    data: dict[str, Any]


FragmentJoin = Callable[[list[Fragment]], Sequence[Event]]
"""Turns the parts held for a key (in order; possibly incomplete when the key was reused) into events to store."""
