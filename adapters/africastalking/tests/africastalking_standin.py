"""OURS, NOT AFRICA'S TALKING: a local stand-in for Africa's Talking's SMS API (`POST /version1/messaging`),
answering as its reference documents it, for the adapter's cassettes and live tests (run by
tests.support.standin.StandIn, stopped by PID).

The API key comes in the `apiKey` header (any case) and must match the `username` form field's application,
else 401 `The supplied authentication is invalid`. A form without `username`, `to` or `message` is 400. An
accepted recipient is HTTP 201 with `SMSMessageData.Recipients[0]` = statusCode 101, status `Success` and a
`messageId` (`ATXid_` + a hash of the request, stable across recordings). Which `to` numbers are refused is
ours: each gives one documented per-recipient statusCode (the do-not-disturb one with HTTP 409, as AT does),
plus a 503 for a server in trouble.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository root, for tests.support

from tests.support.standin import Answer, Received, serve

__all__ = ["API_KEY", "BLACKLISTED", "DND", "INTERNAL", "INVALID", "NO_BALANCE", "SERVER_ERROR", "USERNAME", "answer"]

USERNAME, API_KEY = "smsgate-app", "k3y-africastalking-0001"
INVALID = "+254700000403"  # 403 InvalidPhoneNumber
NO_BALANCE = "+254700000405"  # 405 InsufficientBalance
BLACKLISTED = "+254700000406"  # 406 UserInBlacklist
DND = "+2348030000409"  # 409 DoNotDisturbRejection, HTTP 409
INTERNAL = "+254700000500"  # 500 InternalServerError
SERVER_ERROR = "+254700000503"  # HTTP 503, no JSON

_REFUSED = {INVALID: (403, "InvalidPhoneNumber"), NO_BALANCE: (405, "InsufficientBalance"),
            BLACKLISTED: (406, "UserInBlacklist"), DND: (409, "DoNotDisturbRejection"),
            INTERNAL: (500, "InternalServerError")}


def answer(request: Received) -> Answer:
    """Africa's Talking's answer to one request."""
    if request.method != "POST" or request.path != "/version1/messaging":
        return Answer(404, "Not Found")
    form = request.form()
    if request.headers.get("apikey") != API_KEY or form.get("username") != USERNAME:
        return Answer(401, "The supplied authentication is invalid")
    for field in ("username", "to", "message"):
        if not form.get(field):
            return Answer(400, f"Request is missing required form field '{field}'")
    to = form["to"]
    if to == SERVER_ERROR:
        return Answer(503, "Service Unavailable")
    if to in _REFUSED:
        code, status = _REFUSED[to]
        return Answer(409 if code == 409 else 201, {"SMSMessageData": {"Message": "Sent to 0/1 Total Cost: 0",
                      "Recipients": [{"cost": "0", "messageId": "None", "number": to, "status": status,
                                      "statusCode": code}]}})
    message_id = "ATXid_" + hashlib.sha256(request.body).hexdigest()[:32]
    return Answer(201, {"SMSMessageData": {"Message": "Sent to 1/1 Total Cost: KES 0.8000", "Recipients": [
        {"cost": "KES 0.8000", "messageId": message_id, "number": to, "status": "Success", "statusCode": 101}]}})


if __name__ == "__main__":
    serve("africastalking", answer)
