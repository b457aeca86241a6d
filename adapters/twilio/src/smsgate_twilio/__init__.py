"""smsgate adapter for Twilio's Messages API and every aggregator that copies it (SignalWire, ...).

Sends with `POST {base_url}/2010-04-01/Accounts/{sid}/Messages.json`, receives TwiML-style webhooks on
`/c/<channel>/receive` and status callbacks on `/c/<channel>/status`, and checks `X-Twilio-Signature` on
both. Wire behaviour follows RapidPro's courier `twiml` handler; README.md lists where and why we differ.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import urllib.parse
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

import httpx
import smsgate
from pydantic import Field, field_validator
from smsgate import (
    Adapter,
    ChannelLog,
    ChannelSettings,
    Event,
    HttpUrl,
    Ignored,
    InboundRequest,
    IncomingMessage,
    OptOut,
    OutgoingMessage,
    Reply,
    RequestRejected,
    Secret,
    SendResult,
    Status,
    StatusUpdate,
    parse_uuid,
    route,
)
from smsgate.errors import (
    ChannelConfigError,
    ConnectionFailed,
    ContactStopped,
    RejectedWithReason,
    ResponseStatusError,
    Throttled,
)
from smsgate.http import parse_retry_after
from smsgate.text import segment, split_bytes

__all__ = [
    "EMPTY_TWIML",
    "STATUS_MAP",
    "TwilioAdapter",
    "TwilioSettings",
    "compute_signature",
    "decode_possible_base64",
    "signature_is_valid",
    "smsgate_register_adapters",
]

SIGNATURE_HEADER = "x-twilio-signature"
SIGNATURE_SETTINGS_HEADER = "x-twilio-webhooks-signature-settings"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'

#: Twilio `MessageStatus` → our status (courier's table).
STATUS_MAP: dict[str, Status] = {
    "queued": Status.SENT,
    "sent": Status.SENT,
    "delivered": Status.DELIVERED,
    "read": Status.READ,
    "failed": Status.FAILED,
    "undelivered": Status.FAILED,
}

# Statuses Twilio's own contract lists (message_enum_status) that say nothing we can record: answered 200
# Ignored so Twilio's debugger does not fill with 11200 errors, unlike courier's 400.
_INTERMEDIATE = frozenset({"accepted", "scheduled", "sending", "canceled", "receiving", "received",
                           "partially_delivered"})

# A few codes worth a readable reason; any other code is kept as `Twilio error <code>`.
ERROR_REASONS: dict[str, str] = {
    "20003": "authentication failed (check account_sid and auth_token)",
    "20429": "too many requests",
    "21211": "invalid 'To' phone number",
    "21408": "permission to send to this region is not enabled",
    "21610": "the recipient has opted out (replied STOP)",
    "21612": "the 'To' number cannot be reached from this 'From' number",
    "21614": "'To' is not a valid mobile number",
    "30003": "unreachable destination handset",
    "30004": "message blocked",
    "30005": "unknown destination handset",
    "30006": "landline or unreachable carrier",
    "30007": "message filtered by the carrier",
    "30008": "unknown delivery error",
    "63018": "rate limit exceeded for the channel",
}

OPT_OUT_CODE = "21610"
_MAX_MEDIA = 10  # Twilio sends at most 10 MediaUrlN per message


def _reason(code: str, message: str | None = None) -> str:
    text = message or ERROR_REASONS.get(code) or "service specific error"
    return f"Twilio error {code}: {text}"


class TwilioSettings(ChannelSettings):
    """Keys of a `twilio` channel (the shared keys such as `address` and `country` come from ChannelSettings)."""

    account_sid: str = Field(min_length=1, description="Account SID (AC...) used in the URL and as basic-auth user.")
    auth_token: Secret = Field(description="Auth token: the basic-auth password and the webhook signing key.")
    base_url: HttpUrl = Field("https://api.twilio.com",
                              description="API root of Twilio or of a Twilio-compatible provider.")
    messaging_service_sid: str = Field("", description="Messaging Service SID (MG...) sent as MessagingServiceSid.")
    link_shortening: bool = Field(False, description="Ask the messaging service to shorten links (ShortenUrls).")
    max_length: int = Field(1600, ge=1, description="Longest Body in UTF-8 bytes; longer texts are split.")
    ignore_dlrs: bool = Field(False, description="Answer non-failure status callbacks with Ignored.")
    validate_signatures: bool = Field(True, description="Reject webhooks without a valid X-Twilio-Signature.")

    @field_validator("base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")  # paths are appended to it


# -- X-Twilio-Signature ---------------------------------------------------------------------------------


def compute_signature(token: str, url: str, params: Iterable[tuple[str, str]] = (), *,
                      dedupe: bool = False) -> str:
    """Twilio's webhook signature: base64 HMAC-SHA1 keyed by `token` over `url` + each param name and its values.

    Names are sorted; the values of a repeated name are sorted too (and de-duplicated when `dedupe`, as
    Twilio's Python SDK does).
    """
    grouped: dict[str, list[str]] = {}
    for name, value in params:
        grouped.setdefault(name, []).append(value)
    data = [url]
    for name in sorted(grouped):
        values = sorted(set(grouped[name])) if dedupe else sorted(grouped[name])
        data.extend(name + value for value in values)
    # lone surrogates (undecodable multipart input) must not crash the check: they simply cannot match
    digest = hmac.new(token.encode("utf-8", "surrogatepass"), "".join(data).encode("utf-8", "surrogatepass"),
                      hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _url_variants(url: str) -> list[str]:
    """`url` as given, plus the same URL with its default port added or removed (Twilio signs either)."""
    scheme, sep, rest = url.partition("://")
    default = {"https": "443", "http": "80"}.get(scheme.lower())
    if not sep or default is None:
        return [url]
    cut = min((i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
    netloc, tail = rest[:cut], rest[cut:]
    userinfo, at, hostport = netloc.rpartition("@")
    prefix = f"{scheme}://{userinfo}{at}"
    if ":" not in hostport.rpartition("]")[2]:  # no explicit port (an IPv6 literal keeps its colons in [])
        return [url, f"{prefix}{hostport}:{default}{tail}"]
    host, _, port = hostport.rpartition(":")
    return [url, f"{prefix}{host}{tail}"] if port == default else [url]


def signature_is_valid(token: str, url: str, params: Sequence[tuple[str, str]], signature: str,
                       *, body: bytes | None = None) -> bool:
    """Check `signature` for a request to `url`; pass the raw `body` to allow the `bodySHA256` JSON variant.

    For the JSON variant Twilio puts the hex SHA-256 of the body in the `bodySHA256` query parameter and
    signs the URL alone, so the body hash is checked here and `params` must be empty.
    """
    if body is not None:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query, keep_blank_values=True)
        claimed = query.get("bodySHA256", [""])[0].lower()
        if not hmac.compare_digest(hashlib.sha256(body).hexdigest().encode(), claimed.encode()):
            return False
        params = ()
    given = signature.strip().encode("utf-8", "replace")
    valid = False
    dedupes = (False, True) if len({(k, v) for k, v in params}) != len(params) else (False,)
    for candidate in _url_variants(url):
        for dedupe in dedupes:
            expected = compute_signature(token, candidate, params, dedupe=dedupe).encode()
            valid |= hmac.compare_digest(expected, given)  # no early exit: every variant costs the same
    return valid


# -- inbound helpers ------------------------------------------------------------------------------------

_BASE64 = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")


def decode_possible_base64(text: str) -> str:
    """Courier's heuristic: a long body that is strict base64 of mostly-ASCII bytes is decoded.

    Some carriers hand Twilio base64 text; courier decodes a body whose stripped form is at least 60
    characters, a multiple of 4 long, canonical base64, and whose bytes are at least half (printable)
    ASCII. Invalid UTF-8 in the result is dropped.
    """
    stripped = text.replace("\r", "").replace("\n", "").strip()
    if len(stripped) < 60 or len(stripped) % 4 or not _BASE64.match(stripped):
        return text
    try:
        decoded = base64.b64decode(stripped, validate=True)
    except (binascii.Error, ValueError):
        return text
    if base64.b64encode(decoded).decode() != stripped:  # non-zero padding bits: not strict base64
        return text
    # courier counts bytes < 128; we count printable ASCII only, so "AAAA..." does not become NUL bytes
    if not decoded or sum(32 <= b < 127 or b in (9, 10, 13) for b in decoded) / len(decoded) < 0.5:
        return text
    return decoded.decode("utf-8", "ignore")


def _attachment_url(attachment: str) -> str:
    """The URL of an attachment given as `mime/type:url` or as a bare URL."""
    mime, sep, rest = attachment.partition(":")
    return rest if sep and "/" in mime and not rest.startswith("//") else attachment


def _twiml(comment: str = "") -> str:
    if not comment:
        return EMPTY_TWIML
    safe = comment.replace("--", "- -")  # "--" may not appear inside an XML comment
    return f'<?xml version="1.0" encoding="UTF-8"?><!-- {safe} --><Response/>'


# -- the adapter ------------------------------------------------------------------------------------------


class TwilioAdapter(Adapter[TwilioSettings]):
    """Twilio Messages API (and compatible providers): sends, receives, status callbacks, signed webhooks."""

    name = "twilio"
    settings_model = TwilioSettings
    allow_short_codes: ClassVar[bool] = True
    allow_sender_ids: ClassVar[bool] = True
    def basic_auth_pairs(self) -> Iterable[tuple[str, str]]:
        """The account SID and auth token, so the base64 basic-auth value is masked in logs."""
        return [(self.settings.account_sid, self.settings.auth_token.get_secret_value())]

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
            form["MediaUrl"] = [_attachment_url(a) for a in message.attachments]
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
            payload = _json(response)
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
        if not self.settings.validate_signatures:
            return
        signature = req.headers.get(SIGNATURE_HEADER, "")
        if not signature:
            raise RequestRejected("missing request signature (X-Twilio-Signature)", 403)
        settings_header = req.headers.get(SIGNATURE_SETTINGS_HEADER, "")
        algorithm = next((v.strip() for k, _, v in (p.partition("=") for p in settings_header.split(","))
                          if k.strip() == "algorithm" and v.strip()), "HMAC_SHA1")
        if algorithm.upper() != "HMAC_SHA1":
            raise RequestRejected(f"unsupported signature algorithm {algorithm[:32]!r}: smsgate checks "
                                  "auth-token HMAC_SHA1 signatures only", 403)
        token = self.settings.auth_token.get_secret_value()
        json_variant = "bodySHA256" in req.query_params() and req.content_type != "application/x-www-form-urlencoded"
        params = [] if json_variant else list(req.form)
        if not signature_is_valid(token, req.url, params, signature, body=req.body if json_variant else None):
            raise RequestRejected(f"invalid request signature for {req.url} (is [gateway] public_url, or "
                                  "trust_proxy behind a proxy, the URL Twilio calls?)", 403)

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
        attachments = [url for i in range(min(int(raw_count), _MAX_MEDIA))
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
            if value in _INTERMEDIATE:
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
            error_code=error_code or None, error_reason=_reason(error_code) if error_code else None, raw=fields)]
        if error_code == OPT_OUT_CODE:
            try:
                events.append(OptOut(self.channel.name, self.parse_number(fields.get("To", "")),
                                     reason=_reason(error_code)))
            except RequestRejected:
                pass  # the failure is still recorded; without a parsable To there is nobody to opt out
        return events

    def reply(self, action: str, events: list[Event], request: InboundRequest) -> Reply | None:
        """Empty TwiML for incoming messages, so Twilio sends no auto-reply; JSON elsewhere."""
        if action != "receive":
            return None
        ignored = [e.reason for e in events if isinstance(e, Ignored)]
        return Reply(_twiml("; ".join(ignored)), 200, "text/xml")


# -- response check ---------------------------------------------------------------------------------------


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError):
        return None


def check_twilio_response(response: httpx.Response) -> None:
    """Map a Messages API answer: 2xx passes; Twilio's JSON `code` decides failed, stopped or throttled."""
    status = response.status_code
    if 200 <= status < 300:
        return
    payload = _json(response)
    code = str(payload.get("code", "")).strip() if isinstance(payload, dict) else ""
    message = payload.get("message") if isinstance(payload, dict) else None
    message = str(message)[:300] if message else None
    host = response.request.url.host
    if status == 429 or code == "20429":
        raise Throttled(f"{_reason(code or '20429', message)} (HTTP {status} from {host})",
                        retry_after=parse_retry_after(response.headers.get("retry-after")), ext_code=code or "429")
    if status >= 500:
        raise ConnectionFailed(f"HTTP {status} from {host}" + (f": {_reason(code, message)}" if code else ""),
                               ext_code=code or str(status))
    if code == OPT_OUT_CODE:
        raise ContactStopped(_reason(code, message), ext_code=code)
    if code:
        raise RejectedWithReason(_reason(code, message), ext_code=code)
    raise ResponseStatusError(f"HTTP {status} from {host}", ext_code=str(status))


@smsgate.hookimpl
def smsgate_register_adapters(register: Any) -> None:
    """Register the `twilio` adapter."""
    register(TwilioAdapter)
