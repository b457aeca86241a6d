"""HTTP helpers for adapters: the shared client every request to an aggregator goes through, and its checks.

`Adapter.http` is the gateway's `HttpClient`; call `await self.http.request(log, self.settings, method, url,
check=..., **httpx_kwargs)`. `check_response` is the default `check` (transport error or 5xx →
`ConnectionFailed`, 429 → `Throttled` with `Retry-After`, other non-2xx → `ResponseStatusError`).
`retrying`/`with_retries` give a non-HTTP adapter (an SMPP bind) the channel's retry policy, `Throttle` a
channel's `tps`, `merge_headers` and `parse_retry_after` the small parts adapters share.
"""

from ._http._client import (
    HttpClient,
    Throttle,
    check_response,
    merge_headers,
    parse_retry_after,
    retrying,
    with_retries,
)

__all__ = ["HttpClient", "Throttle", "check_response", "merge_headers", "parse_retry_after", "retrying",
           "with_retries"]
