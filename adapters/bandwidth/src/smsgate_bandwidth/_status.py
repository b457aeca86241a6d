"""What Bandwidth's answers and codes mean to smsgate: callback event types as statuses, delivery error codes,
and send answers as `smsgate.errors`.

A send answer that is not 2xx carries `{"type", "description"}`: 5xx and transport errors are retried
(`ConnectionFailed`), 429 too (`Throttled`), any other status is final (`RejectedWithReason`, Bandwidth's `type`
as the error code), and a body that is not JSON is final as `response_unparseable`, as courier has it.
Opt-outs only show up later, as delivery error 4775 in a `message-failed` callback.
"""

from __future__ import annotations

from typing import Any

import httpx
from smsgate import Status
from smsgate.errors import ConnectionFailed, RejectedWithReason, ResponseContentError, Throttled
from smsgate.http import parse_retry_after

__all__ = ["DELIVERY_ERRORS", "EVENT_STATUS", "OPT_OUT_CODE", "RECEIVED", "check_bandwidth_response", "json_body"]

#: callback event `type` → our status
EVENT_STATUS: dict[str, Status] = {
    "message-sending": Status.SENT,
    "message-delivered": Status.DELIVERED,
    "message-failed": Status.FAILED,
}

#: the event type of an incoming message
RECEIVED = "message-received"

#: delivery error 4775: the recipient replied STOP; smsgate records an opt-out (courier does not)
OPT_OUT_CODE = "4775"

#: Bandwidth's delivery error codes worth a readable reason when a callback has no `description`
DELIVERY_ERRORS: dict[str, str] = {
    "4432": "rejected: forbidden country",
    "4470": "rejected: spam detected",
    "4481": "rejected: sender number in a blacklist",
    "4482": "rejected: recipient number in a blacklist",
    "4720": "invalid destination address",
    "4721": "destination number deactivated",
    "4750": "the destination rejected the message",
    "4770": "the destination detected spam",
    OPT_OUT_CODE: "the recipient opted out",
    "4795": "toll-free number not verified",
    "5600": "the destination carrier's queue is full",
    "5620": "the destination carrier failed",
    "5650": "the destination carrier failed",
    "9902": "delivery receipt expired (delivery not confirmed)",
    "9999": "unknown error",
}


def json_body(response: httpx.Response) -> Any:
    """The answer's JSON, or a final `response_unparseable` error when it is not JSON (courier's rule)."""
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError):
        said = " ".join(response.text.split())[:120]
        raise ResponseContentError(f"HTTP {response.status_code}: the answer is not JSON: {said!r}",
                                   code="response_unparseable") from None


def check_bandwidth_response(response: httpx.Response) -> None:
    """2xx passes; 5xx and 429 are retried; any other status is Bandwidth refusing the message, final."""
    code = response.status_code
    if 200 <= code < 300:
        return
    # a 5xx or a 429 may come from a proxy in between: its body is read if it is JSON, never required
    payload = json_body(response) if code < 500 and code != 429 else _maybe_json(response)
    kind = str(payload.get("type") or "").strip()[:64] if isinstance(payload, dict) else ""
    said = str(payload.get("description") or "").strip()[:300] if isinstance(payload, dict) else ""
    reason = f"HTTP {code}: {kind or 'error'}" + (f": {said}" if said else "")
    if code >= 500:
        raise ConnectionFailed(f"{reason} (from {response.request.url.host})", ext_code=str(code))
    if code == 429:
        raise Throttled(reason, ext_code=kind or "429",
                        retry_after=parse_retry_after(response.headers.get("retry-after")))
    raise RejectedWithReason(reason, ext_code=kind or None)


def _maybe_json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError):
        return None
