"""The `plivo` adapter: one Message API POST per part, incoming messages on `receive`, delivery reports on
`status`, both signed by Plivo (X-Plivo-Signature-V2)."""

from __future__ import annotations

import base64
import urllib.parse
from collections.abc import Iterable
from typing import ClassVar

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
)
from smsgate.errors import ChannelConfigError, ResponseContentError
from smsgate.text import segment, with_attachments

from ._inbound import MAX_MEDIA, Fields, same_number, split_text
from ._settings import PlivoSettings
from ._signature import check_request
from ._status import OPT_OUT_CODE, STATUS_MAP, check_plivo_response, json_body, reason

__all__ = ["PlivoAdapter"]


class PlivoAdapter(Adapter[PlivoSettings]):
    """Plivo's Message API: sends, incoming SMS/MMS and delivery reports, with signed callbacks."""

    name = "plivo"
    settings_model = PlivoSettings
    allow_short_codes: ClassVar[bool] = True

    def basic_auth_pairs(self) -> Iterable[tuple[str, str]]:
        """The auth id and token, so the base64 basic-auth value is masked in logs too."""
        return [(self.settings.auth_id, self.settings.auth_token.get_secret_value())]

    # -- sending --------------------------------------------------------------------------------------

    @property
    def messages_url(self) -> str:
        """The Message API of this channel's account (its trailing slash is part of Plivo's path)."""
        return f"{self.settings.base_url}/v1/Account/{urllib.parse.quote(self.settings.auth_id, safe='')}/Message/"

    async def send(self, message: OutgoingMessage, log: ChannelLog) -> SendResult:
        """One POST per part; every part's `message_uuid` becomes an external id, which status reports name."""
        s = self.settings
        if not s.app_id:
            raise ChannelConfigError("the channel has no app_id (the Plivo application that calls its receive "
                                     "route); RapidPro requires it to send, and so does smsgate")
        parts = split_text(with_attachments(message.text, message.attachments), s.max_length)
        token = s.auth_token.get_secret_value()
        headers = {"Accept": "application/json",
                   "Authorization": "Basic " + base64.b64encode(f"{s.auth_id}:{token}".encode()).decode()}
        external_ids: list[str] = []
        for part in parts:
            body = {"src": (message.from_ or s.address).lstrip("+"), "dst": message.to.lstrip("+"), "text": part,
                    "url": self.callback_url("status", id=message.id), "method": "POST"}
            response = await self.http.request(log, s, "POST", self.messages_url, check=check_plivo_response,
                                               json=body, headers=headers)
            payload = json_body(response)
            ids = payload.get("message_uuid") if isinstance(payload, dict) else None
            if not (isinstance(ids, list) and ids and isinstance(ids[0], str) and ids[0]):
                raise ResponseContentError("Plivo's answer has no message_uuid", ext_code="response_content")
            external_ids.append(ids[0])
        return SendResult(Status.WIRED, external_ids=external_ids, segments=sum(segment(p).count for p in parts))

    # -- callbacks ------------------------------------------------------------------------------------

    def verify_signature(self, req: InboundRequest) -> None:
        """403 unless the request carries Plivo's signature of the URL it called (when signatures are checked)."""
        if self.settings.validate_signatures:
            check_request(req, self.settings.auth_token.get_secret_value())

    @route("receive", "POST")
    async def receive(self, req: InboundRequest) -> list[Event]:
        """An incoming SMS (`Text`) or MMS (`Body`, `Media1..N`) sent to the channel's number."""
        self.verify_signature(req)
        fields = Fields(req)
        sender, to, external_id = fields.require("From", "To", "MessageUUID")
        if not same_number(to, self.settings.address):
            raise RequestRejected(f"invalid to number [{to[:40]}], expecting [{self.settings.address}]")
        raw_count = fields.get("MediaCount") or "0"
        count = int(raw_count) if raw_count.isascii() and raw_count.isdigit() and len(raw_count) < 4 else 0
        media = [url for i in range(1, min(count, MAX_MEDIA) + 1) if (url := fields.get(f"Media{i}"))]
        text = fields.lower.get("text") or fields.lower.get("body") or ""
        return [IncomingMessage(self.channel.name, self.parse_number(sender), text, to=self.settings.address,
                                external_id=external_id, attachments=media, raw=fields.raw)]

    @route("status", "POST")
    async def status(self, req: InboundRequest) -> list[Event]:
        """A status report: `Status`, the part's `MessageUUID` or its `ParentMessageUUID`, and an `ErrorCode`."""
        self.verify_signature(req)
        fields = Fields(req)
        sender, to, uuid, raw_status = fields.require("From", "To", "MessageUUID", "Status")
        status = STATUS_MAP.get(raw_status.lower())
        if status is None:
            return [Ignored(f"ignoring unknown status '{raw_status[:40]}'")]
        if not same_number(sender, self.settings.address):
            raise RequestRejected(f"invalid from number [{sender[:40]}], expecting [{self.settings.address}]")
        code = fields.get("ErrorCode")[:32]
        code = "" if code.strip("0") == "" else code  # "000" and "0" mean no error
        events: list[Event] = [StatusUpdate(
            self.channel.name, status, message_id=parse_uuid(req.query_params().get("id")),
            external_id=fields.get("ParentMessageUUID") or uuid, error_code=code or None,
            error_reason=reason(code) if code else None, raw=fields.raw)]
        if code == OPT_OUT_CODE:
            try:
                events.append(OptOut(self.channel.name, self.parse_number(to), reason=reason(code)))
            except RequestRejected:
                pass  # the failure is recorded all the same; without a parsable To nobody can be opted out
        return events
