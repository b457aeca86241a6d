"""The `infobip` adapter: SMS through `/sms/3/messages` (MMS through `/mms/2/messages` when there are
attachments), incoming messages on `receive` and delivery reports on `delivered`, both JSON."""

from __future__ import annotations

import base64
import mimetypes
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
    route,
)
from smsgate.errors import MessageInvalid
from smsgate.text import attachment_url, segment, split_bytes

from ._inbound import mms_content, received_at, results
from ._settings import InfobipSettings
from ._status import check_infobip_response, opts_out, read_answer, report_status

__all__ = ["InfobipAdapter"]


class InfobipAdapter(Adapter[InfobipSettings]):
    """Infobip SMS API v3 (and MMS v2): sends, delivery reports and incoming messages."""

    name = "infobip"
    settings_model = InfobipSettings

    def basic_auth_pairs(self) -> Iterable[tuple[str, str]]:
        """The user and password, so their basic-auth form is masked in logs."""
        s = self.settings
        return [(s.username, s.password.get_secret_value())] if s.password is not None else []

    # -- sending --------------------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        s = self.settings
        if s.api_key is not None:
            authorization = f"App {s.api_key.get_secret_value()}"
        else:
            assert s.password is not None  # the settings insist on one of the two
            pair = f"{s.username}:{s.password.get_secret_value()}".encode()
            authorization = f"Basic {base64.b64encode(pair).decode()}"
        return {"Authorization": authorization, "Accept": "application/json"}

    def _webhooks(self) -> dict[str, Any]:
        # intermediate reports on, as courier asks: PENDING reports move a message to sent
        return {"delivery": {"url": self.callback_url("delivered"), "intermediateReport": True},
                "contentType": "application/json"}

    def sms_request(self, message: OutgoingMessage) -> list[dict[str, Any]]:
        """The `messages` of the SMS request: one per part, the first carrying our id as Infobip's messageId."""
        s = self.settings
        sender = message.from_ or s.address
        parts = split_bytes(message.text, s.max_length)
        if not parts:
            raise MessageInvalid("nothing to send: the text is empty")
        out = []
        for index, part in enumerate(parts):
            destination = {"to": message.to.lstrip("+"), **({"messageId": message.id} if index == 0 else {})}
            content = {"text": part, **({"transliteration": s.transliteration} if s.transliteration else {})}
            out.append({**({"sender": sender} if sender else {}), "destinations": [destination], "content": content,
                        "webhooks": self._webhooks()})
        return out

    def mms_request(self, message: OutgoingMessage, log: ChannelLog) -> list[dict[str, Any]]:
        """The `messages` of the MMS request: the text as a TEXT segment, each attachment as a LINK."""
        segments: list[dict[str, str]] = [{"type": "TEXT", "text": message.text}] if message.text else []
        for attachment in message.attachments:
            url = attachment_url(attachment)
            mime = attachment[:-len(url)].rstrip(":") if url != attachment else mimetypes.guess_type(url)[0]
            if not url or not mime:
                log.error(f"attachment without a content type skipped: {attachment[:200]}")
                continue
            segments.append({"type": "LINK", "contentUrl": url, "contentType": mime})
        if not segments:
            raise MessageInvalid("nothing to send: no text and no attachment with a content type")
        sender = message.from_ or self.settings.address
        return [{**({"sender": sender} if sender else {}),
                 "destinations": [{"to": message.to.lstrip("+"), "messageId": message.id}],
                 "content": {"title": "", "messageSegments": segments}, "webhooks": self._webhooks()}]

    async def send(self, message: OutgoingMessage, log: ChannelLog) -> SendResult:
        """One request for the whole message (each part one entry of `messages`); every accepted id is kept."""
        s = self.settings
        if message.attachments:
            path, messages = "/mms/2/messages", self.mms_request(message, log)
            counted = 1
        else:
            path, messages = "/sms/3/messages", self.sms_request(message)
            counted = sum(segment(m["content"]["text"]).count for m in messages)
        response = await self.http.request(log, s, "POST", f"{s.base_url}{path}", check=check_infobip_response,
                                           json={"messages": messages}, headers=self._headers())
        ids, count, refused = read_answer(response)
        if len(ids) < len(messages) and refused is None:
            log.error("response_value_missing: no 'messageId' for every message in Infobip's answer")
        if refused is not None:  # some went, some did not: final, a retry would send the others again
            return self.partly_sent(message, refused, ids, count or counted, log, by="Infobip")
        return SendResult(Status.WIRED, external_ids=ids, segments=count or counted)

    # -- callbacks ------------------------------------------------------------------------------------

    @route("receive", "POST")
    async def receive(self, req: InboundRequest) -> list[Event]:
        """Incoming SMS and MMS: `results[]` with `from`, `to`, `text` (or MMS `message` segments), `messageId`,
        `receivedAt`; all are read, whatever `messageCount` says."""
        events: list[Event] = []
        for result in results(req):
            sender = str(result.get("from") or "").strip()
            if not sender:
                raise RequestRejected("a result without 'from'")
            segments = result.get("message")
            if isinstance(segments, list) and segments:
                text, attachments = mms_content(segments)
            else:
                text, attachments = str(result.get("text") or ""), []
            if not text and not attachments:
                continue
            events.append(IncomingMessage(
                self.channel.name, self.parse_number(sender), text, to=str(result.get("to") or self.settings.address),
                external_id=str(result.get("messageId") or "").strip() or None,
                received_at=received_at(result.get("receivedAt")), attachments=attachments, raw=result))
        return events or [Ignored("ignoring request, no message")]

    @route("delivered", "POST")
    async def delivered(self, req: InboundRequest) -> list[Event]:
        """Delivery reports: `results[]` with `messageId` (an id Infobip gave a send) and `status.groupName`,
        up to 100 a request; each is stored, a report smsgate cannot read is logged as an error."""
        events: list[Event] = []
        for result in results(req):
            external_id = str(result.get("messageId") or "").strip()
            status_obj = result["status"] if isinstance(result.get("status"), dict) else {}
            status = report_status(status_obj)
            if not external_id or status is None:
                group = str(status_obj.get("groupName", ""))[:40]
                why = "no messageId" if not external_id else (
                    f"unknown status {group!r}, must be one of PENDING, DELIVERED, EXPIRED, REJECTED or UNDELIVERABLE")
                events.append(Ignored(f"report ignored: {why}", error=True))
                continue
            error = result["error"] if isinstance(result.get("error"), dict) else {}
            failed = str(error.get("groupId", "0")) not in ("0", "")
            events.append(StatusUpdate(
                self.channel.name, status, external_id=external_id,
                error_code=str(error.get("name") or error.get("id"))[:64] if failed else None,
                error_reason=(str(error.get("description") or "")[:300] or None) if failed else None, raw=result))
            if status is Status.FAILED and opts_out(status_obj) and result.get("to"):
                try:
                    events.append(OptOut(self.channel.name, self.parse_number(str(result["to"])),
                                         reason=f"Infobip {status_obj.get('name', 'REJECTED')}"))
                except RequestRejected:
                    pass  # the failure is kept; without a parsable `to` there is nobody to opt out
        return events or [Ignored("no reports")]

