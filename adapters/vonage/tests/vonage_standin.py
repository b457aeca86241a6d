"""OURS, NOT VONAGE: a local stand-in for Vonage's SMS API, answering `POST /sms/json` as Vonage's API reference
documents it, for the adapter's cassettes and live tests (run by tests.support.standin.StandIn, stopped by PID).

Every answer is HTTP 200 with `{"message-count", "messages": [...]}` unless stated: one message per SMS Vonage
would send (160/153 GSM-7 characters or 70/67 UCS-2 units each), `status` "0" and a `message-id` derived from the
request (stable across recordings). Credentials missing → status 2, wrong → status 4. Which `to` numbers fail
is ours (UK drama numbers): each gives one documented error class.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository root, for tests.support

from tests.support.standin import Answer, Received, serve

__all__ = ["BARRED", "INTERNAL", "KEY", "QUOTA", "RATE_LIMITED", "SECRET", "SERVER_ERROR", "THROTTLED", "answer"]

KEY, SECRET = "k3y-vonage-0001", "s3cret-vonage-0002"
THROTTLED = "447700900001"  # status 1 with the throughput text
INTERNAL = "447700900005"  # status 5
BARRED = "447700900007"  # status 7
QUOTA = "447700900009"  # status 9
RATE_LIMITED = "447700900429"  # HTTP 429
SERVER_ERROR = "447700900500"  # HTTP 500

_GSM = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿"
           "abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€\f")
_REFUSED = {
    THROTTLED: ("1", "Throughput Rate Exceeded - please wait [ 250 ] and retry"),
    INTERNAL: ("5", "Internal Error"),
    BARRED: ("7", "Number barred."),
    QUOTA: ("9", "Quota Exceeded - rejected"),
}


def _sms_count(text: str, kind: str) -> int:
    if kind == "unicode":
        units = len(text.encode("utf-16-le")) // 2
        return 1 if units <= 70 else -(-units // 67)
    septets = sum(2 if c in "^{}\\[~]|€\f" else 1 for c in text if c in _GSM)
    return 1 if septets <= 160 else -(-septets // 153)


def _refused(status: str, text: str) -> Answer:
    return Answer(200, {"message-count": "1", "messages": [{"status": status, "error-text": text}]})


def answer(request: Received) -> Answer:
    """Vonage's answer to one request."""
    if request.method != "POST" or request.path != "/sms/json":
        return Answer(404, {"type": "https://developer.vonage.com/api-errors#not-found", "title": "Not Found"})
    form = request.form()
    if not form.get("api_key") or not form.get("api_secret"):
        return _refused("2", "Missing api_key")
    if (form["api_key"], form["api_secret"]) != (KEY, SECRET):
        return _refused("4", "Bad Credentials")
    to, text, kind = form.get("to", ""), form.get("text", ""), form.get("type", "text")
    if not to or not form.get("from") or not text:
        return _refused("2", "Missing to, from or text")
    if to == RATE_LIMITED:
        return Answer(429, "", {"Retry-After": "1"})
    if to == SERVER_ERROR:
        return Answer(500, "Internal Server Error")
    if to in _REFUSED:
        return _refused(*_REFUSED[to])
    digest = hashlib.sha256(request.body).hexdigest().upper()
    count = _sms_count(text, kind)
    return Answer(200, {"message-count": str(count), "messages": [
        {"to": to, "message-id": f"{digest[:14]}{n:02d}", "status": "0", "remaining-balance": "3.14159",
         "message-price": "0.03330000", "network": "23410"} for n in range(count)]})


if __name__ == "__main__":
    serve("vonage", answer)
