"""Twilio's vocabulary for smsgate's messages: SIDs, dates, statuses, error codes, the Message JSON and errors.

Facts restated from Twilio's API reference and its SDKs (see docs/twilio-api.md): a message SID is `SM` (or `MM`
with media) and 32 hex digits; dates are RFC 2822 in GMT written with `+0000`; `num_media` and `num_segments`
are strings while `error_code` is an integer; an error is `{"code", "message", "more_info", "status"}`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ..._models import MessageRecord, Status
from ...text import segment

__all__ = ["API_VERSION", "EXPIRED_REASON", "TwilioError", "callback_status", "error_body", "error_code",
           "message_id_of", "message_json", "rfc2822", "segments", "sent_at", "sid_of", "twilio_meta",
           "twilio_status"]

API_VERSION = "2010-04-01"
EXPIRED_REASON = "ValidityPeriod expired before the message could be sent"
"""The veto reason of a message whose ValidityPeriod ran out while queued (Twilio's error 30036)."""

_SID = re.compile(r"(SM|MM)([0-9a-fA-F]{32})")
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class TwilioError(Exception):
    """A request Twilio would refuse: its error `code`, HTTP `status` and `message`, as Twilio words them."""

    def __init__(self, code: int, message: str, status: int = 400, headers: dict[str, str] | None = None) -> None:
        self.code, self.message, self.status, self.headers = code, message, status, headers
        super().__init__(message)


def error_body(code: int, message: str, status: int) -> dict[str, Any]:
    """Twilio's error JSON (the 2010 API's shape, which both SDKs read into their REST exception)."""
    return {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status}


# -- SIDs ------------------------------------------------------------------------------------------------------


def sid_of(message_id: str, media: bool = False) -> str:
    """The SID of smsgate message `message_id` (a UUID): `SM` (`MM` with media) and the UUID's 32 hex digits.

    A bijection, so no table maps one to the other and every message smsgate holds has a SID, whichever door
    it came through. A media message the front created keeps its `MM` SID in `metadata.twilio.sid` (its media
    may be redacted later); any other message's SID is `SM` and its id."""
    return ("MM" if media else "SM") + message_id.replace("-", "").lower()


def message_id_of(sid: str) -> str | None:
    """The smsgate message id a SID names (either prefix, any case), or None when it is no message SID."""
    match = _SID.fullmatch(sid)
    if match is None:
        return None
    h = match.group(2).lower()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


# -- dates --------------------------------------------------------------------------------------------------


def rfc2822(iso: str | None) -> str | None:
    """A stored ISO 8601 time as Twilio writes dates: `Thu, 24 Aug 2023 05:01:45 +0000` (English names, UTC)."""
    if not iso:
        return None
    when = datetime.fromisoformat(iso).astimezone(UTC)
    return (f"{_DAYS[when.weekday()]}, {when.day:02d} {_MONTHS[when.month - 1]} {when.year} "
            f"{when.hour:02d}:{when.minute:02d}:{when.second:02d} +0000")


# -- statuses and errors --------------------------------------------------------------------------------------

_LEFT = {Status.WIRED.value, Status.SENT.value, Status.DELIVERED.value, Status.READ.value}


def sent_at(history: Sequence[Mapping[str, Any]]) -> str | None:
    """When the aggregator took the message (its first applied wired, sent, delivered or read), or None."""
    return next((h["at"] for h in history if h.get("applied") and h.get("status") in _LEFT), None)


def twilio_meta(record: MessageRecord) -> dict[str, Any]:
    """What the front stored about a message it created (`metadata.twilio`), or {}."""
    meta = record.metadata.get("twilio") if isinstance(record.metadata, dict) else None
    return meta if isinstance(meta, dict) else {}


def twilio_status(record: MessageRecord, date_sent: str | None) -> str:
    """The message's status in Twilio's words: errored is still `queued` (smsgate retries it), a request in
    flight is `sending`, wired and sent are `sent`, and a failure after the aggregator took it is `undelivered`."""
    status = record.status
    if record.direction == "in":
        return "received"
    if status in ("queued", "errored"):
        if record.sending_at:
            return "sending"
        if status == "queued" and record.attempts == 0 and twilio_meta(record).get("service"):
            return "accepted"  # a Messaging Service's message before a sender was picked
        return "queued"
    if status in ("wired", "sent"):
        return "sent"
    if status == "failed":
        return "undelivered" if date_sent else "failed"
    return status  # delivered, read


def callback_status(previous: Status | None, current: Status) -> str | None:
    """The MessageStatus a status callback reports for a move, or None when Twilio would send none: not for
    the initial `queued` nor smsgate's retries, and `sent` once (wired then sent)."""
    if current in (Status.WIRED, Status.SENT):
        return None if previous in (Status.WIRED, Status.SENT) else "sent"
    if current is Status.FAILED:
        return "undelivered" if previous in (Status.WIRED, Status.SENT) else "failed"
    if current in (Status.DELIVERED, Status.READ):
        return current.value
    return None


# smsgate's error codes (core's SendError codes, and what each adapter stores) in Twilio's terms
_CODES = {
    "contact_stopped": 21610,
    "message_invalid": 21211,
    "ESME_RINVDSTADR": 30005,  # SMPP: invalid destination address
    "UNDELIV": 30003, "EXPIRED": 30003,  # SMPP receipts: the handset could not be reached
    "REJECTD": 30007,
    "dlr:2": 30003,  # Kannel: delivery to the phone failed
    "dlr:16": 30006,  # Kannel: the SMSC refused it
    "connection_throttled": 30001,  # still throttled when the worker gave up: the queue overflowed
    "vetoed": 30007,  # a before_send hook filtered it
}
TITLES = {
    21211: "Invalid 'To' Phone Number", 21610: "Attempt to send to unsubscribed recipient",
    30001: "Queue overflow", 30003: "Unreachable destination handset", 30005: "Unknown destination handset",
    30006: "Landline or unreachable carrier", 30007: "Message filtered", 30008: "Unknown error",
    30036: "Validity Period Expired",
}
"""Twilio's title of each error code the front reports on a failed message."""


def error_code(record: MessageRecord) -> tuple[int | None, str | None]:
    """A failed message's (error_code, error_message) in Twilio's terms; (None, None) unless it failed.

    A code Twilio itself gave (through the `twilio` adapter) is kept; smsgate's own map onto the nearest
    Twilio code, anything else is 30008 (unknown error)."""
    if record.status != Status.FAILED.value:
        return None, None
    code = record.error_code or ""
    if code == "vetoed" and (record.error_reason or "").startswith(EXPIRED_REASON):
        number = 30036
    elif code.isascii() and code.isdigit() and len(code) == 5:
        number = int(code)
    else:
        number = _CODES.get(code, 30008)
    return number, TITLES.get(number, record.error_reason or TITLES[30008])


# -- the Message resource ------------------------------------------------------------------------------------


def segments(text: str) -> int:
    """How many SMS segments `text` takes (what Twilio reports before the aggregator says)."""
    # most texts are short: 35 characters fit one segment whatever they hold, 70 ASCII ones too (GSM-7 or not)
    if len(text) <= 35 or (len(text) <= 70 and text.isascii()):
        return 1
    return segment(text).count


def message_json(record: MessageRecord, account_sid: str, date_sent: str | None) -> dict[str, Any]:
    """The Message resource Twilio's API answers with, for a stored message (`date_sent`: ISO, or None)."""
    meta = twilio_meta(record)
    sid = meta.get("sid") or sid_of(record.id)
    code, message = error_code(record)
    uri = f"/{API_VERSION}/Accounts/{account_sid}/Messages/{sid}"
    direction = "inbound" if record.direction == "in" else str(meta.get("direction") or "outbound-api")
    created = rfc2822(record.created_at)
    updated = created if record.updated_at == record.created_at else rfc2822(record.updated_at)
    return {
        "account_sid": account_sid, "api_version": API_VERSION, "body": record.text,
        "date_created": created, "date_sent": rfc2822(date_sent),
        "date_updated": updated, "direction": direction, "error_code": code,
        "error_message": message, "from": record.from_ or None, "messaging_service_sid": meta.get("service"),
        "num_media": str(len(record.attachments)), "num_segments": str(record.segments or segments(record.text)),
        "price": None,
        "price_unit": None, "sid": sid, "status": twilio_status(record, date_sent),
        "subresource_uris": {"media": f"{uri}/Media.json"}, "to": record.to, "uri": f"{uri}.json",
    }
