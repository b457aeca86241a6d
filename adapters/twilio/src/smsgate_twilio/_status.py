"""What Twilio's codes mean to smsgate: `MessageStatus` values, error codes and Messages API answers.

The status table is courier's; the error answers map onto the core's `SendError` tree, so a 21610 stops the
contact, a 20429 or 429 is throttled and a 5xx is retried.
"""

from __future__ import annotations

from typing import Any

import httpx
from smsgate import Status
from smsgate.errors import ConnectionFailed, ContactStopped, RejectedWithReason, ResponseStatusError, Throttled
from smsgate.http import parse_retry_after

__all__ = ["ERROR_REASONS", "INTERMEDIATE", "OPT_OUT_CODE", "STATUS_MAP", "check_twilio_response", "json_body",
           "reason"]

#: Twilio `MessageStatus` → our status (courier's table).
STATUS_MAP: dict[str, Status] = {
    "queued": Status.SENT,
    "sent": Status.SENT,
    "delivered": Status.DELIVERED,
    "read": Status.READ,
    "failed": Status.FAILED,
    "undelivered": Status.FAILED,
}

#: Statuses Twilio's own contract lists (message_enum_status) that say nothing we can record: answered 200
#: Ignored so Twilio's debugger does not fill with 11200 errors, unlike courier's 400.
INTERMEDIATE = frozenset({"accepted", "scheduled", "sending", "canceled", "receiving", "received",
                          "partially_delivered"})

#: A few codes worth a readable reason; any other code is kept as `Twilio error <code>`.
ERROR_REASONS: dict[str, str] = {
    "20003": "authentication failed (check account_sid and auth_token)",
    "20429": "too many requests",
    "21211": "invalid 'To' phone number",
    "21408": "permission to send to this region is not enabled",
    "21610": "the recipient has opted out (replied STOP)",
    "21612": "the 'To' number cannot be reached from this 'From' number",
    "21614": "'To' is not a valid mobile number",
    "30003": "unreachable destination handset",
    "30004": "message blocked",
    "30005": "unknown destination handset",
    "30006": "landline or unreachable carrier",
    "30007": "message filtered by the carrier",
    "30008": "unknown delivery error",
    "63018": "rate limit exceeded for the channel",
}

#: The error code of a recipient who replied STOP.
OPT_OUT_CODE = "21610"


def reason(code: str, message: str | None = None) -> str:
    """`Twilio error <code>: <text>`, the text being Twilio's message, our readable reason, or a generic one."""
    text = message or ERROR_REASONS.get(code) or "service specific error"
    return f"Twilio error {code}: {text}"


def json_body(response: httpx.Response) -> Any:
    """The answer's JSON, or None when it is not JSON (a proxy's HTML error page, an empty body)."""
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError):
        return None


def check_twilio_response(response: httpx.Response) -> None:
    """Map a Messages API answer: 2xx passes; Twilio's JSON `code` decides failed, stopped or throttled."""
    status = response.status_code
    if 200 <= status < 300:
        return
    payload = json_body(response)
    code = str(payload.get("code", "")).strip() if isinstance(payload, dict) else ""
    message = payload.get("message") if isinstance(payload, dict) else None
    message = str(message)[:300] if message else None
    host = response.request.url.host
    if status == 429 or code == "20429":
        raise Throttled(f"{reason(code or '20429', message)} (HTTP {status} from {host})",
                        retry_after=parse_retry_after(response.headers.get("retry-after")), ext_code=code or "429")
    if status >= 500:
        raise ConnectionFailed(f"HTTP {status} from {host}" + (f": {reason(code, message)}" if code else ""),
                               ext_code=code or str(status))
    if code == OPT_OUT_CODE:
        raise ContactStopped(reason(code, message), ext_code=code)
    if code:
        raise RejectedWithReason(reason(code, message), ext_code=code)
    raise ResponseStatusError(f"HTTP {status} from {host}", ext_code=str(status))
