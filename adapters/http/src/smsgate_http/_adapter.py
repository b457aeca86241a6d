"""The `http` adapter: templated sends, and the receive, status and stop callbacks of RapidPro's External API."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import httpx
from smsgate import (
    Adapter,
    ChannelLog,
    Event,
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
    utcnow,
)
from smsgate.errors import MessageInvalid, ResponseContentError
from smsgate.http import check_response, merge_headers
from smsgate.phones import national_number
from smsgate.text import smart_encode, split_bytes, with_attachments

from ._auth import authenticate, header_secrets
from ._inbound import first_present, parse_rfc3339, read_xml
from ._render import content_type_header, escaper, quick_replies, render, used_variables
from ._settings import HttpSettings

__all__ = ["HttpAdapter"]

# the status route's path names the status
_STATUSES = {"sent": Status.SENT, "delivered": Status.DELIVERED, "failed": Status.FAILED}


class HttpAdapter(Adapter[HttpSettings]):
    """RapidPro's External API channel: templated sends, form/JSON/XML callbacks, status and stop routes."""

    name = "http"
    settings_model = HttpSettings
    allow_short_codes = True
    allow_sender_ids = False  # as courier's EX: "MTN" is not a possible sender

    # -- secrets ------------------------------------------------------------------------------------

    def secrets(self) -> list[str]:
        """The SecretStr keys plus credential-looking `headers` values (and their credential part)."""
        return [*super().secrets(), *header_secrets(self.settings.headers)]

    def basic_auth_pairs(self) -> Iterable[tuple[str, str]]:
        """The inbound basic-auth pair, so its base64 form is masked in logged callbacks."""
        s = self.settings
        if s.inbound_password is not None:
            return [(s.inbound_username, s.inbound_password.get_secret_value())]
        return []

    def secret_headers(self) -> Iterable[str]:
        """The header carrying `inbound_secret`: a caller's wrong value may differ from it by one character."""
        return [self.settings.inbound_secret_header]

    # -- the link probe -------------------------------------------------------------------------------

    def probe_url(self) -> str | None:
        """`health_url` when set, else `send_url` (whose host and port the probe connects to)."""
        return self.settings.health_url or self.settings.send_url

    async def probe(self) -> str | None:
        """A GET of `health_url` answering 2xx or 3xx when one is set; else a TCP connection to send_url's host."""
        if self.settings.health_url is None:
            return await super().probe()
        return await self.http.check_health(self.settings.health_url, min(self.settings.timeout, 10.0))

    # -- sending ------------------------------------------------------------------------------------

    async def send(self, message: OutgoingMessage, log: ChannelLog) -> SendResult:
        """One request per part; the first part that fails stops the send with its error."""
        s = self.settings
        parts = split_bytes(with_attachments(message.text, message.attachments), s.max_length)
        if not parts:  # only whitespace, longer than max_length: every part trimmed away
            raise MessageInvalid("nothing to send: the text is only whitespace")
        to = national_number(message.to) if s.use_national else message.to
        sender = message.from_ or s.address
        url_escape, body_escape = escaper("urlencoded"), escaper(s.content_type)
        template = s.body_template()
        headers = merge_headers(
            {"Content-Type": content_type_header(s.content_type)},
            {"Authorization": s.send_authorization.get_secret_value()} if s.send_authorization else {},
            s.headers,
        )
        for index, part in enumerate(parts):
            variables = {
                "id": message.id, "uuid": message.id,
                "text": smart_encode(part) if s.encoding == "S" else part,
                "to": to, "to_no_plus": to.removeprefix("+"),
                "from": sender, "from_no_plus": sender.removeprefix("+"),
                "channel": self.channel.name, "session_status": "",
            }
            replies = message.quick_replies if index == len(parts) - 1 else []
            used = used_variables(s.send_url)  # escape only what the template shows (a fixed URL: nothing at all)
            url = render(s.send_url, {**{k: url_escape(v) for k, v in variables.items() if k in used},
                                      "quick_replies": quick_replies(replies, "GET", "urlencoded")})
            content = None
            if s.method in ("POST", "PUT"):
                used = used_variables(template)
                content = render(template, {**{k: body_escape(v) for k, v in variables.items() if k in used},
                                            "quick_replies": quick_replies(replies, s.method, s.content_type)})
            await self.http.request(log, s, s.method, url, check=self._check, headers=headers,
                                    content=content.encode() if content is not None else None)
        return SendResult(Status.WIRED, segments=len(parts))

    def _check(self, response: httpx.Response) -> None:
        check_response(response)  # 5xx/transport → errored, 429 → errored with retry-after, other → failed
        expected = self.settings.mt_response_check
        if expected and expected.encode() not in response.content:
            raise ResponseContentError(f"response body does not contain {expected!r}")

    # -- receiving ----------------------------------------------------------------------------------

    @route("receive", "GET", "POST")
    async def receive(self, req: InboundRequest) -> list[Event]:
        """An incoming message from form/query/JSON parameters, or from XML when both XPaths are set."""
        authenticate(self.settings, req)
        s = self.settings
        date = ""
        raw: dict[str, Any]
        if s.from_xpath and s.text_xpath:
            sender, text, raw = read_xml(s, req)
        else:
            params = req.fields()  # the body's (form or JSON object) first, then the query string's
            sender = first_present(params, s.mo_from_field, ("from", "sender"))
            text = first_present(params, s.mo_text_field, ("text",))
            date = first_present(params, s.mo_date_field, ("date", "time"))
            raw = dict(params)
        if not sender:
            raise RequestRejected("must have one of 'sender' or 'from' set")
        received_at = utcnow()
        if date:
            try:
                received_at = parse_rfc3339(date)
            except ValueError:
                raise RequestRejected("invalid date format, must be RFC 3339 (e.g. 2017-06-23T12:30:00.500Z or "
                                      "2017-06-23T12:30:00+02:00)") from None
        return [IncomingMessage(self.channel.name, self.parse_number(sender), text, to=s.address,
                                received_at=received_at, raw=raw)]

    @route("sent", "GET", "POST")
    async def sent(self, req: InboundRequest) -> list[Event]:
        """The aggregator handed the message on: status sent."""
        return self._status(req, "sent")

    @route("delivered", "GET", "POST")
    async def delivered(self, req: InboundRequest) -> list[Event]:
        """The handset got the message: status delivered."""
        return self._status(req, "delivered")

    @route("failed", "GET", "POST")
    async def failed(self, req: InboundRequest) -> list[Event]:
        """The aggregator gave up: status failed."""
        return self._status(req, "failed")

    def _status(self, req: InboundRequest, action: str) -> list[Event]:
        authenticate(self.settings, req)
        params = req.params
        given_uuid, given_id = params.get("uuid", "").strip(), params.get("id", "").strip()
        if not given_uuid and not given_id:
            raise RequestRejected("parameters id or uuid should not be empty")
        message_id = parse_uuid(given_uuid) or parse_uuid(given_id)
        if message_id is None:
            raise RequestRejected(f"parsing failed: id '{given_id}' and uuid '{given_uuid}' are not valid UUIDs")
        return [StatusUpdate(self.channel.name, _STATUSES[action], message_id=message_id, raw=dict(params))]

    @route("stopped", "GET", "POST")
    async def stopped(self, req: InboundRequest) -> list[Event]:
        """The contact opted out (e.g. replied STOP to the aggregator)."""
        authenticate(self.settings, req)
        sender = req.params.get("from", "")
        if not sender:
            raise RequestRejected("field 'from' required")
        return [OptOut(self.channel.name, self.parse_number(sender), reason="stopped callback")]

    def reply(self, action: str, events: list[Event], request: InboundRequest) -> Reply | None:
        """`mo_response`, when set, answers a stored incoming message instead of the JSON envelope."""
        s = self.settings
        if action == "receive" and s.mo_response and any(isinstance(e, IncomingMessage) for e in events):
            return Reply(s.mo_response, 200, s.mo_response_content_type or "text/plain")
        return None
