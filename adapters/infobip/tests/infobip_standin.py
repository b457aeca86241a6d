"""OURS, NOT INFOBIP: a local stand-in for Infobip's SMS API v3 (`POST /sms/3/messages`) and MMS API
(`POST /mms/2/messages`), answering as Infobip's API reference documents them, for the adapter's cassettes and
live tests (run by tests.support.standin.StandIn, stopped by PID).

Authentication is `App <api key>` or basic auth (401 with a `requestError` otherwise); a request without
`messages`, a destination without `to` or a message without content is 400 with `violations`. Each accepted
destination gets `status` PENDING_ACCEPTED (group 1), the `messageId` the request gave (else one derived from
the request, stable across recordings) and `details.messageCount` (160/153 GSM-7 characters or 70/67 UCS-2
units per SMS). Which `to` numbers fail is ours: each gives one documented status or HTTP error.
"""

from __future__ import annotations

import base64
import hashlib
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository root, for tests.support

from tests.support.standin import Answer, Received, serve

__all__ = ["API_KEY", "DND", "NO_CREDIT", "PASSWORD", "RATE_LIMITED", "SERVER_ERROR", "SYSTEM_ERROR", "USERNAME",
           "answer"]

API_KEY = "k3y-infobip-0001"
USERNAME, PASSWORD = "smsgate-user", "p4ss-infobip-0002"
NO_CREDIT = "385900000012"  # REJECTED_NOT_ENOUGH_CREDITS
DND = "385900000010"  # REJECTED_DND
SYSTEM_ERROR = "385900000021"  # REJECTED_SYSTEM_ERROR
RATE_LIMITED = "385900000429"  # HTTP 429
SERVER_ERROR = "385900000500"  # HTTP 500

_GSM = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿"
           "abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€\f")
_REJECTED = {NO_CREDIT: (12, "REJECTED_NOT_ENOUGH_CREDITS", "Not enough credits"),
             DND: (10, "REJECTED_DND", "Destination is on a DND list"),
             SYSTEM_ERROR: (21, "REJECTED_SYSTEM_ERROR", "System error")}


def _sms_count(text: str) -> int:
    if all(c in _GSM for c in text):
        septets = sum(2 if c in "^{}\\[~]|€\f" else 1 for c in text)
        return 1 if septets <= 160 else -(-septets // 153)
    units = len(text.encode("utf-16-le")) // 2
    return 1 if units <= 70 else -(-units // 67)


def _service_error(status: int, message_id: str, text: str) -> Answer:
    return Answer(status, {"requestError": {"serviceException": {"messageId": message_id, "text": text}}})


def _violations(*pairs: tuple[str, str]) -> Answer:
    return Answer(400, {"errorCode": "E400", "description": "Request cannot be processed.",
                        "action": "Check the syntax, violations and adjust the request.",
                        "violations": [{"property": p, "violation": v} for p, v in pairs]})


def _authorized(request: Received) -> bool:
    scheme, _, credential = request.headers.get("authorization", "").partition(" ")
    if scheme == "App":
        return credential == API_KEY
    if scheme == "Basic":
        return credential == base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
    return False


def answer(request: Received) -> Answer:
    """Infobip's answer to one request."""
    mms = request.path == "/mms/2/messages"
    if request.method != "POST" or request.path not in ("/sms/3/messages", "/mms/2/messages"):
        return _service_error(404, "NOT_FOUND", "Requested URL not found")
    if not _authorized(request):
        return _service_error(401, "UNAUTHORIZED", "Invalid login details")
    body = request.json()
    messages = body.get("messages") if isinstance(body, dict) else None
    if not isinstance(messages, list) or not messages:
        return _violations(("messages", "must not be empty"))
    out: list[dict[str, Any]] = []
    digest = hashlib.sha256(request.body).hexdigest()
    for n, message in enumerate(messages):
        content = message.get("content") or {}
        text = str(content.get("text") or "")
        if (mms and not content.get("messageSegments")) or (not mms and not text):
            return _violations((f"messages[{n}].content", "must not be empty"))
        for d, destination in enumerate(message.get("destinations") or [{}]):
            to = str(destination.get("to") or "")
            if not to:
                return _violations((f"messages[{n}].destinations[{d}].to", "must not be blank"))
            if to == RATE_LIMITED:
                return _service_error(429, "TOO_MANY_REQUESTS", "Too many requests")
            if to == SERVER_ERROR:
                return _service_error(500, "GENERAL_ERROR", "Something went wrong")
            message_id = str(destination.get("messageId") or f"{int(digest[:15], 16)}{n}{d}")
            if to in _REJECTED:
                status_id, name, description = _REJECTED[to]
                status = {"groupId": 5, "groupName": "REJECTED", "id": status_id, "name": name,
                          "description": description}
            else:
                status = {"groupId": 1, "groupName": "PENDING", "id": 26, "name": "PENDING_ACCEPTED",
                          "description": "Message sent to next instance"}
            out.append({"messageId": message_id, "status": status, "destination": to,
                        "details": {"messageCount": 1 if mms else _sms_count(text)}})
    return Answer(200, {"bulkId": str(int(digest[15:30], 16)), "messages": out})


if __name__ == "__main__":
    serve("infobip", answer)
