"""The `twilio` adapter: one Messages API POST per part, the receive and status webhooks, signed both ways."""

from __future__ import annotations

import base64
import urllib.parse
from collections.abc import Iterable
from typing import Any, ClassVar

from smsgate import (
    Adapter,
    ChannelLog,
    Event,
    Ignored,
    InboundRequest,
    IncomingMessage,
    OptOut,
    OutgoingMessage,
    Reply,
    RequestRejected,
    SendResult,
    Status,
    StatusUpdate,
    parse_uuid,
    route,
)
from smsgate.errors import ChannelConfigError
from smsgate.text import attachment_url, segment, split_bytes

from ._inbound import MAX_MEDIA, decode_possible_base64, twiml
from ._settings import TwilioSettings
from ._signature import check_request
from ._status import INTERMEDIATE, OPT_OUT_CODE, STATUS_MAP, check_twilio_response, json_body, reason

__all__ = ["TwilioAdapter"]


class TwilioAdapter(Adapter[TwilioSettings]):
    """Twilio Messages API (and compatible providers): sends, receives, status callbacks, signed webhooks."""

    name = "twilio"
    settings_model = TwilioSettings
    allow_short_codes: ClassVar[bool] = True
    allow_sender_ids: ClassVar[bool] = True

    def basic_auth_pairs(self) -> Iterable[tuple[str, str]]:
        """The account SID and auth token, so the base64 basic-auth value is masked in logs."""
        return [(self.settings.account_sid, self.settings.auth_token.get_secret_value())]

    # -- the link probe ---------------------------------------------------------------------------------

    def probe_url(self) -> str | None:
        """`health_url` when set, else `base_url` (whose host and port the probe connects to)."""
        return self.settings.health_url or self.settings.base_url

    async def probe(self) -> str | None:
        """A GET of `health_url` answering 2xx or 3xx when one is set; else a TCP connection to base_url's host."""
        if self.settings.health_url is None:
            return await super().probe()
        return await self.http.check_health(self.settings.health_url, min(self.settings.timeout, 10.0))

    # -- sending --------------------------------------------------------------------------------------

    @property
    def messages_url(self) -> str:
        """The create-message endpoint of this channel's account."""
        sid = urllib.parse.quote(self.settings.account_sid, safe="")
        return f"{self.settings.base_url}/2010-04-01/Accounts/{sid}/Messages.json"

    def build_form(self, message: OutgoingMessage, body: str, first: bool) -> dict[str, Any]:
        """The form fields of one part; media goes with the first part only."""
        s = self.settings
        form: dict[str, Any] = {"To": message.to, "Body": body,
                                "StatusCallback": self.callback_url("status", id=message.id)}
        sender = message.from_ or s.address
        if sender:
            form["From"] = sender
        if s.messaging_service_sid:
            form["MessagingServiceSid"] = s.messaging_service_sid
            if s.link_shortening:
                form["ShortenUrls"] = "true"
        if first and message.attachments:
            form["MediaUrl"] = [attachment_url(a) for a in message.attachments]
        return form

    async def send(self, message: OutgoingMessage, log: ChannelLog) -> SendResult:
        """One POST per part (RapidPro's byte split); every part's `sid` becomes an external id."""
        s = self.settings
        if not (message.from_ or s.address or s.messaging_service_sid):
            raise ChannelConfigError("the channel needs an address (From) or a messaging_service_sid")
        parts = split_bytes(message.text, s.max_length) if message.text else [""]
        token = s.auth_token.get_secret_value()
        headers = {
            "Accept": "application/json",
            "Authorization": "Basic " + base64.b64encode(f"{s.account_sid}:{token}".encode()).decode(),
        }
        external_ids: list[str] = []
        segments = 0
        for index, part in enumerate(parts):
            response = await self.http.request(log, s, "POST", self.messages_url, check=check_twilio_response,
                                               data=self.build_form(message, part, index == 0), headers=headers)
            payload = json_body(response)
            sid = payload.get("sid") if isinstance(payload, dict) else None
            if isinstance(sid, str) and sid:
                external_ids.append(sid)
            else:  # courier too: the message went out, we just cannot match its callbacks by sid
                log.error("response_value_missing: unable to find 'sid' in the response")
            counted = payload.get("num_segments") if isinstance(payload, dict) else None
            try:
                segments += max(1, int(counted))  # type: ignore[arg-type]
            except (TypeError, ValueError):
                segments += segment(part).count if part else 1
        return SendResult(Status.WIRED, external_ids=external_ids, segments=segments)

    # -- webhooks -------------------------------------------------------------------------------------

    def verify_signature(self, req: InboundRequest) -> None:
        """403 unless the request carries a valid X-Twilio-Signature for the URL Twilio called."""
        if self.settings.validate_signatures:
            check_request(req, self.settings.auth_token.get_secret_value())

    @route("receive", "POST")
    async def receive(self, req: InboundRequest) -> list[Event]:
        """An incoming SMS/MMS webhook → one IncomingMessage with its media URLs as attachments."""
        self.verify_signature(req)
        fields = req.fields()
        req.require("MessageSid", "AccountSid", "From", "To", fields=fields)
        sender = self.parse_number(fields["From"], fields.get("FromCountry", "").strip() or None)
        to_raw = fields["To"].strip()
        try:
            to = self.parse_number(to_raw, fields.get("ToCountry", "").strip() or None)
        except RequestRejected:
            to = to_raw  # our own number in a form we cannot parse: keep it as Twilio wrote it
        raw_count = fields.get("NumMedia", "").strip() or "0"
        if not (raw_count.isascii() and raw_count.isdigit() and len(raw_count) <= 6):  # "²" is a digit to isdigit()
            raise RequestRejected(f"field 'NumMedia' must be a number, not {raw_count[:20]!r}")
        attachments = [url for i in range(min(int(raw_count), MAX_MEDIA))
                       if (url := fields.get(f"MediaUrl{i}", "").strip())]
        return [IncomingMessage(channel=self.channel.name, from_=sender, to=to,
                                text=decode_possible_base64(fields.get("Body", "")),
                                external_id=fields["MessageSid"].strip(), attachments=attachments, raw=fields)]

    @route("status", "POST")
    async def status(self, req: InboundRequest) -> list[Event]:
        """A status callback → a StatusUpdate (plus an OptOut of `To` for error 21610)."""
        self.verify_signature(req)
        fields = req.fields()
        sid = fields.get("MessageSid", "").strip()
        raw_status = fields.get("MessageStatus", "").strip()
        if not sid or not raw_status:
            # a 4xx would make Twilio retry a report that can never become valid
            return [Ignored("no MessageSid or MessageStatus, ignoring")]
        value = raw_status.lower()
        status = STATUS_MAP.get(value)
        if status is None:
            if value in INTERMEDIATE:
                return [Ignored(f"ignoring intermediate status {value!r}")]
            valid = ", ".join(f"'{s}'" for s in STATUS_MAP)
            raise RequestRejected(f"unknown status {raw_status[:40]!r}, must be one of {valid}")
        if self.settings.ignore_dlrs and status is not Status.FAILED:
            return [Ignored("ignoring non error delivery report")]
        error_code = fields.get("ErrorCode", "").strip()[:32]
        if error_code in ("", "0"):
            error_code = ""
        # not ours (or mangled): the core finds the message by Twilio's sid instead
        our_id = parse_uuid(req.query_params().get("id"))
        events: list[Event] = [StatusUpdate(
            channel=self.channel.name, status=status, message_id=our_id, external_id=sid,
            error_code=error_code or None, error_reason=reason(error_code) if error_code else None, raw=fields)]
        if error_code == OPT_OUT_CODE:
            try:
                events.append(OptOut(self.channel.name, self.parse_number(fields.get("To", "")),
                                     reason=reason(error_code)))
            except RequestRejected:
                pass  # the failure is still recorded; without a parsable To there is nobody to opt out
        return events

    def reply(self, action: str, events: list[Event], request: InboundRequest) -> Reply | None:
        """Empty TwiML for incoming messages, so Twilio sends no auto-reply; JSON elsewhere."""
        if action != "receive":
            return None
        ignored = [e.reason for e in events if isinstance(e, Ignored)]
        return Reply(twiml("; ".join(ignored)), 200, "text/xml")
