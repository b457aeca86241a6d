"""smsgate: connect messaging platforms to SMS aggregators through adapter plugins.

This module is the adapter author's contract: the `Adapter` with its settings, routes and requests, the
message and event models, the two errors an adapter raises most, and `hookimpl`. Helpers live in public
submodules: `smsgate.errors` (the whole exception tree), `smsgate.text` (GSM-7/UCS-2, segments, splitting),
`smsgate.phones` (E.164 numbers), `smsgate.http` (the shared HTTP client and its checks). Running a gateway is
`smsgate.host`; storage is `smsgate.store`; test helpers are `smsgate.testing`.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

from ._adapter import Adapter, InboundRequest, InboundSink, Reply, Route, route
from ._http import ChannelLog, Redactor
from ._models import (
    Event,
    Ignored,
    IncomingMessage,
    OptOut,
    OutgoingMessage,
    SendResult,
    Status,
    StatusUpdate,
    utcnow,
)
from .config import ChannelSettings, HttpUrl, Secret, parse_uuid, same_secret
from .errors import RequestRejected, SendError
from .hookspecs import hookimpl
from .store import Fragment

__version__ = "0.3.0"

__all__ = [
    "Adapter",
    "ChannelLog",
    "ChannelSettings",
    "Event",
    "Fragment",
    "HttpUrl",
    "Ignored",
    "InboundRequest",
    "InboundSink",
    "IncomingMessage",
    "OptOut",
    "OutgoingMessage",
    "Redactor",
    "Reply",
    "RequestRejected",
    "Route",
    "Secret",
    "SendError",
    "SendResult",
    "Status",
    "StatusUpdate",
    "__version__",
    "hookimpl",
    "parse_uuid",
    "route",
    "same_secret",
    "utcnow",
]

# Names 0.2 exported here, now in a submodule: they keep working for this release, with a DeprecationWarning.
_MOVED = {
    **{name: "errors" for name in (
        "ChannelConfigError", "ConfigError", "ConnectionFailed", "ContactStopped", "MessageInvalid",
        "PermanentError", "PluginError", "RejectedWithReason", "ResponseContentError", "ResponseStatusError",
        "RetryableError", "SentButUnanswered", "SmsgateError", "StoreUnavailable", "Throttled")},
    **{name: "text" for name in ("Segments", "is_gsm7", "segment", "smart_encode", "split_bytes",
                                 "with_attachments")},
    **{name: "phones" for name in ("InvalidNumber", "national_number", "normalize_number")},
    **{name: "http" for name in ("HttpClient", "Throttle", "check_response", "merge_headers",
                                 "parse_retry_after", "retrying", "with_retries")},
    "http_url": "config",
}


def __getattr__(name: str) -> Any:
    """Resolve a name 0.2 exported from here to its new submodule, warning once per use site."""
    module = _MOVED.get(name)
    if module is None:
        raise AttributeError(f"module 'smsgate' has no attribute {name!r}")
    warnings.warn(f"smsgate.{name} moved to smsgate.{module}.{name}; the old name goes in the next release",
                  DeprecationWarning, stacklevel=2)
    return getattr(importlib.import_module(f"smsgate.{module}"), name)
