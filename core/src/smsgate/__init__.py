"""smsgate: connect messaging platforms to SMS aggregators through adapter plugins.

This module is the adapter author's API: the `Adapter` contract and its request/response types, the message
and event models, the error tree, settings fields, and the text, phone and HTTP helpers. Running a gateway
(the app, the worker, config loading) is `smsgate.host`; storage is `smsgate.store`; test helpers are
`smsgate.testing`.
"""

from ._adapter import Adapter, InboundRequest, InboundSink, Reply, Route, route
from ._channellog import ChannelLog, Redactor
from ._config import ChannelSettings
from ._errors import (
    ChannelConfigError,
    ConfigError,
    ConnectionFailed,
    ContactStopped,
    MessageInvalid,
    PermanentError,
    PluginError,
    RejectedWithReason,
    RequestRejected,
    ResponseContentError,
    ResponseStatusError,
    RetryableError,
    SendError,
    SentButUnanswered,
    SmsgateError,
    StoreUnavailable,
    Throttled,
)
from ._fields import HttpUrl, Secret, http_url, parse_uuid, same_secret
from ._http import HttpClient, Throttle, check_response, merge_headers, parse_retry_after, retrying, with_retries
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
from ._phones import InvalidNumber, national_number, normalize_number
from ._text import Segments, is_gsm7, segment, smart_encode, split_bytes, with_attachments
from .hookspecs import hookimpl
from .store import Fragment

__version__ = "0.2.0"

__all__ = [
    "Adapter",
    "ChannelConfigError",
    "ChannelLog",
    "ChannelSettings",
    "ConfigError",
    "ConnectionFailed",
    "ContactStopped",
    "Event",
    "Fragment",
    "HttpClient",
    "HttpUrl",
    "Ignored",
    "InboundRequest",
    "InboundSink",
    "IncomingMessage",
    "InvalidNumber",
    "MessageInvalid",
    "OptOut",
    "OutgoingMessage",
    "PermanentError",
    "PluginError",
    "Redactor",
    "RejectedWithReason",
    "Reply",
    "RequestRejected",
    "ResponseContentError",
    "ResponseStatusError",
    "RetryableError",
    "Route",
    "Secret",
    "Segments",
    "SendError",
    "SendResult",
    "SentButUnanswered",
    "SmsgateError",
    "Status",
    "StatusUpdate",
    "StoreUnavailable",
    "Throttle",
    "Throttled",
    "__version__",
    "check_response",
    "hookimpl",
    "http_url",
    "is_gsm7",
    "merge_headers",
    "national_number",
    "normalize_number",
    "parse_retry_after",
    "parse_uuid",
    "retrying",
    "route",
    "same_secret",
    "segment",
    "smart_encode",
    "split_bytes",
    "utcnow",
    "with_attachments",
    "with_retries",
]
