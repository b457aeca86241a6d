"""What the front tells applications as Twilio would, through the durable outbox: status callbacks to a
message's StatusCallback, and each received message to the account's incoming-message webhook, whose TwiML
`<Message>` replies go back out through the channel the message came in on.

Planned inside the transaction that stores the event (as webhooks are); delivered by the outbox dispatcher,
retried until the application answers 2xx, each request signed with `X-Twilio-Signature` by the account's
auth token (taken at delivery, so a rotated token signs the retries) and carrying the outbox row's id as
`I-Twilio-Idempotency-Token` (the same on every retry).
"""

from __future__ import annotations

import logging
import urllib.parse
import uuid
from functools import lru_cache
from typing import Any

import phonenumbers

from ..._events import RECEIVED, STATUS_CHANGED, PlatformEvent
from ..._http._client import HttpClient
from ..._models import IncomingMessage, Status
from ...errors import ConfigError, LimitReached, MessageInvalid
from ...store import OutboxItem, OutboxRow
from ...text import attachment_url
from .._bridges import Queue
from .._outbox import Deliver, DeliveryFailed, post
from ._accounts import Accounts
from ._signature import SIGNATURE_HEADER, request_url, signature
from ._twiml import MAX_TWIML_BYTES, TwimlRejected, replies
from ._wire import API_VERSION, callback_status, error_code, segments, sid_of, twilio_meta

__all__ = ["INCOMING_TARGET", "STATUS_TARGET", "TwilioCallbacks", "reply_id"]

STATUS_TARGET = "twilio:status"
INCOMING_TARGET = "twilio:incoming"
_TIMEOUT = 15.0  # Twilio gives an incoming-message webhook 15 seconds
# replies get ids derived from the message they answer: a webhook delivered twice queues each reply once
_REPLY_NAMESPACE = uuid.UUID("0c1f3e57-6a2b-4d8e-9f41-7b5d2c8e9a03")

log = logging.getLogger("smsgate.twilio")


def reply_id(account: str, message_id: str, index: int) -> str:
    """The id of account `account`'s `index`-th TwiML reply to incoming message `message_id` (the same every time;
    two accounts that hear one message each answer it)."""
    return str(uuid.uuid5(_REPLY_NAMESPACE, f"{account}:{message_id}:{index}"))


@lru_cache(maxsize=4096)
def _country(number: str) -> str:
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(number, None)) or ""
    except phonenumbers.NumberParseException:
        return ""


def _media(attachment: str) -> tuple[str, str]:
    url = attachment_url(attachment)
    kind = attachment[: len(attachment) - len(url) - 1] if url != attachment else ""
    return url, kind or "application/octet-stream"


class TwilioCallbacks:
    """Plans the front's status callbacks and incoming webhooks from stored events, and delivers them."""

    def __init__(self, accounts: Accounts, addresses: dict[str, str]) -> None:
        self.accounts = accounts
        self.addresses = addresses  # each channel's own address: the `To` of what it receives

    # -- planning (inside the storing transaction) -------------------------------------------------------

    def plan(self, event: PlatformEvent) -> list[OutboxItem]:
        """The status callback or incoming webhook one stored event makes, if any."""
        if event.type == STATUS_CHANGED:
            return self._status(event)
        if event.type == RECEIVED and isinstance(event.subject, IncomingMessage):
            return self._incoming(event, event.subject)
        return []

    def _status(self, event: PlatformEvent) -> list[OutboxItem]:
        record = event.message
        if record is None or event.current is None:
            return []
        meta = twilio_meta(record)
        url, account = meta.get("callback"), meta.get("account")
        status = callback_status(event.previous, event.current)
        if not url or not account or status is None:
            return []
        sid = meta.get("sid") or sid_of(record.id)
        form = {"AccountSid": account, "ApiVersion": API_VERSION, "From": record.from_, "MessageSid": sid,
                "MessageStatus": status, "SmsSid": sid, "SmsStatus": status, "To": record.to}
        if meta.get("service"):
            form["MessagingServiceSid"] = meta["service"]
        if event.current is Status.FAILED:
            code, _ = error_code(record)
            if code is not None:
                form["ErrorCode"] = str(code)
        payload = {"url": url, "method": meta.get("callback_method") or "POST", "account": account, "form": form}
        return [OutboxItem(STATUS_TARGET, event.key, event.type, payload)]

    def _incoming(self, event: PlatformEvent, message: IncomingMessage) -> list[OutboxItem]:
        """The webhook of every account whose channel it came in on and that has an incoming_url."""
        accounts = [a for a in self.accounts.of_channel(event.channel) if a.incoming_url]
        if not accounts:
            return []
        sid = sid_of(message.id)
        to = message.to or self.addresses.get(event.channel, "")
        common = {"ToCountry": _country(to), "ToState": "", "SmsMessageSid": sid,
                  "NumMedia": str(len(message.attachments)), "ToCity": "", "FromZip": "", "SmsSid": sid,
                  "FromState": "", "SmsStatus": "received", "FromCity": "", "Body": message.text,
                  "FromCountry": _country(message.from_), "To": to, "ToZip": "",
                  "NumSegments": str(segments(message.text)), "MessageSid": sid}
        items = []
        for account in accounts:
            form = {**common, "AccountSid": account.sid, "From": message.from_, "ApiVersion": API_VERSION}
            for i, attachment in enumerate(message.attachments):
                form[f"MediaUrl{i}"], form[f"MediaContentType{i}"] = _media(attachment)
            payload = {"url": account.incoming_url, "method": "POST", "account": account.sid, "form": form,
                       "channel": event.channel, "message_id": message.id}
            items.append(OutboxItem(INCOMING_TARGET, event.key, event.type, payload))
        return items

    # -- delivery (the outbox dispatcher) ------------------------------------------------------------------

    def deliveries(self, http: HttpClient, queue: Queue | None) -> dict[str, Deliver]:
        """What delivers each target; without a `queue` (no gateway to send with) TwiML replies are not sent."""

        async def status(row: OutboxRow) -> None:
            await post(http, _TIMEOUT, **self._request(row))

        async def incoming(row: OutboxRow) -> None:
            answer = await self._exchange(http, row)
            if queue is not None:
                await self._reply(queue, row, answer)

        return {STATUS_TARGET: status, INCOMING_TARGET: incoming}

    def _request(self, row: OutboxRow) -> dict[str, Any]:
        payload = row.payload
        account = self.accounts.get(str(payload.get("account")))
        if account is None:  # the account left the config: keep the call, in case it comes back
            raise DeliveryFailed(f"Twilio account {payload.get('account')} is not configured", retry_after=300)
        form = [(str(k), str(v)) for k, v in dict(payload.get("form") or {}).items()]
        url = request_url(str(payload["url"]))
        headers = {"I-Twilio-Idempotency-Token": row.id}
        if payload.get("method") == "GET":  # the parameters travel in the query, which is then signed with the URL
            query = urllib.parse.urlencode(form)
            url = f"{url}{'&' if urllib.parse.urlsplit(url).query else '?'}{query}" if query else url
            headers[SIGNATURE_HEADER] = signature(account.token, url, [])
            return {"method": "GET", "url": url, "headers": headers}
        headers[SIGNATURE_HEADER] = signature(account.token, url, form)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        return {"method": "POST", "url": url, "content": urllib.parse.urlencode(form).encode(), "headers": headers}

    async def _exchange(self, http: HttpClient, row: OutboxRow) -> bytes:
        """POST the webhook; the application's answer (at most a TwiML document's worth), or DeliveryFailed."""
        import httpx

        from ..._http._client import parse_retry_after

        request = self._request(row)
        try:
            async with http.client().stream(timeout=_TIMEOUT, **request) as response:
                if not 200 <= response.status_code < 300:
                    retry_after = (parse_retry_after(response.headers.get("retry-after"))
                                   if response.status_code in (429, 503) else None)
                    raise DeliveryFailed(f"HTTP {response.status_code}", retry_after)
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_TWIML_BYTES:
                        break
                return bytes(body)
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__) from None

    async def _reply(self, queue: Queue, row: OutboxRow, answer: bytes) -> None:
        """Queue the TwiML replies on the channel the message came in on (each once, whatever the retries)."""
        payload = row.payload
        try:
            found = replies(answer)
        except TwimlRejected as exc:  # Twilio logs such an answer and sends nothing: so does smsgate
            log.warning("incoming webhook for %s: the application's answer sends no reply: %s",
                        payload.get("message_id"), exc)
            return
        form = payload.get("form") or {}
        channel, account = str(payload.get("channel")), str(payload.get("account"))
        tenant = known.tenant if (known := self.accounts.get(account)) is not None else None
        for index, reply in enumerate(found):
            to = reply.to or str(form.get("From") or "")
            meta: dict[str, Any] = {"direction": "outbound-reply"}
            if reply.action:
                meta.update(callback=reply.action, account=account)
                if reply.method == "GET":
                    meta["callback_method"] = "GET"
            message_id = reply_id(account, str(payload.get("message_id")), index)
            if reply.media:
                meta["sid"] = sid_of(message_id, True)
            try:
                message = await queue.prepare(channel, to, reply.text, id=message_id, attachments=reply.media,
                                              metadata={"twilio": meta}, tenant=tenant)
            except (MessageInvalid, ConfigError) as exc:  # a bad `to`, or the channel left the config
                log.warning("incoming webhook for %s: reply %d not sent: %s", payload.get("message_id"), index, exc)
                continue
            try:
                await queue.enqueue(message)
            except LimitReached as exc:
                # the tenant's limits hold for replies too: the webhook is asked again once they allow (with the
                # same I-Twilio-Idempotency-Token), and the replies already queued are not queued twice
                raise DeliveryFailed(f"reply {index} held back: {exc.reason}", exc.retry_after) from None
