"""The `clickatell` adapter: one HTTP API GET per part, reply callbacks on `receive` and delivery notifications on
`status`, both JSON."""

from __future__ import annotations

from typing import ClassVar

from smsgate import (
    Adapter,
    ChannelLog,
    Event,
    InboundRequest,
    IncomingMessage,
    OutgoingMessage,
    RequestRejected,
    SendResult,
    Status,
    StatusUpdate,
    route,
)
from smsgate.text import segment, split_bytes, with_attachments

from ._inbound import JsonFields, decode_text, from_millis
from ._settings import ClickatellSettings
from ._status import STATUS_MAP, accepted_id, check_clickatell_response

__all__ = ["ClickatellAdapter"]

_MISSING_MO = "missing one of 'messageId', 'fromNumber', 'text' or 'timestamp' in request body"


class ClickatellAdapter(Adapter[ClickatellSettings]):
    """Clickatell's Platform HTTP API: sends, reply callbacks and delivery notifications."""

    name = "clickatell"
    settings_model = ClickatellSettings
    allow_short_codes: ClassVar[bool] = True

    # -- sending --------------------------------------------------------------------------------------

    async def send(self, message: OutgoingMessage, log: ChannelLog) -> SendResult:
        """One GET per part (courier's byte split); every part's `apiMessageId` becomes an external id."""
        s = self.settings
        parts = split_bytes(with_attachments(message.text, message.attachments), s.max_length)
        # Clickatell picks GSM-7 or UCS-2 from the UTF-8 `content` itself; courier sends the same headers on a GET
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
        external_ids: list[str] = []
        for part in parts:
            params = [("apiKey", s.api_key.get_secret_value()), ("content", part),
                      ("from", (message.from_ or s.address).lstrip("+")), ("to", message.to.lstrip("+"))]
            response = await self.http.request(log, s, "GET", f"{s.base_url}/messages/http/send",
                                               check=check_clickatell_response, params=params, headers=headers)
            external_ids.append(accepted_id(response))
        return SendResult(Status.WIRED, external_ids=external_ids, segments=sum(segment(p).count for p in parts))

    # -- callbacks ------------------------------------------------------------------------------------

    @route("receive", "POST")
    async def receive(self, req: InboundRequest) -> list[Event]:
        """A reply callback: `fromNumber`, `text` in its `charset`, `timestamp` (ms) and the reply's id."""
        fields = JsonFields(req)
        sender, text, timestamp = fields.text("fromNumber"), fields.text("text"), fields.number("timestamp")
        external_id = fields.text("replyMessageId") or fields.text("messageId")
        if not (sender and text and timestamp and external_id):
            raise RequestRejected(_MISSING_MO)
        return [IncomingMessage(self.channel.name, self.parse_number(sender),
                                decode_text(text, fields.text("charset")), to=self.settings.address,
                                received_at=from_millis(timestamp), external_id=external_id, raw=fields.raw)]

    @route("status", "POST")
    async def status(self, req: InboundRequest) -> list[Event]:
        """A delivery notification: `messageId` (the send's `apiMessageId`) and a numeric `statusCode`."""
        fields = JsonFields(req)
        external_id, code = fields.text("messageId"), fields.number("statusCode")
        if not external_id or not code:
            raise RequestRejected("missing one of 'messageId' or 'statusCode' in request parameters")
        status = STATUS_MAP.get(code)
        if status is None:
            raise RequestRejected(f"unknown status '{code}', must be one of {', '.join(map(str, STATUS_MAP))}")
        failed = status is Status.FAILED
        reason = fields.text("statusDescription") or fields.text("status")
        return [StatusUpdate(self.channel.name, status, external_id=external_id,
                             error_code=str(code) if failed else None,
                             error_reason=f"Clickatell status {code}: {reason}" if failed and reason else None,
                             raw=fields.raw)]
