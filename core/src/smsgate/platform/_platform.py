"""The platform side of a config: its webhooks and bridges, what each stored event plans for them, and how each
planned call is delivered.

Stateless: built from the config wherever it is needed (the gateway's planner, the app's bridge routes, the
outbox dispatcher), it always plans and delivers the same way.
"""

from __future__ import annotations

from typing import Any

from .._events import STATUS_CHANGED, TYPES, PlatformEvent
from .._http._client import HttpClient
from ..config._settings import Config, WebhookSettings
from ..store import OutboxItem, OutboxPlanner, OutboxRow, Store
from ._bridges import RapidProBridge, make_bridges
from ._outbox import Deliver, OutboxDispatcher, post, webhook_delivery

__all__ = ["Platform"]


class Platform:
    """Webhooks and bridges of one config: `plan` for the store, `dispatcher` for `smsgate serve`."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.webhooks = list(config.gateway.webhooks)
        self.bridges: dict[str, RapidProBridge] = make_bridges(config.bridges)
        # a tenant's webhooks hear its channels' events; their target names the tenant, so a URL the operator
        # also configured is still signed with each one's own secret
        self.tenant_webhooks: dict[str, list[tuple[str, WebhookSettings]]] = {}
        owners: dict[str, list[str]] = {}
        for name, tenant in config.tenants.items():
            for channel in tenant.channels:
                owners.setdefault(channel, []).append(name)
                self.tenant_webhooks.setdefault(channel, []).extend(
                    (f"webhook@{name}:{hook.url}", hook) for hook in tenant.webhooks)
        self.owner = {channel: names[0] for channel, names in owners.items() if len(names) == 1}
        """The one tenant a channel belongs to (a channel several tenants share has none)."""

    @property
    def planner(self) -> OutboxPlanner | None:
        """`plan`, or None when there is no webhook or bridge to tell: the store then builds no payloads."""
        return self.plan if self.webhooks or self.bridges or self.tenant_webhooks else None

    def plan(self, event: PlatformEvent) -> list[OutboxItem]:
        """The calls one stored event makes: every webhook that wants its type (the operator's, and those of the
        tenants whose channel it is on), and the bridges concerned."""
        items = []
        hooks = [(f"webhook:{hook.url}", hook) for hook in self.webhooks]
        hooks += self.tenant_webhooks.get(event.channel, [])
        data: dict[str, Any] | None = None
        for target, hook in hooks:
            if event.type in (hook.events or TYPES):
                if data is None:
                    data = event.data
                    if data.get("tenant") is None and event.type != STATUS_CHANGED:
                        data["tenant"] = self.owner.get(event.channel)
                payload = {"type": event.type, "timestamp": event.at, "data": data}
                items.append(OutboxItem(target, event.key, event.type, payload))
        for bridge in self.bridges.values():
            items.extend(bridge.plan(event))
        return items

    def deliveries(self, http: HttpClient) -> dict[str, Deliver]:
        """What delivers to each target, through the shared HTTP client."""
        out: dict[str, Deliver] = {f"webhook:{hook.url}": webhook_delivery(http, hook) for hook in self.webhooks}
        for hooks in self.tenant_webhooks.values():
            out.update((target, webhook_delivery(http, hook)) for target, hook in hooks)
        for bridge in self.bridges.values():
            out[bridge.target] = _bridge_delivery(http, bridge)
        return out

    def dispatcher(self, store: Store, http: HttpClient, **options: Any) -> OutboxDispatcher:
        """An outbox dispatcher for this config (`options` override its timings, e.g. in tests)."""
        settings = self.config.gateway
        defaults: dict[str, Any] = {"retry_max": settings.webhook_retry_max}
        return OutboxDispatcher(store, self.deliveries(http), **{**defaults, **options})


def _bridge_delivery(http: HttpClient, bridge: RapidProBridge) -> Deliver:
    async def deliver(row: OutboxRow) -> None:
        await post(http, bridge.timeout, **bridge.request(row.payload))

    return deliver
