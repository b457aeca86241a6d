"""The configured channels as the API, the console, the metrics and the send worker read them."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any

from .._adapter import Adapter
from ..config import Channel, ChannelSettings

__all__ = ["Channels"]

log = logging.getLogger("smsgate")


class Channels:
    """A read-only view of a gateway's channels: names, settings, numbers and health (never the adapters' sends)."""

    def __init__(self, adapters: Mapping[str, Adapter[Any]]) -> None:
        self._adapters = adapters

    def __contains__(self, name: object) -> bool:
        return name in self._adapters

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._adapters))

    def __len__(self) -> int:
        return len(self._adapters)

    def names(self) -> list[str]:
        """The channel names, sorted."""
        return sorted(self._adapters)

    def settings(self, name: str) -> ChannelSettings:
        """Channel `name`'s settings (KeyError when unknown)."""
        settings: ChannelSettings = self._adapters[name].settings
        return settings

    def owns(self, channel: Channel) -> bool:
        """Whether `channel` is this gateway's (the plugin manager, and so every hook, is shared per process)."""
        adapter = self._adapters.get(channel.name)
        return adapter is not None and adapter.channel is channel

    def adapter_name(self, name: str) -> str:
        """The adapter serving channel `name`."""
        return self._adapters[name].name

    def unknown(self, name: str) -> str:
        """The reason given for a channel name that is not configured."""
        return f"unknown channel {name!r} (known: {', '.join(self.names()) or 'none configured'})"

    def outgoing_number(self, name: str, raw: str) -> str:
        """`raw` normalised as channel `name` sends to it (InvalidNumber when impossible)."""
        return self._adapters[name].outgoing_number(raw)

    def health(self) -> dict[str, str]:
        """The channels that cannot send now, with the reason each adapter gives (e.g. its bind is down)."""
        down: dict[str, str] = {}
        for name, adapter in self._adapters.items():
            try:
                reason = adapter.health()
            except Exception as exc:
                reason = f"health check failed: {type(exc).__name__}"
            if reason is not None:
                down[name] = reason
        return down

    def down(self, name: str) -> str | None:
        """Why channel `name` cannot send now (its adapter's `health()`), or None; a failing check counts as up,
        as `can_send` has it."""
        try:
            return self._adapters[name].health()
        except Exception:
            log.exception("channel %s: health check failed", name)
            return None

    def can_send(self, name: str) -> bool:
        """Whether channel `name` can send now (its connection, if it holds one, is up)."""
        try:
            return self._adapters[name].health() is None
        except Exception:
            log.exception("channel %s: health check failed", name)
            return True
