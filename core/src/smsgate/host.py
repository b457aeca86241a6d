"""Running smsgate: configuration, the gateway and its pipelines, the ASGI app, the worker, the outbox.

For hosts — `smsgate serve`, the CLI, an application embedding smsgate — not for adapter authors (their API
is `smsgate`). `open_gateway(load_config(path, installed_adapters()))` builds what `smsgate send` uses;
`create_app(gateway, background=True)` what `smsgate serve` runs.
"""

from ._api import OPENAPI, SendRequest
from ._app import create_app, event_json, open_gateway, open_outbox
from ._bridges import RapidProBridge
from ._config import (
    BridgeSettings,
    Channel,
    Config,
    GatewaySettings,
    WebhookSettings,
    config_from_dict,
    default_config_path,
    load_config,
)
from ._events import PlatformEvent
from ._gateway import IN_DOUBT_REASON, READ_TIMEOUT_REASON, ChannelInbound, Gateway, SendOutcome
from ._http import transport_error_reason
from ._models import MessageRecord, new_id, utcnow
from ._outbox import OutboxDispatcher, sign_webhook, webhook_body
from ._platform import Platform
from ._requests import parse_request
from ._server import serve
from ._transport import AiohttpTransport
from ._worker import SendWorker
from .plugins import get_adapters, installed_adapters, load_plugins

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
