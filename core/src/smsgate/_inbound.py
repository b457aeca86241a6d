"""What a started adapter receives instead of HTTP routes: a channel-scoped way to store what it was told.

An adapter holding a long-lived connection (SMPP) gets events on that connection, not through `/c/...`. The
gateway hands it an `InboundSink` in `Adapter.start`; awaiting it stores events durably and fires the same
hooks as an HTTP callback, and returns only after the commit, so the adapter acknowledges (deliver_sm_resp)
only what is stored. Every method is scoped to the adapter's own channel.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ._channellog import ChannelLog
from ._models import Event, IncomingMessage, StatusUpdate
from ._store import Fragment, FragmentJoin, InboundOutcome

if TYPE_CHECKING:
    from ._adapter import Adapter
    from ._gateway import Gateway

__all__ = ["InboundSink"]


class InboundSink:
    """Durable inbound for one started adapter: `await sink(events, log)` and friends, all in its channel."""

    def __init__(self, gateway: Gateway, adapter: Adapter) -> None:
        self.gateway = gateway
        self.adapter = adapter
        self.channel = adapter.channel.name

    def _redact(self, events: Sequence[Event]) -> None:
        for event in events:
            if isinstance(event, IncomingMessage | StatusUpdate) and event.raw:
                event.raw = self.adapter.redactor.data(event.raw)

    async def __call__(self, events: Sequence[Event], log: ChannelLog | None = None) -> list[InboundOutcome]:
        """Store `events` (and `log`) in one transaction, then fire hooks; returns after the commit."""
        self._redact(events)
        return await self.gateway.store_inbound(self.adapter, list(events), log)

    async def fragment(self, fragment: Fragment, join: FragmentJoin, log: ChannelLog | None = None
                       ) -> tuple[bool, list[InboundOutcome]]:
        """Keep one part of a message durably; when it completes the message, store `join(parts)` and fire
        hooks. (False for a part already held, the joined message's outcomes or [])."""

        def redacted_join(parts: list[Fragment]) -> Sequence[Event]:
            events = join(parts)
            self._redact(events)
            return events

        return await self.gateway.store_fragment(self.adapter, fragment, redacted_join, log)

    async def known(self, external_ids: Sequence[str]) -> set[str]:
        """Which of `external_ids` this channel already stored as incoming messages."""
        return await self.gateway.store.known_inbound(self.channel, external_ids)

    async def log(self, log: ChannelLog) -> None:
        """Store a channel log (e.g. a connection that went down) on its own."""
        await self.gateway.store.add_log(log)

    async def lease(self, name: str, holder: str, seconds: float) -> bool:
        """Take or renew this channel's lease `name` for `holder`; False while another holder has it."""
        return await self.gateway.store.lease(f"{self.channel}:{name}", holder, seconds)

    async def release(self, name: str, holder: str) -> None:
        """Give this channel's lease `name` up if `holder` holds it."""
        await self.gateway.store.release(f"{self.channel}:{name}", holder)
