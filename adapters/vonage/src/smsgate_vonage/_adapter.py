"""The `vonage` adapter: one form POST to `/sms/json` per part, delivery receipts on `status`, incoming
messages on `receive`, each checked against Vonage's signature when the channel has a signature secret."""

from __future__ import annotations

from datetime import UTC, datetime

from smsgate import (
    Adapter,
    ChannelLog,
    Event,
    Ignored,
    InboundRequest,
    IncomingMessage,
    OutgoingMessage,
    RequestRejected,
    SendResult,
    Status,
    StatusUpdate,
    route,
    utcnow,
)
from smsgate.errors import ChannelConfigError, MessageInvalid, SendError
from smsgate.text import is_gsm7, split_bytes, with_attachments

from ._settings import VonageSettings
from ._signature import check_signature
from ._status import DLR_ERRORS, DLR_STATUS, check_vonage_response, read_answer

__all__ = ["VonageAdapter"]


class VonageAdapter(Adapter[VonageSettings]):
    """Vonage (Nexmo) SMS API: sends, delivery receipts and incoming messages, optionally signed."""

    name = "vonage"
    settings_model = VonageSettings

    # -- sending --------------------------------------------------------------------------------------

    async def send(self, message: OutgoingMessage, log: ChannelLog) -> SendResult:
        """One POST per part; Vonage splits each into SMS and answers one `message-id` per SMS, all kept."""
        s = self.settings
        text = with_attachments(message.text, message.attachments)
        parts = split_bytes(text, s.max_length)
        if not parts:
            raise MessageInvalid("nothing to send: the text is empty")
        sender = (message.from_ or s.address).removeprefix("+")
        if not sender:
            raise ChannelConfigError("the channel needs an address: Vonage requires 'from'")
        kind = "text" if is_gsm7(text) else "unicode"  # decided on the whole text: every part alike
        external_ids: list[str] = []
        segments = 0
        try:
            for part in parts:
                form = {"api_key": s.api_key.get_secret_value(), "api_secret": s.api_secret.get_secret_value(),
                        "from": sender, "to": message.to.removeprefix("+"), "text": part, "type": kind,
                        "status-report-req": "1", "callback": self.callback_url("status")}
                response = await self.http.request(log, s, "POST", f"{s.base_url}/sms/json",
                                                   check=check_vonage_response, data=form)
                ids, count, refused = read_answer(response)
                external_ids += ids
                segments += count
                if refused is not None:
                    raise refused
        except SendError as exc:
            if not external_ids:
                raise
            return self.partly_sent(message, exc, external_ids, segments, log, by="Vonage", unit="SMS")
        return SendResult(Status.WIRED, external_ids=external_ids, segments=segments)

    # -- callbacks ------------------------------------------------------------------------------------

    def _fields(self, req: InboundRequest) -> dict[str, str]:
        """The callback's parameters (query, form or JSON), after the signature check when one is configured."""
        fields = req.fields()
        s = self.settings
        if s.signature_secret is not None:
            check_signature(fields, s.signature_secret.get_secret_value(), s.signature_method)
        return fields

    @route("receive", "GET", "POST")
    async def receive(self, req: InboundRequest) -> list[Event]:
        """An incoming SMS: `msisdn` (the sender), `to`, `text`, `messageId`, `message-timestamp`."""
        fields = self._fields(req)
        to = fields.get("to", "").strip()
        if not to:  # also Vonage's check of a new webhook URL, which sends no parameters
            return [Ignored("no to parameter, ignored")]
        sender = fields.get("msisdn", "").strip()
        if not sender:
            raise RequestRejected("field 'msisdn' required")
        return [IncomingMessage(self.channel.name, self.parse_number(sender), fields.get("text", ""), to=to,
                                external_id=fields.get("messageId", "").strip() or None,
                                received_at=_timestamp(fields.get("message-timestamp", "")), raw=fields)]

    @route("status", "GET", "POST")
    async def status(self, req: InboundRequest) -> list[Event]:
        """A delivery receipt: `messageId` (a send's external id), `status` and `err-code`."""
        fields = self._fields(req)
        external_id = fields.get("messageId", "").strip()
        if not external_id:
            return [Ignored("no messageId parameter, ignored")]
        raw_status = fields.get("status", "").strip()
        status = DLR_STATUS.get(raw_status.lower())
        if status is None:
            return [Ignored(f"ignoring unknown status report {raw_status[:40]!r}", error=True)]
        code = fields.get("err-code", "").strip()
        failed = code not in ("", "0")
        return [StatusUpdate(self.channel.name, status, external_id=external_id,
                             error_code=f"dlr:{code[:16]}" if failed else None,
                             error_reason=f"Vonage err-code {code[:16]}: {DLR_ERRORS.get(code, 'Unknown')}"
                             if failed else None, raw=fields)]


def _timestamp(value: str) -> datetime:
    """Vonage's `message-timestamp` (`YYYY-MM-DD HH:MM:SS`, UTC); the time of receipt when absent or garbled."""
    try:
        return datetime.strptime(value.strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return utcnow()
