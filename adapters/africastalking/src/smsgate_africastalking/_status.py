"""What Africa's Talking's codes mean to smsgate: a recipient's `statusCode` in a send answer, delivery-report
statuses and their `failureReason`s.

Courier takes a send as accepted only when the first recipient's `status` is `Success`; so does smsgate, and maps
a refusal by its documented `statusCode`: a recipient who blacklisted the sender stops the contact, a bad number
is invalid, and Africa's Talking's own internal and gateway errors are retried. A send answer is checked inside
the HTTP client's retry loop, so it raises only when nothing was sent.
"""

from __future__ import annotations

from typing import Any

import httpx
from smsgate import Status
from smsgate.errors import (
    ContactStopped,
    MessageInvalid,
    RejectedWithReason,
    ResponseContentError,
    RetryableError,
    SendError,
)
from smsgate.http import check_response

__all__ = ["BLACKLISTED", "RECIPIENT_ERRORS", "REPORT_STATUS", "check_africastalking_response", "recipient"]

#: a refused recipient's `statusCode` → (Africa's Talking's name, what it means to smsgate)
RECIPIENT_ERRORS: dict[int, tuple[str, type[SendError]]] = {
    401: ("RiskHold", RejectedWithReason),
    402: ("InvalidSenderId", RejectedWithReason),
    403: ("InvalidPhoneNumber", MessageInvalid),
    404: ("UnsupportedNumberType", MessageInvalid),
    405: ("InsufficientBalance", RejectedWithReason),
    406: ("UserInBlacklist", ContactStopped),
    407: ("CouldNotRoute", RejectedWithReason),
    409: ("DoNotDisturbRejection", RejectedWithReason),
    500: ("InternalServerError", RetryableError),
    501: ("GatewayError", RetryableError),
    502: ("RejectedByGateway", RejectedWithReason),
}

#: a delivery report's `status` → ours (courier's six, plus Submitted and AbsentSubscriber, which AT documents)
REPORT_STATUS: dict[str, Status] = {
    "Success": Status.DELIVERED,
    "Sent": Status.SENT,
    "Submitted": Status.SENT,
    "Buffered": Status.SENT,
    "Rejected": Status.FAILED,
    "Failed": Status.FAILED,
    "Expired": Status.FAILED,
    "AbsentSubscriber": Status.FAILED,
}

#: the `failureReason` of a recipient who blacklisted the sender
BLACKLISTED = "UserInBlackList"


def recipient(response: httpx.Response) -> tuple[dict[str, Any] | None, str]:
    """The first entry of `SMSMessageData.Recipients` (None when there is none) and the answer's `Message`."""
    try:
        payload = response.json()
    except (ValueError, UnicodeDecodeError):
        return None, ""
    data = payload.get("SMSMessageData") if isinstance(payload, dict) else None
    if not isinstance(data, dict):
        return None, ""
    recipients = data.get("Recipients")
    first = recipients[0] if isinstance(recipients, list) and recipients and isinstance(recipients[0], dict) else None
    return first, str(data.get("Message") or "")[:200]


def _code(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def check_africastalking_response(response: httpx.Response) -> None:
    """2xx with the recipient's status `Success` passes; a refused recipient raises by its `statusCode` (even
    on a non-2xx answer, as the 409 of a do-not-disturb refusal); anything else is `check_response`'s or a
    `response_content` failure."""
    first, message = recipient(response)
    ok = 200 <= response.status_code < 300
    if ok and first is not None and first.get("status") == "Success":
        return
    code = _code(first.get("statusCode")) if first is not None else None
    if code in RECIPIENT_ERRORS:
        name, kind = RECIPIENT_ERRORS[code]
        status = str(first.get("status") or name)[:64] if first is not None else name
        raise kind(f"Africa's Talking refused the recipient: {code} {status}", ext_code=str(code))
    check_response(response)
    if first is None:
        raise ResponseContentError(f"Africa's Talking sent to nobody: {message or 'no Recipients in the answer'}")
    raise ResponseContentError(f"Africa's Talking recipient status {str(first.get('status'))[:64]!r}, "
                               f"not 'Success'")
