"""smsgate adapter for SMSC connections (SMPP, UCP/EMI, CIMD2...) behind a Kannel gateway.

Sends with one `GET <send_url>` (smsbox's `/cgi-bin/sendsms`) per message, receives mobile-originated messages
on `/c/<channel>/receive` (Kannel's sms-service get-url) and delivery reports on `/c/<channel>/status` (the
`dlr-url` each send carries). Wire behaviour follows RapidPro's courier `kannel` handler; README.md lists where
and why we differ. `smsgate kannel-config --channel NAME` prints the kannel.conf groups an operator needs.
"""

from __future__ import annotations

import codecs
import logging
import ssl
import urllib.parse
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

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
    OutgoingMessage,
    RequestRejected,
    Secret,
    SendError,
    SendResult,
    Status,
    StatusUpdate,
    parse_uuid,
    route,
)
from smsgate.errors import ChannelConfigError
from smsgate.http import check_response
from smsgate.phones import national_number
from smsgate.text import is_gsm7, segment, smart_encode, with_attachments

from ._conf import GET_URL_QUERY, kannel_config_text

__all__ = [
    "DLR_STATUS",
    "GET_URL_QUERY",
    "KannelAdapter",
    "KannelSettings",
    "decode_text",
    "kannel_config_text",
    "smsgate_register_adapters",
    "smsgate_register_commands",
]

log = logging.getLogger("smsgate.kannel")

#: Kannel DLR type (`%d`) → our status and the reason kept with a failure.
DLR_STATUS: dict[int, tuple[Status, str]] = {
    1: (Status.DELIVERED, "delivered to the phone"),
    2: (Status.FAILED, "not delivered to the phone"),
    4: (Status.SENT, "buffered at the SMSC"),
    8: (Status.SENT, "accepted by the SMSC"),
    16: (Status.FAILED, "rejected by the SMSC"),
}

# What each send appends to the status callback: Kannel substitutes the DLR type and the SMSC's reply.
DLR_SUFFIX = "&status=%d&smsc_reply=%A"

# Codecs Python knows that are not charsets anyone sends SMS text in: never apply them to inbound bytes.
_NOT_CHARSETS = frozenset({"unicode-escape", "raw-unicode-escape", "idna", "punycode", "undefined"})
_UCS2_NAMES = frozenset({"", "ucs-2", "ucs2", "utf-16", "utf16", "utf-16be", "utf16be", "iso-10646-ucs-2"})


class KannelSettings(ChannelSettings):
    """Keys of a `kannel` channel (the shared keys such as `address` and `country` come from ChannelSettings)."""

    send_url: HttpUrl = Field(description="smsbox's sendsms URL, e.g. http://kannel:13013/cgi-bin/sendsms; "
                                          "fixed extra parameters in its query string are kept.")
    username: str = Field(min_length=1, description="The sendsms-user's username.")
    password: Secret = Field(description="The sendsms-user's password (masked in every channel log).")
    dlr_mask: int = Field(27, ge=0, le=63, description="Kannel dlr-mask: which DLR types to ask for "
                                                       "(27 = delivered + failed + accepted + rejected).")
    encoding: Literal["S", "D", "U"] = Field(
        "S", description="S: GSM-7 when smart substitution allows, else unicode; D: text as is; U: always unicode.")
    unicode_form: Literal["utf16be", "utf8"] = Field(
        "utf16be", description="How unicode travels with coding=2: UTF-16BE bytes (works without iconv) "
                               "or UTF-8 with charset=UTF-8.")
    use_national: bool = Field(False, description="Send `to` as the national number (+250788383383 → 788383383).")
    ignore_sent: bool = Field(False, description="Answer 'sent' DLRs (types 4 and 8) with Ignored.")
    smsc: str | None = Field(None, min_length=1, description="Route every send to this smsc-id (sent as smsc=).")
    priority: int | None = Field(None, ge=0, le=3, description="Kannel priority 0-3 for every send.")
    verify_tls: bool = Field(True, description="Verify the TLS certificate of an https send_url.")
    ca_bundle: str | None = Field(None, description="PEM file of CA certificates to verify send_url with.")

    @field_validator("ca_bundle")
    @classmethod
    def _readable(cls, value: str | None) -> str | None:
        if value is not None and not Path(value).is_file():
            raise ValueError(f"no such file: {value}")
        return value


def decode_text(raw: bytes, coding: str = "", charset: str = "") -> str:
    """An MO's text from Kannel's bytes, by its `coding` (%c) and `charset` (%C); never raises.

    coding 2 (UCS-2) without a charset, or with a UTF-16 name, is UTF-16BE. coding 1 (8-bit data) keeps each
    byte as one Latin-1 character (lossless). Otherwise a known charset decides; without one, UTF-8 if valid.
    """
    name = charset.strip().lower()
    if coding.strip() == "2" and name in _UCS2_NAMES:
        if raw[:2] == b"\xff\xfe":
            return raw[2:].decode("utf-16-le", "replace")
        return raw.removeprefix(b"\xfe\xff").decode("utf-16-be", "replace")
    if coding.strip() == "1":
        return raw.decode("latin-1")
    if name in _UCS2_NAMES - {""}:
        return raw.decode("utf-16-be", "replace")
    codec = _codec(name)
    if codec is not None:
        return raw.decode(codec, "replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _codec(name: str) -> str | None:
    if not name:
        return None
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_CHARSETS:
        return None
    return info.name


def _raw_params(req: InboundRequest) -> dict[str, bytes]:
    """Every parameter as raw bytes, body before query (Go's r.Form order), first value per key.

    The core decodes parameters as UTF-8; a UCS-2 MO carries UTF-16BE bytes, so re-parse the wire form with
    Latin-1, which maps each percent-decoded byte to one character and back without loss.
    """
    pairs: list[tuple[str, bytes]] = []
    if req.content_type == "application/x-www-form-urlencoded" and req.body:
        body = req.body.decode("latin-1")
        pairs += [(k, v.encode("latin-1")) for k, v in
                  urllib.parse.parse_qsl(body, keep_blank_values=True, encoding="latin-1")]
    else:
        pairs += [(k, v.encode("utf-8")) for k, v in req.form]
    query = urllib.parse.urlsplit(req.url).query
    pairs += [(k, v.encode("latin-1")) for k, v in
              urllib.parse.parse_qsl(query, keep_blank_values=True, encoding="latin-1")]
    out: dict[str, bytes] = {}
    for key, value in pairs:
        out.setdefault(key, value)
    return out


def _text(value: bytes | None) -> str:
    return "" if value is None else value.decode("utf-8", "replace").strip()


def _check(response: httpx.Response) -> None:
    """The core's status classes, with Kannel's own explanation (e.g. `Authorization failed for sendsms`)."""
    try:
        check_response(response)
    except SendError as exc:
        said = " ".join(response.text.split())[:200]
        if said:
            exc.reason = f"{exc.reason}: {said}"
            exc.args = (exc.reason,)
        raise


class KannelAdapter(Adapter[KannelSettings]):
    """SMS through a Kannel smsbox: sendsms for MT, the sms-service get-url for MO, dlr-url for reports."""

    name = "kannel"
    settings_model = KannelSettings
    allow_short_codes = True
    allow_sender_ids = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._ssl_context: ssl.SSLContext | None = None

    # -- sending ------------------------------------------------------------------------------------

    def encode(self, text: str) -> tuple[list[tuple[str, str]], str]:
        """The coding/charset parameters and the already percent-encoded `text` value for `text`."""
        settings = self.settings
        unicode = False
        if settings.encoding == "S":
            text = smart_encode(text)
            unicode = not is_gsm7(text)
        elif settings.encoding == "U":
            unicode = True
        if not unicode:
            return [], urllib.parse.quote_plus(text, safe="")
        if settings.unicode_form == "utf8":
            return [("coding", "2"), ("charset", "UTF-8")], urllib.parse.quote_plus(text, safe="")
        # RapidPro's form: no charset, so Kannel needs no iconv; a 0x20 byte becomes '+' as Go's QueryEscape does
        return [("coding", "2")], urllib.parse.quote_plus(text.encode("utf-16-be"), safe="")

    def dlr_url(self, message_id: str) -> str:
        """This message's status callback; `%d`/`%A` stay literal for Kannel to substitute."""
        return self.callback_url("status", id=message_id) + DLR_SUFFIX

    def sendsms_url(self, message: OutgoingMessage) -> str:
        """The full sendsms GET URL for `message` (parameters sorted by name, as courier's Go does)."""
        settings = self.settings
        text = with_attachments(message.text, message.attachments)
        coding, encoded_text = self.encode(text)
        params: list[tuple[str, str]] = [("username", settings.username),
                                         ("password", settings.password.get_secret_value()),
                                         ("to", national_number(message.to) if settings.use_national else message.to),
                                         *coding]
        sender = message.from_ or settings.address
        if sender:  # without it Kannel falls back to the sendsms-user's default-sender / global-sender
            params.append(("from", sender))
        if settings.dlr_mask:
            params += [("dlr-mask", str(settings.dlr_mask)), ("dlr-url", self.dlr_url(message.id))]
        if settings.smsc:
            params.append(("smsc", settings.smsc))
        priority = settings.priority
        if message.high_priority:
            priority = max(priority or 0, 1)
        if priority is not None:
            params.append(("priority", str(priority)))
        encoded = {k: urllib.parse.quote_plus(v, safe="") for k, v in params}
        encoded["text"] = encoded_text
        query = "&".join(f"{k}={encoded[k]}" for k in sorted(encoded))
        base = settings.send_url
        if "?" not in base:
            return f"{base}?{query}"
        return base + ("" if base.endswith(("?", "&")) else "&") + query

    def verify(self) -> Any:
        """What to pass as `verify=`: None (the gateway's default), False, or an SSL context for `ca_bundle`."""
        settings = self.settings
        if not settings.verify_tls:
            return False
        if settings.ca_bundle is None:
            return None
        if self._ssl_context is None:  # one context per channel, so the pooled client for it is reused
            try:
                self._ssl_context = ssl.create_default_context(cafile=settings.ca_bundle)
            except (OSError, ssl.SSLError) as exc:
                raise ChannelConfigError(f"cannot load ca_bundle {settings.ca_bundle}: {exc}") from None
        return self._ssl_context

    async def send(self, message: OutgoingMessage, log: ChannelLog) -> SendResult:
        """One GET sendsms; Kannel splits long texts itself and returns no message id."""
        url = self.sendsms_url(message)
        await self.http.request(log, self.settings, "GET", url, check=_check, verify=self.verify())
        return SendResult(Status.WIRED, segments=self.segments(with_attachments(message.text, message.attachments)))

    def segments(self, text: str) -> int:
        """How many SMS Kannel makes of `text` as this channel encodes it (GSM-7 160/153, UCS-2 70/67)."""
        coding, _ = self.encode(text)
        if self.settings.encoding == "S":
            text = smart_encode(text)
        if not coding:  # GSM-7; D's other characters go out as '?' in Kannel's default alphabet
            return segment("".join(c if is_gsm7(c) else "?" for c in text)).count
        if not is_gsm7(text):
            return segment(text).count  # UCS-2 units, a surrogate pair kept whole
        return 1 if len(text) <= 70 else -(-len(text) // 67)  # GSM-7 characters forced to UCS-2 (encoding U)

    # -- receiving ----------------------------------------------------------------------------------

    @route("receive", "GET", "POST")
    async def receive(self, req: InboundRequest) -> list[Event]:
        """A mobile-originated message from the sms-service get-url (`sender`, `message`, `ts`, `id`, ...)."""
        raw = _raw_params(req)
        sender, external_id, ts_text = (_text(raw.get(k)) for k in ("sender", "id", "ts"))
        missing = [f"field '{n}' required" for n, v in (("id", external_id), ("ts", ts_text), ("sender", sender))
                   if not v or (n == "ts" and v == "0")]
        if missing:
            raise RequestRejected(", ".join(missing))
        try:
            ts = int(ts_text)
            received_at = datetime.fromtimestamp(ts, UTC)
        except (ValueError, OverflowError, OSError):
            raise RequestRejected(f"field 'ts' must be unix seconds (Kannel's %T), got {ts_text[:40]!r}") from None
        if ts <= 0:
            raise RequestRejected(f"field 'ts' must be positive unix seconds, got {ts}")
        coding, charset = _text(raw.get("coding")), _text(raw.get("charset"))
        payload = raw.get("message", b"")
        text = decode_text(payload, coding, charset)
        details: dict[str, Any] = {k: _text(v) for k, v in raw.items() if k != "message"}
        if coding == "1":
            details["message_hex"] = payload.hex()
        to = _text(raw.get("to")) or self.settings.address
        return [IncomingMessage(channel=self.channel.name, from_=self.parse_number(sender), text=text, to=to,
                                received_at=received_at, external_id=external_id, raw=details)]

    @route("status", "GET", "POST")
    async def status(self, req: InboundRequest) -> list[Event]:
        """A delivery report from the dlr-url: `id` (our message UUID), `status` (%d), `smsc_reply` (%A)."""
        params = req.params
        given = (params.get("id") or params.get("uuid") or "").strip()
        status_text = (params.get("status") or "").strip()
        missing = [f"field '{n}' required" for n, v in (("id", given), ("status", status_text))
                   if not v or (n == "status" and v == "0")]
        if missing:
            raise RequestRejected(", ".join(missing))
        message_id = parse_uuid(given)
        if message_id is None:
            raise RequestRejected(f"field 'id' must be a message UUID, got {given[:60]!r}")
        try:
            dlr = int(status_text)
        except ValueError:
            raise RequestRejected(f"field 'status' must be a Kannel DLR type (an integer), "
                                  f"got {status_text[:40]!r}") from None
        if dlr == 0:
            raise RequestRejected("field 'status' required")
        reply = (params.get("smsc_reply") or "").strip()
        raw = dict(params)
        known = DLR_STATUS.get(dlr)
        if known is None:
            log.warning("channel %s: ignoring unknown Kannel DLR type %r for message %s (smsc reply %r)",
                        self.channel.name, dlr, message_id, reply)
            return [Ignored(f"ignoring unknown status '{dlr}'", error=True)]
        status, meaning = known
        if status is Status.SENT and self.settings.ignore_sent:
            return [Ignored("ignoring sent report (message already wired)")]
        failure = status is Status.FAILED
        return [StatusUpdate(channel=self.channel.name, status=status, message_id=message_id,
                             error_code=f"dlr:{dlr}" if failure else None,
                             error_reason=(f"{meaning}: {reply}" if reply else meaning) if failure else None,
                             raw=raw)]


@smsgate.hookimpl
def smsgate_register_adapters(register: Callable[[type[Adapter[Any]]], None]) -> None:
    """Provide the `kannel` adapter."""
    register(KannelAdapter)


@smsgate.hookimpl
def smsgate_register_commands(app: Any, context: smsgate.hookspecs.CommandContext) -> None:
    """Add `smsgate kannel-config` to the CLI."""
    from ._conf import register_command

    register_command(app, context)
