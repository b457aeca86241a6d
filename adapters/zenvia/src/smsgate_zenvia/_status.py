"""What Zenvia SMS (API v2)'s codes mean to smsgate: delivery statuses, and error answers as `smsgate.errors`.

Each error code becomes one class of the `SendError` tree: `Throttled` and `ConnectionFailed` are retried
(`errored`), every `PermanentError` is final (`failed`), and `ContactStopped` also records an opt-out.
"""

from __future__ import annotations

from typing import Any

import httpx
from smsgate import Status
from smsgate.errors import ContactStopped, MessageInvalid, RejectedWithReason, SendError, Throttled
from smsgate.http import check_response, parse_retry_after

__all__ = ["ERRORS", "STATUS_MAP", "check_zenvia_response", "json_body"]

#: the aggregator's delivery status → ours (compared lower-cased)
STATUS_MAP: dict[str, Status] = {
    "accepted": Status.SENT,
    "sent": Status.SENT,
    "delivered": Status.DELIVERED,
    "failed": Status.FAILED,
    "expired": Status.FAILED,
}

#: the aggregator's error code → (what it means to smsgate, a readable reason)
ERRORS: dict[str, tuple[type[SendError], str]] = {
    "invalid_number": (MessageInvalid, "the recipient's number is not valid"),
    "opted_out": (ContactStopped, "the recipient has opted out"),
    "insufficient_funds": (RejectedWithReason, "the account is out of credit"),
    "throttled": (Throttled, "too many requests"),
}


def json_body(response: httpx.Response) -> Any:
    """The answer's JSON, or None when it is not JSON (a proxy's error page, an empty body)."""
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError):
        return None


def check_zenvia_response(response: httpx.Response) -> None:
    """2xx passes; a known error code raises its class; anything else is `check_response`'s (5xx and 429
    retried, other statuses final)."""
    if 200 <= response.status_code < 300:
        return
    payload = json_body(response)
    code = str(payload.get("error", "")).strip() if isinstance(payload, dict) else ""
    if code in ERRORS:
        kind, reason = ERRORS[code]
        raise kind(f"Zenvia SMS (API v2) error {code}: {reason}", ext_code=code,
                   retry_after=parse_retry_after(response.headers.get("retry-after")))
    check_response(response)
