"""The `kannel` adapter: one sendsms GET per message, the get-url's MOs and the dlr-url's reports."""

from __future__ import annotations

import logging
import ssl
import urllib.parse
from datetime import UTC, datetime
from typing import Any

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
    parse_uuid,
    route,
)
from smsgate.errors import ChannelConfigError
from smsgate.phones import national_number
from smsgate.text import is_gsm7, segment, smart_encode, with_attachments

from ._inbound import decode_text, field_text
from ._settings import KannelSettings
from ._status import DLR_STATUS, DLR_SUFFIX, check_sendsms

__all__ = ["KannelAdapter"]

log = logging.getLogger("smsgate.kannel")


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

    # -- the link probe -----------------------------------------------------------------------------

    def probe_url(self) -> str | None:
        """smsbox's sendsms URL, without its query."""
        return self.settings.send_url.split("?", 1)[0]

    async def check_link(self) -> tuple[str, str] | None:
        """A GET of sendsms without credentials: smsbox answers it (403) whenever it runs, and only then (it stops
        with bearerbox). Nothing it logs as an error, unlike a request with credentials but no recipient."""
        url = self.probe_url()
        assert url is not None
        status, said = await self.http.probe_get(url, min(self.settings.timeout, 10.0), verify=self.verify())
        if status is None:
            return "down", said
        return "up", f"smsbox answered on {urllib.parse.urlsplit(url).netloc} ({said})"

    async def probe(self) -> str | None:
        """For `smsgate check --live`: a sendsms GET with the channel's username and password but no recipient.
        Kannel checks the credentials first: 400 "Missing receiver number" means they were accepted."""
        params = urllib.parse.urlencode({"username": self.settings.username,
                                         "password": self.settings.password.get_secret_value()})
        base = self.settings.send_url
        url = f"{base}{'&' if '?' in base else '?'}{params}"
        status, said = await self.http.probe_get(url, min(self.settings.timeout, 10.0), verify=self.verify())
        if status is None:
            return said
        if status == 400:  # credentials accepted, then the missing `to` refused: nothing was sent
            return None
        if status == 403:
            return f"smsbox refused the channel's username or password ({said}: Authorization failed)"
        return f"unexpected answer from smsbox to a sendsms without recipient: {said}"

    async def send(self, message: OutgoingMessage, log: ChannelLog) -> SendResult:
        """One GET sendsms; Kannel splits long texts itself and returns no message id."""
        url = self.sendsms_url(message)
        await self.http.request(log, self.settings, "GET", url, check=check_sendsms, verify=self.verify())
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

    @route("receive", "GET", "POST", raw_form=True)
    async def receive(self, req: InboundRequest) -> list[Event]:
        """A mobile-originated message from the sms-service get-url (`sender`, `message`, `ts`, `id`, ...)."""
        raw = req.raw_fields()
        sender, external_id, ts_text = (field_text(raw.get(k)) for k in ("sender", "id", "ts"))
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
        coding, charset = field_text(raw.get("coding")), field_text(raw.get("charset"))
        payload = raw.get("message", b"")
        text = decode_text(payload, coding, charset)
        details: dict[str, Any] = {k: field_text(v) for k, v in raw.items() if k != "message"}
        if coding == "1":
            details["message_hex"] = payload.hex()
        to = field_text(raw.get("to")) or self.settings.address
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
