"""What Jasmin says, in smsgate's terms: its /send answers as `smsgate.errors`, and its delivery receipts (level
2: the SMSC's `stat`; level 1: the upstream's submit_sm_resp status) as statuses.

/send answers `Success "<uuid>"` or `Error "<sentence>"` as text/plain. Transport errors and 5xx are retried
(`ConnectionFailed`), 429 and Jasmin's 403 `User throughput exceeded` too (`Throttled`); every other status is
final (`ResponseStatusError`), with Jasmin's sentence kept as the reason. Jasmin has no opt-out answer.
"""

from __future__ import annotations

import re

import httpx
from smsgate import SendError, Status
from smsgate.errors import Throttled
from smsgate.http import check_response

__all__ = ["ACK", "RECEIPT_STATUS", "check_send", "external_id_of", "jasmin_error"]

#: the exact body Jasmin's throwers wait for; anything else is thrown again after retry_delay
ACK = "ACK/Jasmin"

#: a level-2 receipt's `message_status` (the SMSC receipt's `stat`) → our status, as courier maps it
RECEIPT_STATUS: dict[str, Status] = {
    "DELIVRD": Status.DELIVERED,
    "ACCEPTD": Status.SENT,
    "UNKNOWN": Status.WIRED,
    "UNDELIV": Status.FAILED,
    "REJECTD": Status.FAILED,
    "EXPIRED": Status.FAILED,
    "DELETED": Status.FAILED,
}

_SUCCESS = re.compile(r'Success "(.*)"')
_ERROR = re.compile(r'Error "(.*)"', re.DOTALL)
_THROUGHPUT = "User throughput exceeded"


def jasmin_error(response: httpx.Response) -> str:
    """Jasmin's own sentence from an `Error "..."` answer (else the body), on one line."""
    text = " ".join(response.text.split())
    found = _ERROR.search(text)
    return (found.group(1) if found else text)[:200]


def check_send(response: httpx.Response) -> None:
    """The core's status classes with Jasmin's sentence as the reason; a user over its HTTP throughput quota
    (403 `User throughput exceeded`) is throttled, not refused."""
    said = jasmin_error(response) if response.status_code >= 300 else ""
    if response.status_code == 403 and said.startswith(_THROUGHPUT):
        raise Throttled(f"HTTP 403: {said}", ext_code="throughput_exceeded")
    try:
        check_response(response)
    except SendError as exc:
        if said:
            exc.reason = f"{exc.reason}: {said}"
            exc.args = (exc.reason,)
        raise


def external_id_of(response: httpx.Response) -> str | None:
    """The message id of a `Success "<uuid>"` answer, or None (courier: still wired, but no receipt will match)."""
    found = _SUCCESS.search(response.text)
    return found.group(1).strip() or None if found else None
