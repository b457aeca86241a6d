"""The `africastalking` adapter: one form POST to `/version1/messaging` per part, incoming messages on `receive`
(or `callback`), delivery reports on `status` (or `delivery`), and bulk-SMS opt-outs on `optout`."""

from __future__ import annotations

from smsgate import (
    Adapter,
    ChannelLog,
    Event,
    InboundRequest,
    IncomingMessage,
    OptOut,
    OutgoingMessage,
    RequestRejected,
    SendResult,
    Status,
    StatusUpdate,
    route,
    utcnow,
)
from smsgate.errors import MessageInvalid, SendError
from smsgate.text import segment, split_bytes, with_attachments

from ._inbound import parse_date
from ._settings import AfricastalkingSettings
from ._status import BLACKLISTED, REPORT_STATUS, check_africastalking_response, recipient

__all__ = ["AfricastalkingAdapter"]


class AfricastalkingAdapter(Adapter[AfricastalkingSettings]):
    """Africa's Talking SMS: sends, delivery reports, incoming messages and bulk-SMS opt-outs."""

    name = "africastalking"
    settings_model = AfricastalkingSettings

    # -- sending --------------------------------------------------------------------------------------

    async def send(self, message: OutgoingMessage, log: ChannelLog) -> SendResult:
        """One POST per part; the recipient's `messageId` becomes an external id."""
        s = self.settings
        parts = split_bytes(with_attachments(message.text, message.attachments), s.max_length)
        if not parts:
            raise MessageInvalid("nothing to send: the text is empty")
        headers = {"apiKey": s.api_key.get_secret_value(), "Accept": "application/json"}
        sender = message.from_ or s.address
        external_ids: list[str] = []
        segments = 0
        try:
            for part in parts:
                form = {"username": s.username, "to": message.to, "message": part,
                        **({"from": sender} if sender and not s.is_shared else {})}
                response = await self.http.request(log, s, "POST", f"{s.base_url}/version1/messaging",
                                                   check=check_africastalking_response, data=form, headers=headers)
                first, _ = recipient(response)
                external_id = str(first.get("messageId") or "") if first is not None else ""
                if external_id and external_id != "None":
                    external_ids.append(external_id)
                else:
                    log.error("response_value_missing: no 'messageId' for the recipient")
                segments += segment(part).count
        except SendError as exc:
            if not external_ids:
                raise
            return self.partly_sent(message, exc, external_ids, segments, log, by="Africa's Talking")
        return SendResult(Status.WIRED, external_ids=external_ids, segments=segments)

    # -- callbacks ------------------------------------------------------------------------------------

    @route("receive", "POST")
    async def receive(self, req: InboundRequest) -> list[Event]:
        """An incoming SMS: `id`, `from`, `to`, `text`, `date` (and `linkId`, `networkCode`, kept as raw)."""
        fields = req.fields()
        external_id, sender = req.require("id", "from", fields=fields)
        date = fields.get("date", "").strip()
        return [IncomingMessage(self.channel.name, self.parse_number(sender), fields.get("text", ""),
                                to=fields.get("to", "").strip() or self.settings.address, external_id=external_id,
                                received_at=parse_date(date) if date else utcnow(), raw=fields)]

    @route("callback", "POST")
    async def callback(self, req: InboundRequest) -> list[Event]:
        """The same as `receive` (RapidPro's other name for it)."""
        return await self.receive(req)

    @route("status", "POST")
    async def status(self, req: InboundRequest) -> list[Event]:
        """A delivery report: `id` (a send's `messageId`), `status`, `failureReason`, `phoneNumber`."""
        fields = req.fields()
        external_id, raw_status = req.require("id", "status", fields=fields)
        status = REPORT_STATUS.get(raw_status)
        if status is None:
            known = ", ".join(f"'{k}'" for k in REPORT_STATUS)
            raise RequestRejected(f"unknown status '{raw_status[:40]}', must be one of {known}")
        reason = fields.get("failureReason", "").strip()[:64]
        events: list[Event] = [StatusUpdate(self.channel.name, status, external_id=external_id,
                                            error_code=reason or None,
                                            error_reason=f"Africa's Talking: {reason}" if reason else None,
                                            raw=fields)]
        if reason == BLACKLISTED and fields.get("phoneNumber", "").strip():
            try:
                events.append(OptOut(self.channel.name, self.parse_number(fields["phoneNumber"]), reason=reason))
            except RequestRejected:
                pass  # the failure is kept; without a parsable number there is nobody to opt out
        return events

    @route("delivery", "POST")
    async def delivery(self, req: InboundRequest) -> list[Event]:
        """The same as `status` (RapidPro's other name for it)."""
        return await self.status(req)

    @route("optout", "POST")
    async def optout(self, req: InboundRequest) -> list[Event]:
        """A bulk-SMS opt-out: `phoneNumber` asked `senderId` to stop sending."""
        fields = req.fields()
        (number,) = req.require("phoneNumber", fields=fields)
        sender = fields.get("senderId", "").strip()[:40]
        return [OptOut(self.channel.name, self.parse_number(number),
                       reason=f"opted out of {sender}" if sender else "opted out")]
