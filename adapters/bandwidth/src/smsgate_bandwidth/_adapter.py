"""The `bandwidth` adapter: one Messaging v2 POST per part; incoming messages and message events as JSON arrays
on `receive` and `status`."""

from __future__ import annotations

import base64
import urllib.parse
from collections.abc import Iterable
from typing import Any

from smsgate import (
    Adapter,
    ChannelLog,
    Event,
    Ignored,
    InboundRequest,
    IncomingMessage,
    OptOut,
    OutgoingMessage,
    RequestRejected,
    SendResult,
    Status,
    StatusUpdate,
    parse_uuid,
    route,
    utcnow,
)
from smsgate.errors import MessageInvalid
from smsgate.text import attachment_url, segment, split_bytes

from ._inbound import check_callback_auth, events_of, parse_time
from ._settings import BandwidthSettings
from ._status import DELIVERY_ERRORS, EVENT_STATUS, OPT_OUT_CODE, RECEIVED, check_bandwidth_response, json_body

__all__ = ["BandwidthAdapter"]


class BandwidthAdapter(Adapter[BandwidthSettings]):
    """Bandwidth Messaging API v2: sends, incoming messages and message events (delivery reports)."""

    name = "bandwidth"
    settings_model = BandwidthSettings

    def basic_auth_pairs(self) -> Iterable[tuple[str, str]]:
        """The API user and, when set, the callback credentials: their base64 forms are masked too."""
        s = self.settings
        pairs = [(s.username, s.password.get_secret_value())]
        if s.callback_username and s.callback_password:
            pairs.append((s.callback_username, s.callback_password.get_secret_value()))
        return pairs

    # -- sending --------------------------------------------------------------------------------------

    @property
    def messages_url(self) -> str:
        """The create-message endpoint of this channel's account."""
        account = urllib.parse.quote(self.settings.account_id, safe="")
        return f"{self.settings.base_url}/api/v2/users/{account}/messages"

    def build_body(self, message: OutgoingMessage, text: str, first: bool) -> dict[str, Any]:
        """The JSON of one part: media with the first part only, smsgate's message id as `tag` (echoed in
        every event, so reports match even when the send's answer was lost)."""
        s = self.settings
        body: dict[str, Any] = {"applicationId": s.messaging_application_id, "to": [message.to],
                                "from": message.from_ or s.address, "text": text}
        if first and message.attachments:
            body["media"] = [attachment_url(a) for a in message.attachments]
        body["tag"] = message.id
        return body

    async def send(self, message: OutgoingMessage, log: ChannelLog) -> SendResult:
        """One POST per part (courier's byte split at `max_length`); every part's `id` is an external id."""
        s = self.settings
        if not message.text and not message.attachments:
            raise MessageInvalid("nothing to send: no text and no attachments")
        parts = split_bytes(message.text, s.max_length) if message.text else [""]
        credentials = base64.b64encode(f"{s.username}:{s.password.get_secret_value()}".encode()).decode()
        headers = {"Accept": "application/json", "Authorization": f"Basic {credentials}"}
        external_ids: list[str] = []
        segments = 0
        for index, part in enumerate(parts):
            response = await self.http.request(log, s, "POST", self.messages_url, check=check_bandwidth_response,
                                               json=self.build_body(message, part, index == 0), headers=headers)
            payload = json_body(response)
            external_id = payload.get("id") if isinstance(payload, dict) else None
            if isinstance(external_id, str) and external_id:
                external_ids.append(external_id)
            else:  # accepted all the same; its events still match by our id in `tag`
                log.error("response_value_missing: no 'id' in Bandwidth's answer")
            counted = payload.get("segmentCount") if isinstance(payload, dict) else None
            segments += counted if isinstance(counted, int) and 0 < counted < 1000 else segment(part).count
        return SendResult(Status.WIRED, external_ids=external_ids, segments=segments)

    # -- callbacks ------------------------------------------------------------------------------------

    @route("receive", "POST")
    async def receive(self, req: InboundRequest) -> list[Event]:
        """Bandwidth's inbound callback: `message-received` events (message events are read too)."""
        return self.read_events(req)

    @route("status", "POST")
    async def status(self, req: InboundRequest) -> list[Event]:
        """Bandwidth's status callback: `message-sending`, `-delivered` and `-failed` events, every one of them."""
        return self.read_events(req)

    def read_events(self, req: InboundRequest) -> list[Event]:
        """Every event of the array, by its type; either route takes either kind (one callback URL works)."""
        check_callback_auth(req, self.settings)
        events = events_of(req)
        if not events:
            return [Ignored("no messages, ignored")]
        out: list[Event] = []
        for event in events:
            kind = event["type"].strip()
            if kind == RECEIVED:
                out.append(self.incoming(event))
            elif kind in EVENT_STATUS:
                out += self.status_events(event, EVENT_STATUS[kind])
            else:  # a 400 would make Bandwidth retry it for a day; an operator sees it in the channel log
                out.append(Ignored(f"ignoring unknown event type {kind[:40]!r}", error=True))
        return out

    def incoming(self, event: dict[str, Any]) -> IncomingMessage:
        """A `message-received` event as an incoming message; its media URLs are attachments."""
        message = event["message"]
        sender = message.get("from")
        if not isinstance(sender, str) or not sender.strip():
            raise RequestRejected("field 'message.from' required")
        received_at = parse_time(message.get("time"))
        if received_at is None:
            raise RequestRejected(f"invalid date format: {str(message.get('time'))[:40]!r}")
        text = message.get("text")
        media = message.get("media")
        attachments = [u for u in media if isinstance(u, str) and u.strip()] if isinstance(media, list) else []
        to = event.get("to") or message.get("owner")
        return IncomingMessage(self.channel.name, self.parse_number(sender), text if isinstance(text, str) else "",
                               to=to.strip() if isinstance(to, str) and to.strip() else self.settings.address,
                               received_at=received_at,
                               external_id=message["id"].strip(), attachments=attachments, raw=event)

    def status_events(self, event: dict[str, Any], status: Status) -> list[Event]:
        """A message event as a status update (and an opt-out of the recipient for error 4775)."""
        message = event["message"]
        code = event.get("errorCode")
        error_code = str(code).strip()[:32] if isinstance(code, int | str) and str(code).strip() not in ("", "0") \
            else None
        description = event.get("description")
        reason = None
        if error_code is not None:
            reason = description.strip()[:300] if isinstance(description, str) and description.strip() else \
                DELIVERY_ERRORS.get(error_code, "delivery error")
        tag = message.get("tag")
        out: list[Event] = [StatusUpdate(
            self.channel.name, status, message_id=parse_uuid(tag if isinstance(tag, str) else None),
            external_id=message["id"].strip(), error_code=error_code, error_reason=reason,
            at=parse_time(event.get("time")) or utcnow(), raw=event)]
        if status is Status.FAILED and error_code == OPT_OUT_CODE:
            recipient = event.get("to")
            if not isinstance(recipient, str):
                to = message.get("to")
                recipient = to[0] if isinstance(to, list) and to and isinstance(to[0], str) else ""
            try:
                out.append(OptOut(self.channel.name, self.parse_number(recipient),
                                  reason=reason or DELIVERY_ERRORS[OPT_OUT_CODE]))
            except RequestRejected:
                pass  # the failure is still recorded; without a recipient there is nobody to opt out
        return out
