"""Building a gateway and its background tasks from a config: the platform side is built once per gateway."""

from __future__ import annotations

from typing import Any

import httpx
import pluggy

from ..config import Config
from ..platform import OutboxDispatcher, Platform
from ..store import Retention, Store
from ._gateway import Gateway
from ._worker import SendWorker

__all__ = ["open_gateway", "open_outbox", "open_retention", "open_worker"]


def open_gateway(config: Config, *, store: Store | None = None, pm: pluggy.PluginManager | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> Gateway:
    """A gateway whose store plans its config's webhooks and bridge calls from every stored event."""
    platform = Platform(config)
    gateway = Gateway(config, store=store, pm=pm, transport=transport, planner=platform.planner)
    gateway.platform = platform
    return gateway


def platform_of(gateway: Gateway) -> Platform:
    """The gateway's platform side, built (and planning in its store) on first use when `open_gateway` did not."""
    if gateway.platform is None:
        gateway.platform = Platform(gateway.config)
        gateway.store.set_planner(gateway.platform.planner)
    platform: Platform = gateway.platform
    return platform


def open_outbox(gateway: Gateway, **options: Any) -> OutboxDispatcher:
    """The outbox dispatcher of `gateway`'s config (`options` override its timings, e.g. in tests); it counts
    its deliveries in the gateway's metrics when they are installed."""
    if gateway.metrics is not None:
        options.setdefault("on_delivery", gateway.metrics.delivery)
    return platform_of(gateway).dispatcher(gateway.store, gateway.http, **options)


def open_worker(gateway: Gateway, **options: Any) -> SendWorker:
    """The send worker of `gateway`'s config (`options` override its settings, e.g. in tests)."""
    options.setdefault("link_down", lambda name: gateway.link_down(name))
    options.setdefault("may_move", gateway.router.may_move)
    return SendWorker(gateway, gateway.store, gateway.channels, gateway.config.gateway, **options)


def open_retention(gateway: Gateway) -> Retention:
    """The retention task `[gateway]` asks for."""
    return Retention.from_settings(gateway.store, gateway.config.gateway)
