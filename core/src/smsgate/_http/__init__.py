"""Talking to aggregators over HTTP: the channel log of every exchange, the pooled client and its transport.

    _channellog   ChannelLog (one exchange's traces and errors) and Redactor (secrets masked everywhere)
    _client       HttpClient: retries (tenacity), per-channel tps, timeouts, traces; the response checks
    _transport    AiohttpTransport: httpx requests over an aiohttp connection pool
    _logging      the HTTP libraries' own log records, with every channel's secrets masked

Adapter authors import these from `smsgate` (ChannelLog) and `smsgate.http` (the client and its helpers).
"""

from ._channellog import ChannelLog, HttpTrace, Redactor
from ._client import (
    HttpClient,
    Throttle,
    check_response,
    merge_headers,
    parse_retry_after,
    retrying,
    transport_error_reason,
    with_retries,
)
from ._logging import redact_library_logs

__all__ = [
    "ChannelLog",
    "HttpClient",
    "HttpTrace",
    "Redactor",
    "Throttle",
    "check_response",
    "merge_headers",
    "parse_retry_after",
    "redact_library_logs",
    "retrying",
    "transport_error_reason",
    "with_retries",
]
