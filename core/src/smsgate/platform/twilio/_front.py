"""Twilio's Messages resource (API 2010-04-01) in front of smsgate's channels: create, fetch, list, update
(redact) and delete, each answering what Twilio answers, in Twilio's JSON, or Twilio's error JSON.

Framework-neutral, as the bridges are: the web layer hands each operation the authenticated account and the
request's parameters and sends back the (status, body) it returns. Messages are queued through the gateway's
sending door and read from the store; a message's SID is its smsgate id in hex (`_wire.sid_of`).
"""

from __future__ import annotations

import asyncio
import math
import re
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from ..._models import MessageRecord, utcnow
from ...config._fields import http_url
from ...config._settings import Config
from ...errors import ConfigError, LimitReached, MessageInvalid
from ...store import Forgotten, MessagePage, cursor_before
from .._bridges import Queue
from ._accounts import Account
from ._wire import TwilioError, message_id_of, message_json, sent_at, sid_of

__all__ = ["FrontStore", "TwilioFront", "not_found"]

MAX_BODY = 1600
MAX_MEDIA = 10
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 50
MAX_VALIDITY = 36000
_SERVICE = re.compile(r"MG[0-9a-fA-F]{32}")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
# statuses whose date_sent needs the message's history (when the aggregator took it)
_LEFT = ("wired", "sent", "delivered", "read", "failed")
_FINAL = ("delivered", "failed", "read")
# scheduling needs a Messaging Service's scheduler, which smsgate does not have
_SCHEDULING = ("ScheduleType", "SendAt")

Params = Sequence[tuple[str, str]]


class FrontStore(Protocol):
    """What the front needs of the store: reads, and forgetting one message on request."""

    async def get_message(self, message_id: str) -> MessageRecord | None:
        """One message with its status history, or None."""

    async def find_messages(self, *, channel: str | None = None, direction: str | None = None,
                            status: str | None = None, number: str | None = None, text: str | None = None,
                            cursor: str | None = None, limit: int = 50,
                            channels: Sequence[str] | None = None) -> MessagePage:
        """Messages newest first, keyset-paged (`smsgate.store.Reads.find_messages`)."""

    async def redact_message(self, message_id: str) -> Forgotten:
        """Blank a finished message's text (`smsgate.store.Store.redact_message`)."""

    async def delete_message(self, message_id: str) -> Forgotten:
        """Delete a finished message (`smsgate.store.Store.delete_message`)."""


def not_found(path: str) -> TwilioError:
    """Twilio's 404 for a resource that does not exist (or is another account's)."""
    return TwilioError(20404, f"The requested resource {path} was not found", 404)


def _first(params: Params, name: str) -> str | None:
    return next((v for k, v in params if k == name), None)


def _invalid(name: str, why: str) -> TwilioError:
    return TwilioError(20422, f"Invalid parameter {name}: {why}")


def _day(name: str, value: str) -> datetime:
    """A DateSent filter's day (UTC midnight): Twilio filters by the day a message was sent, and the SDKs write a
    day as a time (`2023-08-31T00:00:00Z`), so a time counts as its UTC day."""
    value = value.strip()
    try:
        if _DAY.fullmatch(value):
            day = date.fromisoformat(value)
        else:
            when = datetime.fromisoformat(value.replace("Z", "+00:00"))
            day = (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC).date()
    except ValueError:
        raise _invalid(name, f"{value[:40]!r} is not a date (YYYY-MM-DD) or an ISO 8601 time") from None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _next_day(day: datetime) -> datetime | None:
    """The start of the day after `day`; None after the last day a datetime holds (no upper bound then)."""
    try:
        return day + timedelta(days=1)
    except OverflowError:
        return None


@dataclass(frozen=True, slots=True)
class _Filters:
    """A listing's filters in the store's terms (None everywhere: everything) and its time bounds."""

    channel: str | None = None
    number: str | None = None
    direction: str | None = None
    to: str | None = None
    from_: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    empty: bool = False  # the filters contradict each other: nothing can match


class TwilioFront:
    """The Messages resource of the accounts the front serves."""

    def __init__(self, config: Config, queue: Queue, store: FrontStore,
                 observe: Callable[[str, str], None] | None = None) -> None:
        self.config = config
        self.queue = queue
        self.store = store
        self.observe = observe  # told (tenant, accepted | limited | refused) for each new message of a tenant
        self.routed = bool(config.routes)
        self.addresses = {name: channel.settings.address.strip() for name, channel in config.channels.items()}

    # -- which channel sends -------------------------------------------------------------------------------

    def pick_channel(self, account: Account, to: str, from_: str | None) -> str | None:
        """The channel a message to `to` from `from_` goes out on: the account's channel whose `address` is
        `from_`; otherwise None when `[[routes]]` exist (the gateway routes `to` among the account's channels);
        otherwise the account's fallback, `_fallback`. This is the one place where the front picks a channel."""
        if from_:
            for name in account.channels:
                if self.addresses.get(name) == from_:
                    return name
        if self.routed:
            return None
        return self._fallback(account, to, from_)

    def _fallback(self, account: Account, to: str, from_: str | None) -> str:
        """When nothing else picks: the account's `default_channel`, else its only channel (TwilioError 21612 when
        it has several and names none)."""
        if account.default_channel is not None:
            return account.default_channel
        if len(account.channels) == 1:
            return account.channels[0]
        raise TwilioError(21612, f"The 'To' number {to} cannot be reached from 'From' {from_ or '(none)'}: no "
                                 "channel has that address and no route takes it; set a default_channel")

    def _told(self, account: Account, outcome: str) -> None:
        if self.observe is not None and account.tenant is not None:
            self.observe(account.tenant, outcome)

    # -- create ----------------------------------------------------------------------------------------------

    async def create(self, account: Account, form: Params) -> tuple[int, dict[str, Any]]:
        """`POST …/Messages.json`: queue a message; 201 and the Message resource."""
        to = (_first(form, "To") or "").strip()
        if not to:
            raise TwilioError(21604, "A 'To' phone number is required.")
        from_ = (_first(form, "From") or "").strip() or None
        service = (_first(form, "MessagingServiceSid") or "").strip() or None
        if from_ is None and service is None:
            raise TwilioError(21603, "A 'From' phone number is required.")
        if service is not None and not _SERVICE.fullmatch(service):
            raise _invalid("MessagingServiceSid", f"{service[:40]!r} is not a Messaging Service SID (MG…)")
        body = _first(form, "Body") or ""
        media = [v.strip() for k, v in form if k == "MediaUrl" and v.strip()]
        if _first(form, "ContentSid"):
            raise _invalid("ContentSid", "content templates are not supported by smsgate; send Body")
        if any(_first(form, name) for name in _SCHEDULING):
            raise _invalid("ScheduleType", "scheduled messages are not supported by smsgate")
        if not body and not media:
            raise TwilioError(21602, "Message body is required.")
        if len(body) > MAX_BODY:
            raise TwilioError(21617, f"The concatenated message body exceeds the {MAX_BODY} character limit.")
        if len(media) > MAX_MEDIA:
            raise _invalid("MediaUrl", f"at most {MAX_MEDIA} media URLs")
        for url in media:
            try:
                http_url(url)
            except ValueError:
                raise TwilioError(21620, f"Invalid media URL(s): {url[:200]}") from None
        # only what the message's SID, status and callbacks cannot be told from otherwise: most creates store
        # nothing here, and every later read of the message parses what they store
        meta: dict[str, Any] = {}
        callback = (_first(form, "StatusCallback") or "").strip()
        if callback:
            try:
                meta["callback"] = http_url(callback)
            except ValueError:
                raise TwilioError(21609, f"The StatusCallback URL {callback[:200]} is not a valid URL.") from None
            meta["account"] = account.sid  # whose token signs its callbacks
        validity = (_first(form, "ValidityPeriod") or "").strip()
        if validity:
            if not validity.isascii() or not validity.isdigit() or not 1 <= int(validity) <= MAX_VALIDITY:
                raise _invalid("ValidityPeriod", f"must be a whole number of seconds from 1 to {MAX_VALIDITY}")
            meta["expires"] = (utcnow() + timedelta(seconds=int(validity))).isoformat(timespec="microseconds")
        if service:
            meta["service"] = service
        channel = self.pick_channel(account, to, from_)
        try:
            try:
                message = await self.queue.prepare(channel, to, body, attachments=media, tenant=account.tenant)
            except MessageInvalid as exc:
                if channel is not None or exc.code != "no_route":
                    raise
                # no route takes the number: the account's fallback does, if it has one
                message = await self.queue.prepare(self._fallback(account, to, from_), to, body, attachments=media,
                                                   tenant=account.tenant)
        except MessageInvalid:
            self._told(account, "refused")
            raise TwilioError(21211, f"The 'To' number {to} is not a valid phone number.") from None
        except (ConfigError, TwilioError) as exc:  # no channel to send it (or the default one left the config)
            self._told(account, "refused")
            raise exc if isinstance(exc, TwilioError) else TwilioError(21612, str(exc)) from None
        if media:  # an MMS's SID is MM…: kept, since redacting its media must not change it
            meta["sid"] = sid_of(message.id, True)
        if meta:
            message.metadata = {"twilio": meta}
        try:
            record, _ = await self.queue.enqueue(message)
        except LimitReached as exc:
            self._told(account, "limited")
            wait = str(max(1, math.ceil(exc.retry_after)))
            raise TwilioError(20429, f"Too Many Requests: {exc.reason}", 429, {"Retry-After": wait}) from None
        self._told(account, "accepted")
        return 201, message_json(record, account.sid, None)

    # -- fetch, update, delete -------------------------------------------------------------------------------

    async def _owned(self, account: Account, sid: str, path: str) -> MessageRecord:
        message_id = message_id_of(sid)
        record = await self.store.get_message(message_id) if message_id else None
        if record is None or not account.owns(record.channel):
            raise not_found(path)
        return record

    async def fetch(self, account: Account, sid: str, path: str) -> tuple[int, dict[str, Any]]:
        """`GET …/Messages/{Sid}.json`: 200 and the Message resource."""
        record = await self._owned(account, sid, path)
        return 200, self._json(account, record)

    async def update(self, account: Account, sid: str, path: str, form: Params) -> tuple[int, dict[str, Any]]:
        """`POST …/Messages/{Sid}.json`: `Body=""` redacts a finished message; `Status=canceled` cancels only a
        scheduled one, which smsgate never holds (30409); anything else is 30400."""
        record = await self._owned(account, sid, path)
        body, status = _first(form, "Body"), _first(form, "Status")
        if status is not None and body is None:
            if status == "canceled":
                raise TwilioError(30409, "This message cannot be canceled: only scheduled messages can be.")
            raise TwilioError(30400, f"Parameters are not valid: Status {status[:40]!r} cannot be set.")
        if body != "" or status is not None:
            raise TwilioError(30400, "Parameters are not valid: send Body=\"\" to redact, or Status=canceled.")
        outcome = await self.store.redact_message(record.id)
        if outcome == "pending":
            raise TwilioError(20009, "Cannot redact this message before it is complete: it is still being sent.")
        if outcome == "unknown":
            raise not_found(path)
        return 200, self._json(account, await self._owned(account, sid, path))

    async def delete(self, account: Account, sid: str, path: str) -> tuple[int, None]:
        """`DELETE …/Messages/{Sid}.json`: 204; Twilio's 20009 until the message is final (delivered, failed or
        read: a wired or sent one still waits for its delivery report)."""
        record = await self._owned(account, sid, path)
        if record.direction == "out" and record.status not in _FINAL:
            raise TwilioError(20009, "Cannot delete this resource before it is complete.")
        outcome = await self.store.delete_message(record.id)
        if outcome == "pending":
            raise TwilioError(20009, "Cannot delete this resource before it is complete.")
        if outcome == "unknown":
            raise not_found(path)
        return 204, None

    def _json(self, account: Account, record: MessageRecord) -> dict[str, Any]:
        date_sent = record.created_at if record.direction == "in" else sent_at(record.history)
        return message_json(record, account.sid, date_sent)

    # -- list ----------------------------------------------------------------------------------------------

    def _filters(self, account: Account, query: Params) -> _Filters:
        """To and From in the store's terms: a channel's own address names the channel (and the direction),
        any other number the contact; DateSent (a day, `<` on or before, `>` on or after) bounds the time."""
        mine = {self.addresses[c]: c for c in account.channels if self.addresses.get(c)}
        to, from_ = (_first(query, "To") or "").strip() or None, (_first(query, "From") or "").strip() or None
        channel = number = direction = None
        empty = False
        for value, ours, theirs in ((to, "in", "out"), (from_, "out", "in")):
            if value is None:
                continue
            if value in mine:  # our number: the channel's messages in that direction
                wanted, found_channel, found_number = ours, mine[value], None
            else:
                wanted, found_channel, found_number = theirs, None, value
            if (direction not in (None, wanted) or (found_channel and channel not in (None, found_channel))
                    or (found_number and number not in (None, found_number))):
                empty = True
            direction, channel, number = wanted, found_channel or channel, found_number or number
        since = until = None
        on = _first(query, "DateSent")
        if on:
            since = _day("DateSent", on)
            until = _next_day(since)
        before, after = _first(query, "DateSent<"), _first(query, "DateSent>")
        if before:  # on or before that day
            until = min(filter(None, (until, _next_day(_day("DateSent<", before)))), default=None)
        if after:  # on or after that day
            since = max(filter(None, (since, _day("DateSent>", after))))
        return _Filters(channel, number, direction, to, from_, since, until, empty)

    async def listing(self, account: Account, path: str, query: Params) -> tuple[int, dict[str, Any]]:
        """`GET …/Messages.json`: a page, newest first, and Twilio's paging keys (next_page_uri carries the
        filters and a PageToken, the store's keyset cursor)."""
        filters = self._filters(account, query)
        size_text = (_first(query, "PageSize") or "").strip()
        if size_text and not (size_text.isascii() and size_text.isdigit() and int(size_text) >= 1):
            raise _invalid("PageSize", "must be a whole number from 1")
        size = min(int(size_text), MAX_PAGE_SIZE) if size_text else DEFAULT_PAGE_SIZE
        page_text = (_first(query, "Page") or "").strip()
        if page_text and not (page_text.isascii() and page_text.isdigit() and len(page_text) < 10):
            raise _invalid("Page", "must be a whole number from 0")
        page = int(page_text) if page_text else 0
        token = (_first(query, "PageToken") or "").strip()
        if token and not token.startswith("PA"):
            raise _invalid("PageToken", "pass next_page_uri as it came")
        cursor = token[2:] if token else (cursor_before(filters.until) if filters.until else None)
        rows: list[MessageRecord] = []
        following: str | None = None
        if not filters.empty:
            mine = list(account.channels) if account.tenant is not None else None  # the operator sees all
            try:
                found = await self.store.find_messages(channel=filters.channel, number=filters.number,
                                                       direction=filters.direction, cursor=cursor, limit=size,
                                                       channels=mine)
            except ValueError:
                raise _invalid("PageToken", "pass next_page_uri as it came") from None
            following = found.next_cursor
            for record in found.messages:
                if filters.since is not None and datetime.fromisoformat(record.created_at) < filters.since:
                    following = None  # newest first: everything after this is older still
                    break
                if self._matches(account, filters, record):
                    rows.append(record)
        records = await asyncio.gather(*(self._with_history(r) for r in rows))
        kept = [(k, v) for k, v in query if k in ("To", "From", "DateSent", "DateSent<", "DateSent>")]

        def uri(number: int, page_token: str | None = None) -> str:
            pairs = [*kept, ("PageSize", str(size)), ("Page", str(number))]
            if page_token:
                pairs.append(("PageToken", page_token))
            return f"{path}?{urllib.parse.urlencode(pairs)}"

        start = page * size
        body = {
            "end": start + len(records) - 1 if records else 0,
            "first_page_uri": uri(0),
            "messages": [self._json(account, r) for r in records],
            "next_page_uri": uri(page + 1, "PA" + following) if following else None,
            "page": page, "page_size": size, "previous_page_uri": None, "start": start,
            "uri": uri(page, token or None),
        }
        return 200, body

    def _matches(self, account: Account, filters: _Filters, record: MessageRecord) -> bool:
        if not account.owns(record.channel):
            return False
        if filters.to is not None and record.to != filters.to and not (
                record.direction == "in" and filters.channel == record.channel):
            return False
        # a From that is a channel's address matches its outgoing messages, whatever sender they carry
        return filters.from_ is None or record.from_ == filters.from_ or (
            record.direction == "out" and filters.channel == record.channel)

    async def _with_history(self, record: MessageRecord) -> MessageRecord:
        """The record with its history when its date_sent needs it (what `find_messages` leaves out)."""
        if record.direction == "in" or record.status not in _LEFT:
            return record
        return await self.store.get_message(record.id) or record

