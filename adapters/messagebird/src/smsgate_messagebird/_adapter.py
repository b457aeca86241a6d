"""The `messagebird` adapter: one message per send (SMS, or MMS with media), incoming messages on `receive` and
status reports on `status`, both signed with MessageBird-Signature-JWT."""

from __future__ import annotations

import re
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
from smsgate.text import attachment_url, is_gsm7, segment, split_bytes

from ._inbound import Fields, parse_compact, parse_rfc3339
from ._settings import MessagebirdSettings
from ._signature import check_request
from ._status import OPT_OUT_CODE, STATUS_MAP, check_messagebird_response, json_body

__all__ = ["MessagebirdAdapter"]

_ERROR_CODE = re.compile(r"-?[0-9]{1,9}")  # ASCII digits only: "²" is a digit to str.isdigit() but not to int()


class MessagebirdAdapter(Adapter[MessagebirdSettings]):
    """MessageBird's REST API (`rest.messagebird.com`): SMS and MMS, signed incoming messages and status reports."""

    name = "messagebird"
    settings_model = MessagebirdSettings
    allow_short_codes: ClassVar[bool] = True

    def secret_headers(self) -> Iterable[str]:
        """`Authorization` carries the access key: masked whole in channel logs."""
        return ["authorization"]

    # -- sending --------------------------------------------------------------------------------------

    def bodies(self, message: OutgoingMessage) -> tuple[str, list[dict[str, Any]]]:
        """The endpoint and the JSON body of each request a message takes (more than one only with max_length)."""
        s = self.settings
        common: dict[str, Any] = {"recipients": [message.to], "reference": message.id,
                                  "originator": message.from_ or s.address}
        if message.attachments:  # MMS: one request; its API takes no reportUrl or datacoding
            mms = {**common, **({"body": message.text} if message.text else {}),
                   "mediaUrls": [attachment_url(a) for a in message.attachments]}
            return "/mms", [mms]
        texts = split_bytes(message.text, s.max_length) if s.max_length else [message.text]
        return "/messages", [{**common, **({"body": text} if text else {}),
                              **({} if is_gsm7(text) else {"datacoding": "unicode"}),
                              "reportUrl": self.callback_url("status")} for text in texts]

    async def send(self, message: OutgoingMessage, log: ChannelLog) -> SendResult:
        """POST each body; the answer's `id` becomes an external id (its absence is logged, the send stands)."""
        s = self.settings
        path, bodies = self.bodies(message)
        headers = {"Authorization": f"AccessKey {s.auth_token.get_secret_value()}"}
        external_ids: list[str] = []
        for body in bodies:
            response = await self.http.request(log, s, "POST", f"{s.base_url}{path}",
                                               check=check_messagebird_response, json=body, headers=headers)
            payload = json_body(response)
            external_id = payload.get("id") if isinstance(payload, dict) else None
            if isinstance(external_id, str) and external_id:
                external_ids.append(external_id)
            else:  # as courier: the message went out; reports still find it by its reference
                log.error("response_value_missing: unable to find 'id' in the response")
        segments = sum(segment(b.get("body", "")).count for b in bodies)
        return SendResult(Status.WIRED, external_ids=external_ids, segments=segments)

    # -- callbacks ------------------------------------------------------------------------------------

    def verify_signature(self, req: InboundRequest) -> None:
        """403 unless the request carries MessageBird's signature of the URL it called (when checked)."""
        if self.settings.validate_signatures:
            key = self.settings.secret.get_secret_value() if self.settings.secret else None
            check_request(req, key)

    @route("receive", "POST")
    async def receive(self, req: InboundRequest) -> list[Event]:
        """An incoming message: `originator` with `body`/`id`/`createdDatetime`, or for a short code
        `message`/`mid`/`receive_datetime`; `mediaUrls` as attachments."""
        self.verify_signature(req)
        fields = Fields(req)
        sender = fields.get("originator")
        if not sender:
            raise RequestRejected("field 'originator' required")
        if fields.get("shortcode"):
            text, external_id = fields.lower.get("message", ""), fields.get("mid")
            received = parse_compact(fields.get("receive_datetime"))
        else:
            text, external_id = fields.lower.get("body", ""), fields.get("id")
            received = parse_rfc3339(fields.get("createdDatetime"))
        media = fields.every("mediaUrls")
        if not text and not media:
            raise RequestRejected("no text or media")
        return [IncomingMessage(self.channel.name, self.parse_number(sender), text, to=self.settings.address,
                                received_at=received, external_id=external_id or None, attachments=media,
                                raw=fields.raw)]

    @route("status", "GET")
    async def status(self, req: InboundRequest) -> list[Event]:
        """A status report (a GET with its query string): `status`, `reference` (our id) or `id`, and an error."""
        self.verify_signature(req)
        fields = Fields(req)
        raw_code, when = fields.get("statusErrorCode"), fields.get("statusDatetime")
        if (raw_code and not _ERROR_CODE.fullmatch(raw_code)) or (when and not _is_rfc3339(when)):
            return [Ignored("no msg status, ignoring")]
        raw_status = fields.get("status")
        status = STATUS_MAP.get(raw_status.lower())
        if status is None:
            known = ", ".join(f"'{k}'" for k in STATUS_MAP)
            raise RequestRejected(f"unknown status '{raw_status[:40]}', must be one of {known}")
        code = int(raw_code) if raw_code else 0
        reason = fields.get("statusReason")
        events: list[Event] = [StatusUpdate(
            self.channel.name, status, message_id=parse_uuid(fields.get("reference")),
            external_id=fields.get("id") or None, error_code=str(code) if code else None,
            error_reason=f"MessageBird error {code}: {reason}" if code and reason else None, raw=fields.raw)]
        if code == OPT_OUT_CODE:
            digits = fields.get("recipient").lstrip("+")
            try:  # MessageBird writes the recipient in international form without its plus
                events.append(OptOut(self.channel.name, self.parse_number("+" + digits),
                                     reason="MessageBird error 103: the contact has sent 'stop'"))
            except RequestRejected:
                pass  # the report is kept; without a parsable recipient nobody can be opted out
        return events

    def reply(self, action: str, events: list[Event], request: InboundRequest) -> Reply | None:
        """`OK` in plain text to an incoming message, as MessageBird expects; the JSON envelope elsewhere."""
        return Reply("OK", 200, "text/plain") if action == "receive" else None


def _is_rfc3339(value: str) -> bool:
    try:
        parse_rfc3339(value)
    except RequestRejected:
        return False
    return True
