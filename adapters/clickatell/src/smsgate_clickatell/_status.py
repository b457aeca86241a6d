"""What Clickatell's codes mean to smsgate: the status codes of its delivery notifications, and the error codes
of its answers as `smsgate.errors`.

The status table is courier's, except 4 (received by the handset), which Clickatell documents as delivery. Error
26 is a recipient who opted out: `ContactStopped`, so the gateway records the opt-out.
"""

from __future__ import annotations

from typing import Any

import httpx
from smsgate import Status
from smsgate.errors import (
    ConnectionFailed,
    ContactStopped,
    RejectedWithReason,
    ResponseContentError,
    ResponseStatusError,
    SendError,
    Throttled,
)
from smsgate.http import parse_retry_after

__all__ = ["ERRORS", "OPT_OUT_CODE", "STATUS_MAP", "accepted_id", "check_clickatell_response", "json_body"]

#: `statusCode` of a delivery notification → ours
STATUS_MAP: dict[int, Status] = {
    1: Status.FAILED,     # message unknown
    2: Status.WIRED,      # queued, will be delivered later
    3: Status.SENT,       # delivered to the upstream gateway or network
    4: Status.DELIVERED,  # received by the recipient's handset
    5: Status.FAILED,     # error with the message
    6: Status.FAILED,     # cancelled by the user
    7: Status.FAILED,     # error delivering to the handset
    8: Status.WIRED,      # received by Clickatell's gateway
    9: Status.FAILED,     # routing error
    10: Status.FAILED,    # expired
    11: Status.WIRED,     # delayed, queued for later delivery
    12: Status.FAILED,    # out of credit
    14: Status.FAILED,    # maximum MT limit exceeded
}

#: Clickatell's error codes (`errorCode`, or `error.code`) → (what it means to smsgate, a readable reason)
ERRORS: dict[int, tuple[type[SendError], str]] = {
    1: (RejectedWithReason, "invalid or missing integration API key"),
    2: (RejectedWithReason, "account is not active"),
    3: (RejectedWithReason, "integration is not active"),
    7: (RejectedWithReason, "originating IP address is not approved in the account"),
    18: (ConnectionFailed, "internal error"),
    19: (ConnectionFailed, "internal error, please retry"),
    20: (RejectedWithReason, "insufficient account balance"),
    21: (RejectedWithReason, "payload data is malformed"),
    23: (RejectedWithReason, "invalid or missing parameter"),
    24: (RejectedWithReason, "maximum message content size exceeded"),
    25: (RejectedWithReason, "invalid recipient address"),
    26: (ContactStopped, "the recipient has opted out"),
    27: (RejectedWithReason, "recipient not available on the channel"),
    28: (RejectedWithReason, "recipient not available on the sandbox"),
    40: (RejectedWithReason, "character set not supported"),
    43: (Throttled, "rate limit reached"),
    44: (RejectedWithReason, "the FROM number is suspended"),
    45: (RejectedWithReason, "the FROM number is not related to the integration"),
    46: (RejectedWithReason, "demo access has expired"),
    100: (RejectedWithReason, "maximum message parts exceeded"),
    101: (RejectedWithReason, "destination does not support two-way messaging"),
}

#: the error code of a recipient who opted out
OPT_OUT_CODE = 26


def json_body(response: httpx.Response) -> Any:
    """The answer's JSON, or None when it is not JSON (a proxy's error page, `Error`, an empty body)."""
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError):
        return None


def _error(item: Any) -> tuple[int | None, str]:
    """The error code and text of an answer or of one of its `messages` (`errorCode`/`error`/`errorDescription`,
    or an `error` object with `code` and `description`)."""
    if not isinstance(item, dict):
        return None, ""
    error = item.get("error")
    code, text = item.get("errorCode"), item.get("errorDescription") or error
    if isinstance(error, dict):
        code, text = code if code is not None else error.get("code"), error.get("description")
    if isinstance(code, str) and code.strip().isdigit():
        code = int(code)
    return (code if isinstance(code, int) and not isinstance(code, bool) else None), \
        (str(text)[:300] if text else "")


def _raise(code: int, text: str, response: httpx.Response) -> None:
    kind, meaning = ERRORS.get(code, (RejectedWithReason, "see Clickatell's error codes"))
    reason = f"Clickatell error {code}: {text or meaning}"
    raise kind(reason, ext_code=str(code), retry_after=parse_retry_after(response.headers.get("retry-after")))


def check_clickatell_response(response: httpx.Response) -> None:
    """A non-2xx answer: its Clickatell error code decides (429 and 5xx are retried whatever it says)."""
    status = response.status_code
    if 200 <= status < 300:
        return
    payload = json_body(response)
    messages = payload.get("messages") if isinstance(payload, dict) else None
    code, text = _error(payload)
    if code is None and isinstance(messages, list) and messages:
        code, text = _error(messages[0])  # a message-level refusal: the answer's own error stays empty
    where = f"HTTP {status} from {response.request.url.host}"
    if status == 429:
        raise Throttled(f"{where}: {text}" if text else where, ext_code=str(code or 429),
                        retry_after=parse_retry_after(response.headers.get("retry-after")))
    if status >= 500:
        raise ConnectionFailed(f"{where}: {text}" if text else where, ext_code=str(code or status))
    if code is not None:
        _raise(code, text, response)
    raise ResponseStatusError(where, ext_code=str(status))


def accepted_id(response: httpx.Response) -> str:
    """The `apiMessageId` of the one message a 2xx answer accepted; its error code's `SendError` otherwise."""
    payload = json_body(response)
    messages = payload.get("messages") if isinstance(payload, dict) else None
    first = messages[0] if isinstance(messages, list) and messages else None
    message_id = first.get("apiMessageId") if isinstance(first, dict) else None
    if isinstance(message_id, str) and message_id and not (isinstance(first, dict) and first.get("accepted") is False):
        return message_id
    code, text = _error(first)
    if code is None:
        code, text = _error(payload)
    if code is not None:
        _raise(code, text, response)
    raise ResponseContentError("Clickatell accepted no message (no apiMessageId)" + (f": {text}" if text else ""))
