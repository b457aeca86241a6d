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
    WebhookSettings,
    config_from_dict,
    default_config_path,
    load_config,
)
from .gateway._gateway import IN_DOUBT_REASON, READ_TIMEOUT_REASON, ChannelInbound, Gateway, SendOutcome
from .gateway._worker import SendWorker
from .platform._bridges import RapidProBridge
from .platform._outbox import OutboxDispatcher, sign_webhook, webhook_body
from .platform._platform import Platform
from .plugins import get_adapters, installed_adapters, load_plugins
from .web._api import OPENAPI, SendRequest
from .web._app import create_app, event_json, open_gateway, open_outbox
from .web._requests import parse_request
from .web._server import serve

__all__ = [
    "IN_DOUBT_REASON",
    "OPENAPI",
    "READ_TIMEOUT_REASON",
    "AiohttpTransport",
    "BridgeSettings",
    "Channel",
    "ChannelInbound",
    "Config",
    "Gateway",
    "GatewaySettings",
    "MessageRecord",
    "OutboxDispatcher",
    "Platform",
    "PlatformEvent",
    "RapidProBridge",
    "SendOutcome",
    "SendRequest",
    "SendWorker",
    "WebhookSettings",
    "config_from_dict",
    "create_app",
    "default_config_path",
    "event_json",
    "get_adapters",
    "installed_adapters",
    "load_config",
    "load_plugins",
    "new_id",
    "open_gateway",
    "open_outbox",
    "parse_request",
    "serve",
    "sign_webhook",
    "transport_error_reason",
    "utcnow",
    "webhook_body",
]
