"""What Vonage's codes mean to smsgate: the send statuses of `/sms/json`, delivery-receipt statuses and their
`err-code`s.

Send statuses follow Vonage's troubleshooting table: "throttled" and "too many binds" are `Throttled` and
"internal error" is retried (Vonage says to retry them; courier fails them), a barred number stops the contact,
everything else is a final rejection with Vonage's reason. A send answer is checked inside the HTTP client's
retry loop, so it raises only when Vonage accepted none of the request's SMS: retrying then sends nothing twice.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
from smsgate import Status
from smsgate.errors import (
    ContactStopped,
    RejectedWithReason,
    ResponseContentError,
    RetryableError,
    SendError,
    Throttled,
)
from smsgate.http import check_response

__all__ = ["DLR_ERRORS", "DLR_STATUS", "SEND_STATUSES", "check_vonage_response", "read_answer", "send_error"]

#: `status` of a message in a send answer → (its name, what it means to smsgate); "0" is success
SEND_STATUSES: dict[str, tuple[str, type[SendError]]] = {
    "1": ("Throttled", Throttled),
    "2": ("Missing Parameters", RejectedWithReason),
    "3": ("Invalid Parameters", RejectedWithReason),
    "4": ("Invalid Credentials", RejectedWithReason),
    "5": ("Internal Error", RetryableError),
    "6": ("Invalid Message", RejectedWithReason),
    "7": ("Number Barred", ContactStopped),
    "8": ("Partner Account Barred", RejectedWithReason),
    "9": ("Partner Quota Violation", RejectedWithReason),
    "10": ("Too Many Existing Binds", Throttled),
    "11": ("Account Not Enabled For HTTP", RejectedWithReason),
    "12": ("Message Too Long", RejectedWithReason),
    "14": ("Invalid Signature", RejectedWithReason),
    "15": ("Invalid Sender Address", RejectedWithReason),
    "22": ("Invalid Network Code", RejectedWithReason),
    "23": ("Invalid Callback URL", RejectedWithReason),
    "29": ("Non-Whitelisted Destination", RejectedWithReason),
    "32": ("Signature And API Secret Disallowed", RejectedWithReason),
    "33": ("Number De-activated", RejectedWithReason),
}

#: a delivery receipt's `status` → ours (courier's table; "unknown" says nothing new, so it stays wired)
DLR_STATUS: dict[str, Status] = {
    "delivered": Status.DELIVERED,
    "accepted": Status.SENT,
    "buffered": Status.SENT,
    "unknown": Status.WIRED,
    "failed": Status.FAILED,
    "expired": Status.FAILED,
    "rejected": Status.FAILED,
}

#: a delivery receipt's `err-code` → its meaning
DLR_ERRORS: dict[str, str] = {
    "1": "Unknown", "2": "Absent Subscriber - Temporary", "3": "Absent Subscriber - Permanent",
    "4": "Call Barred by User", "5": "Portability Error", "6": "Anti-Spam Rejection", "7": "Handset Busy",
    "8": "Network Error", "9": "Illegal Number", "10": "Illegal Message", "11": "Unroutable",
    "12": "Destination Unreachable", "13": "Subscriber Age Restriction", "14": "Number Blocked by Carrier",
    "15": "Prepaid Insufficient Funds", "16": "Gateway Quota Exceeded", "50": "Entity Filter", "51": "Header Filter",
    "52": "Content Filter", "53": "Consent Filter", "54": "Regulation Error", "99": "General Error",
}

# Vonage's throughput answer; the number is how many milliseconds to wait
_THROUGHPUT = re.compile(r"Throughput Rate Exceeded - please wait \[ (\d+) \] and retry")


def send_error(code: str, text: str | None) -> SendError:
    """The error for a message Vonage did not accept (`status` `code`, its `error-text` `text`)."""
    wait = _THROUGHPUT.search(text or "")
    if wait:
        return Throttled(f"Vonage status {code}: {text}", ext_code=f"send:{code}",
                         retry_after=int(wait.group(1)) / 1000)
    name, kind = SEND_STATUSES.get(code, ("Unknown Status", RejectedWithReason))
    return kind(f"Vonage status {code} ({name})" + (f": {text[:200]}" if text else ""), ext_code=f"send:{code}")


def _messages(response: httpx.Response) -> list[dict[str, Any]] | None:
    try:
        payload = response.json()
    except (ValueError, UnicodeDecodeError):
        return None
    messages = payload.get("messages") if isinstance(payload, dict) else None
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        return None
    return messages


def check_vonage_response(response: httpx.Response) -> None:
    """Raise when the request sent nothing: a throughput answer, an HTTP error, an answer without messages, or
    one whose every message Vonage refused (the first one's error)."""
    messages = _messages(response) if 200 <= response.status_code < 300 else None
    if messages and any(str(m.get("status", "")).strip() == "0" for m in messages):
        return  # something went out: never retried (read_answer tells the rest)
    wait = _THROUGHPUT.search(response.text)
    if wait:  # whatever the HTTP status: Vonage says how long to wait
        raise Throttled(f"Vonage: {wait.group(0)}", ext_code="send:1", retry_after=int(wait.group(1)) / 1000)
    check_response(response)
    if messages is None:
        raise ResponseContentError("Vonage's answer has no 'messages' with a status")
    first = messages[0]
    raise send_error(str(first.get("status", "")).strip(), first.get("error-text"))


def read_answer(response: httpx.Response) -> tuple[list[str], int, SendError | None]:
    """From an answer that passed the check: the accepted SMS's ids, how many SMS it holds, and the error of the
    first one Vonage refused (None when it took them all)."""
    messages = _messages(response) or []
    ids = [str(m["message-id"]) for m in messages if str(m.get("status", "")).strip() == "0" and m.get("message-id")]
    refused = next((m for m in messages if str(m.get("status", "")).strip() != "0"), None)
    error = send_error(str(refused.get("status", "")).strip(), refused.get("error-text")) if refused else None
    return ids, len(messages), error
