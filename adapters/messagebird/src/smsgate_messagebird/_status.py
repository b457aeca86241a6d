"""What MessageBird's codes mean to smsgate: report statuses, the STOP error code, and the API's error answers.

The status table is courier's. Error answers carry `{"errors": [{"code", "description", "parameter"}]}`: the first
error's code becomes the message's error code and its description the reason.
"""

from __future__ import annotations

from typing import Any

import httpx
from smsgate import Status
from smsgate.errors import ConnectionFailed, RejectedWithReason, ResponseStatusError, Throttled
from smsgate.http import parse_retry_after

__all__ = ["ERROR_REASONS", "OPT_OUT_CODE", "STATUS_MAP", "check_messagebird_response", "json_body"]

#: a report's `status` → ours
STATUS_MAP: dict[str, Status] = {
    "scheduled": Status.SENT,
    "sent": Status.SENT,
    "buffered": Status.SENT,
    "delivered": Status.DELIVERED,
    "expired": Status.FAILED,
    "delivery_failed": Status.FAILED,
}

#: the legacy REST API's error codes, for a reason when an answer gives none
ERROR_REASONS: dict[int, str] = {
    2: "request not allowed (incorrect access key)",
    9: "missing parameters",
    10: "invalid parameters",
    20: "object not found",
    21: "bad request",
    25: "not enough balance",
    98: "API not found",
    99: "internal error",
}

#: `statusErrorCode` of a report about a recipient who replied STOP (courier's reading; MessageBird's pages are silent)
OPT_OUT_CODE = 103


def json_body(response: httpx.Response) -> Any:
    """The answer's JSON, or None when it is not JSON (a proxy's error page, an empty body)."""
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError):
        return None


def _first_error(response: httpx.Response) -> tuple[str, str]:
    payload = json_body(response)
    errors = payload.get("errors") if isinstance(payload, dict) else None
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    code = first.get("code")
    code = str(code) if isinstance(code, int | str) and not isinstance(code, bool) and str(code) else ""
    text = first.get("description") or (ERROR_REASONS.get(int(code), "") if code.isdigit() else "")
    return code[:32], str(text)[:300]


def check_messagebird_response(response: httpx.Response) -> None:
    """2xx passes; 429 is throttled and 5xx retried; any other status fails with MessageBird's first error."""
    status = response.status_code
    if 200 <= status < 300:
        return
    code, text = _first_error(response)
    where = f"HTTP {status} from {response.request.url.host}"
    reason = f"{where}: MessageBird error {code}: {text}" if code else where
    if status == 429:
        wait = parse_retry_after(response.headers.get("retry-after"))
        raise Throttled(reason, ext_code=code or "429", retry_after=wait)
    if status >= 500:
        raise ConnectionFailed(reason, ext_code=code or str(status))
    if code:
        raise RejectedWithReason(reason, ext_code=code)
    raise ResponseStatusError(where, ext_code=str(status))
