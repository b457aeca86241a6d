"""Message, event and result types shared by the core, the adapters and the store."""

from __future__ import annotations

import enum
import os
import threading
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "Event",
    "IncomingMessage",
    "Ignored",
    "MessageRecord",
    "OptOut",
    "OutgoingMessage",
    "SendResult",
    "Status",
    "StatusUpdate",
    "new_id",
    "utcnow",
]


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


# Ids double as capabilities: Kannel's DLR URL carries our id and needs no other credential, so an id must not be
# guessable from the ids a client has seen (a seeded Mersenne Twister is, after 624 outputs). os.urandom costs
# ~65 µs a call on some VMs whatever its size, so it is read 4 KiB at a time and sliced, 16 bytes per id.
_POOL_IDS = 256


class _Pool(threading.local):
    """Random bytes not yet used, per thread (the store's writer thread makes ids too)."""

    data = b""
    at = 0


_pool = _Pool()


def _reset_pool() -> None:
    _pool.data, _pool.at = b"", 0


if hasattr(os, "register_at_fork"):  # a forked worker must not repeat its parent's ids
    os.register_at_fork(after_in_child=_reset_pool)


def new_id() -> str:
    """A fresh message id: a random (version 4) UUID as a string, from the OS's secure random source."""
    pool = _pool
    at, data = pool.at, pool.data
    if at >= len(data):
        data = pool.data = os.urandom(16 * _POOL_IDS)
        at = 0
    pool.at = at + 16
    # what str(uuid.UUID(bytes=..., version=4)) gives, without its validation (a fifth of an inbound request's
    # id-making): the version nibble 4 and the RFC 4122 variant bits set on 16 random bytes
    raw = bytearray(data[at:at + 16])
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class Status(enum.StrEnum):
    """Lifecycle of an outgoing message; `rank` orders them so a status never moves backwards."""

    QUEUED = "queued"
    ERRORED = "errored"
    WIRED = "wired"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    READ = "read"

    @property
    def rank(self) -> int:
        """Position in the lifecycle; an update of a lower or equal rank does not change the message."""
        return _RANK[self]

    @property
    def final(self) -> bool:
        """True when no later send attempt will be made."""
        return self in (Status.DELIVERED, Status.FAILED, Status.READ)


# errored sits below wired: a retry may still wire the message. delivered and failed are
# both terminal outcomes of the same rank, so neither overrides the other.
_RANK = {
    Status.QUEUED: 0,
    Status.ERRORED: 1,
    Status.WIRED: 2,
    Status.SENT: 3,
    Status.DELIVERED: 4,
    Status.FAILED: 4,
    Status.READ: 5,
}


@dataclass(slots=True)
class OutgoingMessage:
    """A message to send: `to` in E.164 (or what the adapter accepts), `id` a UUID string."""

    channel: str
    to: str
    text: str
    id: str = field(default_factory=new_id)
    from_: str = ""
    attachments: list[str] = field(default_factory=list)
    quick_replies: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    high_priority: bool = False
    route: list[str] = field(default_factory=list)
    """For a message routed by its number: the channels it may be sent on, in the order to try them (`channel`
    first); empty when a channel was named, so it never moves."""
    tenant: str | None = None
    """The tenant whose request made it (None: the operator, a bridge, the command line)."""


@dataclass(slots=True)
class IncomingMessage:
    """A mobile-originated message parsed from an aggregator's callback."""

    channel: str
    from_: str
    text: str
    to: str = ""
    received_at: datetime = field(default_factory=utcnow)
    external_id: str | None = None
    attachments: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=new_id)


@dataclass(slots=True)
class StatusUpdate:
    """A delivery report: which message (our id or the aggregator's), its new status and why."""

    channel: str
    status: Status
    message_id: str | None = None
    external_id: str | None = None
    error_code: str | None = None
    error_reason: str | None = None
    at: datetime = field(default_factory=utcnow)
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class OptOut:
    """A contact asked to stop receiving messages (STOP keyword, Twilio 21610, `stopped` callback)."""

    channel: str
    address: str
    at: datetime = field(default_factory=utcnow)
    reason: str = ""


@dataclass(slots=True)
class Ignored:
    """A well-formed callback that changes nothing (e.g. an unknown DLR type); answered 2xx."""

    reason: str
    error: bool = False
    """True when an operator should look: the reason is recorded as an error in the callback's channel log."""


Event = IncomingMessage | StatusUpdate | OptOut | Ignored


@dataclass(slots=True)
class SendResult:
    """The outcome of one send: `wired`, `errored` (retryable) or `failed`, with what the aggregator said."""

    status: Status
    external_ids: list[str] = field(default_factory=list)
    segments: int = 1
    error_code: str | None = None
    error_reason: str | None = None
    retry_after: float | None = None
    events: list[Event] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the aggregator accepted the message."""
        return self.status not in (Status.ERRORED, Status.FAILED)


@dataclass(slots=True)
class MessageRecord:
    """A stored message (either direction) as the API, the CLI and webhooks show it."""

    id: str
    channel: str
    direction: str
    to: str
    from_: str
    text: str
    status: str
    external_ids: list[str]
    attachments: list[str]
    metadata: dict[str, Any]
    segments: int
    attempts: int
    error_code: str | None
    error_reason: str | None
    created_at: str
    updated_at: str
    history: list[dict[str, Any]] = field(default_factory=list)
    next_attempt_at: str | None = None
    sending_at: str | None = None
    quick_replies: list[str] = field(default_factory=list)
    high_priority: bool = False
    route: list[str] = field(default_factory=list)
    tenant: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view (`from_` becomes `from`)."""
        data = asdict(self)
        data["from"] = data.pop("from_")
        return data
