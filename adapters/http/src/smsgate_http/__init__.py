"""smsgate adapter `http`: any aggregator with an HTTP API, configured like RapidPro's "External API" channel.

Sending renders `send_url` and `body` templates per message part; receiving serves `receive`, `sent`,
`delivered`, `failed` and `stopped` at `/c/<channel>/<action>`. Wire behaviour follows courier's EX handler;
the README lists where and why smsgate differs.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Literal

import httpx
import smsgate
from pydantic import Field, SecretStr, field_validator, model_validator
from smsgate import (
    Adapter,
    ChannelLog,
    ChannelSettings,
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
    same_secret,
)
from smsgate.errors import MessageInvalid, ResponseContentError
from smsgate.http import check_response, merge_headers
from smsgate.phones import national_number
from smsgate.text import smart_encode, split_bytes, with_attachments

from ._render import (
    CONTENT_TYPES,
    DEFAULT_BODIES,
    VARIABLES,
    content_type_header,
    escaper,
    placeholders,
    quick_replies,
    render,
)
from ._xml import MAX_XML_BYTES, UnsafeXML, compile_xpath, find_text, parse_xml

__all__ = ["HttpAdapter", "HttpSettings", "parse_rfc3339", "smsgate_register_adapters"]

_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")  # an HTTP header name (RFC 9110 token)
# Go's time.RFC3339Nano as a parse layout: fraction optional, "Z" or a numeric offset, nothing else
_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:(Z)|([+-])(\d{2}):(\d{2}))$", re.ASCII)
_SENSITIVE_HEADER = re.compile(r"(?i)auth|token|secret|key|password|signature|cookie")
_STATUSES = {"sent": Status.SENT, "delivered": Status.DELIVERED, "failed": Status.FAILED}


def parse_rfc3339(value: str) -> datetime:
    """Parse an RFC 3339 timestamp with optional fractional seconds (Go's RFC3339Nano); ValueError otherwise."""
    m = _RFC3339.fullmatch(value)
    if m is None:
        raise ValueError(f"not RFC 3339: {value!r}")
    year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = m.groups()
    if zulu:
        tz = UTC
    else:
        if int(off_h) > 23 or int(off_m) > 59:
            raise ValueError(f"invalid offset in {value!r}")
        offset = timedelta(hours=int(off_h), minutes=int(off_m))
        tz = timezone(-offset if sign == "-" else offset)
    micro = int((fraction or "0").ljust(6, "0")[:6])  # Python keeps microseconds: nanoseconds are truncated
    return datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tzinfo=tz)



@functools.lru_cache(maxsize=64)
def _used(template: str) -> frozenset[str]:
    """The variables a template shows (templates are a channel's settings: few, and parsed once each)."""
    return frozenset(placeholders(template))

class HttpSettings(ChannelSettings):
    """Keys of an `http` channel; the names are RapidPro's, so an External API channel's config carries over."""

    send_url: str = Field(description="URL template for each outgoing part, e.g. https://agg.example/send?to={{to}}.")
    method: Literal["GET", "POST", "PUT"] = Field("POST", description="HTTP method of sends; GET sends no body.")
    content_type: str = Field("urlencoded", description="urlencoded, json, xml, or a literal Content-Type "
                                                        "(variables then go into the body unescaped).")
    body: str | None = Field(None, description="Body template for POST/PUT; default depends on content_type.")
    max_length: int = Field(160, gt=0, description="Split text longer than this many UTF-8 bytes (int or string).")
    encoding: Literal["D", "S"] = Field("D", description="D sends text as is; S applies GSM-7 smart substitutions.")
    mt_response_check: str = Field("", description="A substring every 2xx response body must contain.")
    send_authorization: SecretStr | None = Field(None, description="Value of the Authorization header of sends.")
    headers: dict[str, str] = Field(default_factory=dict, description="Extra request headers; they override "
                                                                      "Content-Type and Authorization.")
    use_national: bool = Field(False, description="Send {{to}} as the national number, without country code.")
    mo_from_field: str = Field("", description="Parameter holding the sender, tried before from and sender.")
    mo_text_field: str = Field("", description="Parameter holding the text, tried before text.")
    mo_date_field: str = Field("", description="Parameter holding the RFC 3339 date, tried before date and time.")
    from_xpath: str = Field("", description="XPath of the sender in an XML callback (with text_xpath).")
    text_xpath: str = Field("", description="XPath of the text in an XML callback (with from_xpath).")
    mo_response: str = Field("", description="Literal body answered to a stored incoming message.")
    mo_response_content_type: str = Field("", description="Content-Type of mo_response (default text/plain).")
    inbound_secret: SecretStr | None = Field(None, description="Shared secret callbacks must send in "
                                                               "inbound_secret_header (off when unset).")
    inbound_secret_header: str = Field("X-Smsgate-Secret", description="Header that carries inbound_secret.")
    inbound_username: str = Field("", description="User name callbacks may send as HTTP basic auth.")
    inbound_password: SecretStr | None = Field(None, description="Password callbacks may send as HTTP basic auth.")

    @field_validator("method", "encoding", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("content_type")
    @classmethod
    def _content_type(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must be urlencoded, json, xml or a Content-Type such as 'text/plain'")
        if "\r" in value or "\n" in value:
            raise ValueError("must not contain line breaks")
        return value.lower() if value.lower() in CONTENT_TYPES else value

    @field_validator("headers", mode="before")
    @classmethod
    def _headers(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        out = {}
        for name, raw in value.items():
            if not isinstance(name, str) or not _TOKEN.fullmatch(name):
                raise ValueError(f"{name!r} is not a valid header name")
            if isinstance(raw, bool):  # TOML true → "true", as Go's fmt.Sprint prints it
                raw = str(raw).lower()
            elif isinstance(raw, int | float):
                raw = str(raw)
            if not isinstance(raw, str):
                raise ValueError(f"header {name!r} must be a string, number or boolean")
            if "\r" in raw or "\n" in raw:
                raise ValueError(f"header {name!r} must not contain line breaks")
            out[name] = raw
        return out

    @field_validator("inbound_secret_header")
    @classmethod
    def _header_name(cls, value: str) -> str:
        if not _TOKEN.fullmatch(value):
            raise ValueError(f"{value!r} is not a valid header name")
        return value

    @field_validator("mo_response_content_type")
    @classmethod
    def _no_newlines(cls, value: str) -> str:
        if "\r" in value or "\n" in value:
            raise ValueError("must not contain line breaks")
        return value.strip()

    @field_validator("send_url")
    @classmethod
    def _send_url(cls, value: str) -> str:
        value = value.strip()
        if not value.lower().startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL (it may contain {{variables}})")
        return value

    @field_validator("from_xpath", "text_xpath")
    @classmethod
    def _xpath(cls, value: str) -> str:
        value = value.strip()
        if value:
            compile_xpath(value)  # its ValueError names the unsupported expression
        return value

    @model_validator(mode="after")
    def _consistent(self) -> HttpSettings:
        for key in ("send_url", "body"):
            unknown = placeholders(getattr(self, key) or "") - VARIABLES
            if unknown:
                names = ", ".join("{{" + u + "}}" for u in sorted(unknown))
                raise ValueError(f"{key} uses unknown variable(s) {names}; known: {', '.join(sorted(VARIABLES))}")
        if bool(self.from_xpath) != bool(self.text_xpath):
            raise ValueError("from_xpath and text_xpath must be set together (XML mode needs both)")
        if bool(self.inbound_username) != (self.inbound_password is not None):
            raise ValueError("inbound_username and inbound_password must be set together")
        return self

    def body_template(self) -> str:
        """The configured body, or the default for the content type (empty for xml and literal types)."""
        return self.body if self.body is not None else DEFAULT_BODIES.get(self.content_type, "")


class HttpAdapter(Adapter[HttpSettings]):
    """RapidPro's External API channel: templated sends, form/JSON/XML callbacks, status and stop routes."""

    name = "http"
    settings_model = HttpSettings
    allow_short_codes = True
    allow_sender_ids = False  # as courier's EX: "MTN" is not a possible sender

    # -- secrets ------------------------------------------------------------------------------------

    def secrets(self) -> list[str]:
        """The SecretStr keys plus credential-looking `headers` values (and their credential part)."""
        values = super().secrets()
        for name, value in self.settings.headers.items():
            if _SENSITIVE_HEADER.search(name) and value:
                values.append(value)
                scheme, _, credential = value.partition(" ")
                if credential and len(credential) >= 6:
                    values.append(credential)  # "Bearer xyz": xyz alone must not leak either
                if scheme.lower() == "basic":  # and the password inside "Basic base64(user:password)"
                    with contextlib.suppress(ValueError, UnicodeDecodeError):
                        password = base64.b64decode(credential, validate=True).decode().partition(":")[2]
                        if password:
                            values.append(password)
        return values

    def basic_auth_pairs(self) -> Iterable[tuple[str, str]]:
        """The inbound basic-auth pair, so its base64 form is masked in logged callbacks."""
        s = self.settings
        if s.inbound_password is not None:
            return [(s.inbound_username, s.inbound_password.get_secret_value())]
        return []

    def secret_headers(self) -> Iterable[str]:
        """The header carrying `inbound_secret`: a caller's wrong value may differ from it by one character."""
        return [self.settings.inbound_secret_header]

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
            used = _used(s.send_url)  # escape only what the template shows (a fixed URL: nothing at all)
            url = render(s.send_url, {**{k: url_escape(v) for k, v in variables.items() if k in used},
                                      "quick_replies": quick_replies(replies, "GET", "urlencoded")})
            content = None
            if s.method in ("POST", "PUT"):
                used = _used(template)
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
        self._authenticate(req)
        s = self.settings
        date = ""
        if s.from_xpath and s.text_xpath:
            sender, text, raw = self._from_xml(req)
        else:
            params = req.fields()  # the body's (form or JSON object) first, then the query string's
            sender = _first(params, s.mo_from_field, ("from", "sender"))
            text = _first(params, s.mo_text_field, ("text",))
            date = _first(params, s.mo_date_field, ("date", "time"))
            raw = dict(params)
        if not sender:
            raise RequestRejected("must have one of 'sender' or 'from' set")
        received_at = smsgate.utcnow()
        if date:
            try:
                received_at = parse_rfc3339(date)
            except ValueError:
                raise RequestRejected("invalid date format, must be RFC 3339 (e.g. 2017-06-23T12:30:00.500Z or "
                                      "2017-06-23T12:30:00+02:00)") from None
        return [IncomingMessage(self.channel.name, self.parse_number(sender), text, to=s.address,
                                received_at=received_at, raw=raw)]

    def _from_xml(self, req: InboundRequest) -> tuple[str, str, dict[str, Any]]:
        s = self.settings
        if len(req.body) > MAX_XML_BYTES:
            raise RequestRejected(f"XML body larger than {MAX_XML_BYTES} bytes", 413)
        try:
            root = parse_xml(req.body)
        except UnsafeXML as exc:
            raise RequestRejected(f"unable to parse request XML: {exc}") from None
        except ValueError as exc:
            raise RequestRejected(f"unable to parse request XML: {exc}") from None
        sender = find_text(root, compile_xpath(s.from_xpath))
        text = find_text(root, compile_xpath(s.text_xpath))
        if sender is None or text is None:
            raise RequestRejected(f"missing from at: {s.from_xpath} or text at: {s.text_xpath} node")
        return sender, text, {"from": sender, "text": text}

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
        self._authenticate(req)
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
        self._authenticate(req)
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

    # -- inbound authentication ------------------------------------------------------------------------

    def _authenticate(self, req: InboundRequest) -> None:
        s = self.settings
        if s.inbound_secret is None and s.inbound_password is None:
            return
        offered = False
        if s.inbound_secret is not None:
            given = req.headers.get(s.inbound_secret_header.lower())
            if given is not None:
                offered = True
                if same_secret(given, s.inbound_secret.get_secret_value()):
                    return
        if s.inbound_password is not None:
            pair = req.basic_auth()
            if pair is not None:
                offered = True
                user_ok = same_secret(pair[0], s.inbound_username)
                password_ok = same_secret(pair[1], s.inbound_password.get_secret_value())
                if user_ok & password_ok:  # both compared every time: no early exit to time
                    return
        ways = " or ".join(w for w in (f"the {s.inbound_secret_header} header" if s.inbound_secret else "",
                                       "HTTP basic auth" if s.inbound_password else "") if w)
        if offered:
            raise RequestRejected(f"invalid credentials in {ways}", 401)
        raise RequestRejected(f"authentication required: send {ways}", 401)


def _first(params: dict[str, str], custom: str, defaults: tuple[str, ...]) -> str:
    """The value of the first key *present* (even if empty) among the custom name and the defaults."""
    for key in (custom, *defaults) if custom else defaults:
        if key in params:
            return params[key]
    return ""


@smsgate.hookimpl
def smsgate_register_adapters(register: Any) -> None:
    """Register the `http` adapter."""
    register(HttpAdapter)
