"""What Infobip's codes mean to smsgate: message statuses in send answers and delivery reports, and the API's
error answers.

Every message status has a group (`groupId`/`groupName`: PENDING, UNDELIVERABLE, DELIVERED, EXPIRED, REJECTED)
and a detailed `id`/`name`. A send is accepted when its group is PENDING (1) or DELIVERED (3), as courier
decides; a refusal is mapped by its detailed status, so a do-not-disturb or blocklisted destination stops the
contact and Infobip's own system error is retried. A send answer is checked inside the HTTP client's retry loop,
so it raises only when Infobip accepted none of the request's messages.
"""

from __future__ import annotations

from typing import Any

import httpx
from smsgate import Status
from smsgate.errors import (
    ConnectionFailed,
    ContactStopped,
    MessageInvalid,
    RejectedWithReason,
    ResponseContentError,
    ResponseStatusError,
    RetryableError,
    SendError,
    Throttled,
)
from smsgate.http import parse_retry_after

__all__ = ["ACCEPTED_GROUPS", "OPT_OUT_STATUSES", "REFUSALS", "REPORT_GROUPS", "accepted", "check_infobip_response",
           "json_body", "opts_out", "read_answer", "refusal", "report_status"]

#: send answers: the groups that mean Infobip took the message (PENDING, DELIVERED)
ACCEPTED_GROUPS = frozenset({1, 3})

#: a refused message's detailed status id → what it means to smsgate (any other: a final rejection)
REFUSALS: dict[int, type[SendError]] = {
    8: MessageInvalid,  # REJECTED_PREFIX_MISSING
    10: ContactStopped,  # REJECTED_DND: the destination is on a do-not-disturb list
    14: ContactStopped,  # REJECTED_DESTINATION_BLOCKLISTED
    21: RetryableError,  # REJECTED_SYSTEM_ERROR: Infobip's own failure, nothing was sent
    51: MessageInvalid,  # MISSING_TO
    52: MessageInvalid,  # REJECTED_DESTINATION
}

#: the detailed statuses that mean the recipient does not want messages (a report records an opt-out)
OPT_OUT_STATUSES = frozenset({10, 14})

#: a delivery report's `groupName` → ours; DELIVERED_TO_OPERATOR (id 2) is only `sent`, see report_status
REPORT_GROUPS: dict[str, Status] = {
    "PENDING": Status.SENT,
    "DELIVERED": Status.DELIVERED,
    "UNDELIVERABLE": Status.FAILED,
    "EXPIRED": Status.FAILED,
    "REJECTED": Status.FAILED,
}

_DELIVERED_TO_OPERATOR = 2


def json_body(response: httpx.Response) -> Any:
    """The answer's JSON, or None when it is not JSON (a proxy's error page, an empty body)."""
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError):
        return None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _messages(response: httpx.Response) -> list[dict[str, Any]] | None:
    payload = json_body(response)
    messages = payload.get("messages") if isinstance(payload, dict) else None
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        return None
    return messages


def _status(message: dict[str, Any]) -> dict[str, Any]:
    status = message.get("status")
    return status if isinstance(status, dict) else {}


def accepted(message: dict[str, Any]) -> bool:
    """Whether Infobip took this message of a send answer."""
    return _int(_status(message).get("groupId")) in ACCEPTED_GROUPS


def refusal(message: dict[str, Any]) -> SendError:
    """The error for a message of a send answer that Infobip did not accept."""
    status = _status(message)
    status_id = _int(status.get("id"))
    name = str(status.get("name") or f"groupId {status.get('groupId')}")[:64]
    description = str(status.get("description") or status.get("groupName") or "no description")[:200]
    kind = REFUSALS.get(status_id, RejectedWithReason) if status_id is not None else ResponseContentError
    return kind(f"Infobip refused the message: {name} ({description})", ext_code=name)


def _error_text(payload: Any) -> str:
    """Infobip's reason in an error answer: v3's `description` and violations, or v2's serviceException text."""
    if not isinstance(payload, dict):
        return ""
    if payload.get("description"):
        violations = payload.get("violations")
        details = "; ".join(f"{v.get('property')}: {v.get('violation')}" for v in violations
                            if isinstance(v, dict)) if isinstance(violations, list) else ""
        return str(payload["description"])[:200] + (f" ({details[:300]})" if details else "")
    request_error = payload.get("requestError")
    exception = request_error.get("serviceException") if isinstance(request_error, dict) else None
    if isinstance(exception, dict):
        return f"{exception.get('messageId', '')}: {exception.get('text', '')}"[:300]
    return ""


def check_infobip_response(response: httpx.Response) -> None:
    """Raise when the request sent nothing: an HTTP error (429 and 5xx retried), an answer without messages, or
    one whose every message Infobip refused (the first one's error)."""
    status = response.status_code
    host = response.request.url.host
    if not 200 <= status < 300:
        why = _error_text(json_body(response))
        detail = f"HTTP {status} from {host}" + (f": {why}" if why else "")
        if status == 429:
            raise Throttled(detail, ext_code="429", retry_after=parse_retry_after(response.headers.get("retry-after")))
        if status >= 500:
            raise ConnectionFailed(detail, ext_code=str(status))
        raise ResponseStatusError(detail, ext_code=str(status))
    messages = _messages(response)
    if messages is None:
        raise ResponseContentError("Infobip's answer has no 'messages' with a status")
    if not any(accepted(m) for m in messages):
        raise refusal(messages[0])


def read_answer(response: httpx.Response) -> tuple[list[str], int, SendError | None]:
    """From an answer that passed the check: the accepted messages' ids, their SMS count (Infobip's
    `details.messageCount`, 0 when not given), and the error of the first refused one (None when all went)."""
    messages = _messages(response) or []
    ids: list[str] = []
    count = 0
    for message in messages:
        if accepted(message):
            if message.get("messageId"):
                ids.append(str(message["messageId"]))
            details = message.get("details")
            count += max(_int(details.get("messageCount")) or 0, 0) if isinstance(details, dict) else 0
    refused = next((m for m in messages if not accepted(m)), None)
    return ids, count, refusal(refused) if refused is not None else None


def report_status(status: dict[str, Any]) -> Status | None:
    """Our status for a delivery report's `status` object, or None for a group Infobip does not document."""
    ours = REPORT_GROUPS.get(str(status.get("groupName", "")).strip().upper())
    if ours is Status.DELIVERED and _int(status.get("id")) == _DELIVERED_TO_OPERATOR:
        return Status.SENT  # the operator has it, the handset not yet: a later report may still fail it
    return ours


def opts_out(status: dict[str, Any]) -> bool:
    """Whether a report's `status` says the recipient does not want messages (do-not-disturb, blocklisted)."""
    return _int(status.get("id")) in OPT_OUT_STATUSES
