"""What the conformance tests share: one event loop per test, a phone number, a channel log, an outbox planner."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from ..._events import PlatformEvent
from ..._http._channellog import ChannelLog, Redactor
from .._records import OutboxItem

__all__ = ["PHONE", "run"]

T = TypeVar("T")
PHONE = "+250788383383"


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one test's coroutine on a loop of its own."""
    return asyncio.run(coro)


def _log(channel: str, kind: str = "send", message_id: str | None = None) -> ChannelLog:
    return ChannelLog(channel=channel, kind=kind, redactor=Redactor(), message_id=message_id)


def _plan_everything(event: PlatformEvent) -> list[OutboxItem]:
    return [OutboxItem("webhook:test", event.key, event.type, {"type": event.type, "data": event.data})]
