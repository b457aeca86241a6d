"""Running smsgate: configuration, the gateway and its pipelines, the ASGI app, the worker, the outbox.

For hosts — `smsgate serve`, the CLI, an application embedding smsgate — not for adapter authors (their API
is `smsgate`). `open_gateway(load_config(path, installed_adapters()))` builds what `smsgate send` uses;
`create_app(gateway, background=True)` what `smsgate serve` runs.
"""

from ._events import PlatformEvent
from ._http._client import transport_error_reason
from ._http._transport import AiohttpTransport
from ._models import MessageRecord, new_id, utcnow
from .config._settings import (
    BridgeSettings,
    Channel,
    Config,
    GatewaySettings,
    RouteSettings,
    TenantSettings,
    WebhookSettings,
    config_from_dict,
    default_config_path,
    load_config,
)
from .gateway import (
    FINAL_REASON,
    IN_DOUBT_REASON,
    READ_TIMEOUT_REASON,
    ChannelInbound,
    Channels,
    Gateway,
    Router,
    SendOutcome,
    SendWorker,
    open_gateway,
    open_outbox,
    open_retention,
    open_worker,
)
from .platform import OutboxDispatcher, Platform, RapidProBridge, sign_webhook, webhook_body
from .plugins import get_adapters, installed_adapters, load_plugins
from .store import Retention
from .web import OPENAPI, PortUnavailable, SendRequest, create_app, event_json, listen, parse_request, serve

__all__ = [
    "FINAL_REASON",
    "IN_DOUBT_REASON",
    "OPENAPI",
    "READ_TIMEOUT_REASON",
    "AiohttpTransport",
    "BridgeSettings",
    "Channel",
    "ChannelInbound",
    "Channels",
    "Config",
    "Gateway",
    "GatewaySettings",
    "MessageRecord",
    "OutboxDispatcher",
    "Platform",
    "PlatformEvent",
    "PortUnavailable",
    "RapidProBridge",
    "Retention",
    "RouteSettings",
    "Router",
    "SendOutcome",
    "SendRequest",
    "SendWorker",
    "TenantSettings",
    "WebhookSettings",
    "config_from_dict",
    "create_app",
    "default_config_path",
    "event_json",
    "get_adapters",
    "installed_adapters",
    "load_config",
    "listen",
    "load_plugins",
    "new_id",
    "open_gateway",
    "open_outbox",
    "open_retention",
    "open_worker",
    "parse_request",
    "serve",
    "sign_webhook",
    "transport_error_reason",
    "utcnow",
    "webhook_body",
]
