"""What Plivo's codes mean to smsgate: message statuses, delivery error codes, and the API's error answers.

Statuses follow Plivo's message-status callback documentation, where courier leaves a message `sent` or ignores
the report (README.md lists each difference). Error code 200 is a recipient who replied STOP: the gateway records
an opt-out, as it does for Twilio's 21610.
"""

from __future__ import annotations

from typing import Any

import httpx
from smsgate import Status
from smsgate.errors import ConnectionFailed, ResponseStatusError, Throttled
from smsgate.http import parse_retry_after

__all__ = ["ERROR_REASONS", "OPT_OUT_CODE", "STATUS_MAP", "check_plivo_response", "error_text", "json_body",
           "reason"]

#: Plivo `Status` → ours (compared lower-cased); anything else is answered 200 Ignored, as courier does
STATUS_MAP: dict[str, Status] = {
    "queued": Status.WIRED,
    "sent": Status.SENT,
    "delivered": Status.DELIVERED,
    "undelivered": Status.FAILED,
    "failed": Status.FAILED,
    "rejected": Status.FAILED,
}

#: Plivo's delivery error codes (`ErrorCode` of a failed or undelivered report) with a readable reason; any other
#: code is kept as it came
ERROR_REASONS: dict[str, str] = {
    "10": "invalid message",
    "20": "network error (temporary)",
    "30": "spam detected",
    "40": "invalid source number",
    "50": "invalid destination number",
    "200": "the recipient has opted out (replied STOP)",
    "450": "destination country barred by the account's geo permissions",
}

#: the delivery error code of a recipient who replied STOP
OPT_OUT_CODE = "200"


def reason(code: str) -> str:
    """`Plivo error <code>: <what it means>`."""
    meaning = ERROR_REASONS.get(code, "see Plivo's SMS error codes")
    return f"Plivo error {code}: {meaning}"


def json_body(response: httpx.Response) -> Any:
    """The answer's JSON, or None when it is not JSON (a proxy's error page, an empty body)."""
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError):
        return None


def error_text(response: httpx.Response) -> str:
    """Plivo's own words from an error answer (`{"api_id": ..., "error": "..."}`), or ''."""
    payload = json_body(response)
    value = payload.get("error") if isinstance(payload, dict) else None
    return value[:300] if isinstance(value, str) else ""


def check_plivo_response(response: httpx.Response) -> None:
    """2xx passes; 429 is throttled and 5xx retried; any other status fails, with Plivo's error text kept."""
    status = response.status_code
    if 200 <= status < 300:
        return
    said = error_text(response)
    where = f"HTTP {status} from {response.request.url.host}" + (f": {said}" if said else "")
    if status == 429:
        raise Throttled(where, retry_after=parse_retry_after(response.headers.get("retry-after")), ext_code="429")
    if status >= 500:
        raise ConnectionFailed(where, ext_code=str(status))
    raise ResponseStatusError(where, ext_code=str(status))
