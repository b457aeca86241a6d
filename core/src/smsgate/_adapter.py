"""The adapter contract: what a plugin implements to connect one kind of aggregator."""

from __future__ import annotations

import base64
import binascii
import functools
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Protocol, TypeVar, cast

from pydantic import SecretStr

from . import _json as strict_json
from ._http._channellog import ChannelLog, Redactor
from ._http._client import HttpClient
from ._http._logging import redact_library_logs
from ._models import Event, IncomingMessage, OptOut, OutgoingMessage, SendResult, Status, StatusUpdate
from .config._settings import Channel, ChannelSettings
from .errors import ContactStopped, MessageInvalid, RequestRejected, SendError
from .phones import InvalidNumber, normalize_number
from .store import Fragment, FragmentJoin, InboundOutcome

__all__ = ["Adapter", "InboundRequest", "InboundSink", "Reply", "Route", "route"]

SettingsT = TypeVar("SettingsT", bound=ChannelSettings)

RouteHandler = Callable[[Any, "InboundRequest"], Awaitable[list[Event]]]


@dataclass(frozen=True, slots=True)
class Route:
    """An inbound route an adapter serves at `/c/{channel}/{action}` for the given HTTP methods."""

    action: str
    methods: tuple[str, ...]
    handler: str
    raw_form: bool = False
    """The handler reads a form body's bytes itself (`InboundRequest.raw_fields()`), so a form whose values are
    not UTF-8 reaches it (decoded with replacement characters in `form`) instead of being refused with a 400."""


def route(action: str, *methods: str, raw_form: bool = False) -> Callable[[RouteHandler], RouteHandler]:
    """Mark an adapter coroutine method as the handler of `action` (methods default to POST); `raw_form=True`
    for an aggregator that percent-encodes raw bytes (UCS-2, binary) in its form bodies."""

    def mark(fn: RouteHandler) -> RouteHandler:
        fn.__smsgate_route__ = Route(action, tuple(m.upper() for m in methods) or ("POST",),  # type: ignore[attr-defined]
                                     fn.__name__, raw_form)
        return fn

    return mark


def _redacting(handler: RouteHandler) -> RouteHandler:
    """`handler`, masking the channel's secrets in the raw data of its events: that is stored and shown as is."""

    @functools.wraps(handler)
    async def redacted(adapter: Adapter[Any], request: InboundRequest) -> list[Event]:
        return adapter.mask_events(await handler(adapter, request))

    redacted.__smsgate_redacts__ = True  # type: ignore[attr-defined]
    return redacted


@dataclass(slots=True)
class InboundRequest:
    """A framework-neutral view of an inbound HTTP request, with its body already read and bounded."""

    method: str
    url: str
    headers: dict[str, str]
    query: list[tuple[str, str]]
    body: bytes = b""
    form: list[tuple[str, str]] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)
    """`time.perf_counter()` when the request began arriving: channel logs show how long it took."""

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower-cased."""
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def params(self) -> dict[str, str]:
        """Body values first, then query values, first value per key (Go's `r.Form` precedence)."""
        out: dict[str, str] = {}
        for key, value in (*self.form, *self.query):
            out.setdefault(key, value)
        return out

    def fields(self) -> dict[str, str]:
        """Every parameter, one value per key: the body's (a form, or a JSON object's top-level values) first,
        then the query string's. JSON numbers and booleans come as their JSON text; nulls, arrays and objects
        are not parameters (as in a form, a field holds one plain value); a JSON body that is not an object is
        a 400."""
        out = self.params
        if not self.body.strip() or not self._is_json():
            return out
        data = self.json()
        if not isinstance(data, dict):
            raise RequestRejected("a JSON body must be an object of fields, such as {\"from\": \"+250788383383\"}")
        values = {str(k): v if isinstance(v, str) else strict_json.dumps(v) for k, v in data.items()
                  if isinstance(v, str | int | float)}
        return {**out, **values}

    def _is_json(self) -> bool:
        ctype = self.content_type
        if ctype == "application/json" or ctype.endswith("+json"):
            return True
        # RapidPro-style senders may omit the type: a body that opens an object is read as one
        return not ctype and self.body.lstrip()[:1] == b"{"

    def require(self, *names: str, fields: dict[str, str] | None = None) -> list[str]:
        """The stripped values of `names` from `fields()` (or the given fields), or one 400 naming every
        missing one."""
        given = self.fields() if fields is None else fields
        values = [given.get(name, "").strip() for name in names]
        missing = [f"field '{name}' required" for name, value in zip(names, values, strict=True) if not value]
        if missing:
            raise RequestRejected("; ".join(missing))
        return values

    def basic_auth(self) -> tuple[str, str] | None:
        """The (user, password) of an `Authorization: Basic ...` header, or None when there is none or it is
        malformed."""
        scheme, _, token = self.headers.get("authorization", "").strip().partition(" ")
        if scheme.lower() != "basic" or not token:
            return None
        try:
            decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, sep, password = decoded.partition(":")
        return (user, password) if sep else None

    def raw_fields(self) -> dict[str, bytes]:
        """Every parameter as the bytes the client percent-encoded, first value per key: a form body's first,
        then the query string's (`params` order). For aggregators that put UCS-2 or binary bytes in a parameter,
        which `fields()` would decode as UTF-8; pair with `@route(..., raw_form=True)` for form bodies."""
        pairs: list[tuple[str, bytes]] = []
        if self.content_type == "application/x-www-form-urlencoded" and self.body:
            pairs += _latin1_pairs(self.body.decode("latin-1"))
        else:  # multipart fields arrive decoded; JSON carries text, not bytes
            pairs += [(key, value.encode("utf-8", "surrogatepass")) for key, value in self.form]
        pairs += _latin1_pairs(urllib.parse.urlsplit(self.url).query)
        out: dict[str, bytes] = {}
        for key, value in pairs:
            out.setdefault(key, value)
        return out

    def get_all(self, key: str) -> list[str]:
        """Every value of `key` from the body and the query string."""
        return [v for k, v in (*self.form, *self.query) if k == key]

    def json(self) -> Any:
        """The body parsed as strict JSON, or a 400 saying why it is not (NaN, lone surrogates, too deep...)."""
        try:
            return strict_json.loads(self.body)
        except strict_json.JSONRejected as exc:
            raise RequestRejected(f"body is not valid JSON: {exc}") from None

    def query_params(self) -> dict[str, str]:
        """The query string only, first value per key."""
        out: dict[str, str] = {}
        for key, value in self.query:
            out.setdefault(key, value)
        return out


def _latin1_pairs(encoded: str) -> list[tuple[str, bytes]]:
    # Latin-1 maps each percent-decoded byte to one character and back, so no byte is lost or replaced
    return [(key, value.encode("latin-1")) for key, value in
            urllib.parse.parse_qsl(encoded, keep_blank_values=True, encoding="latin-1")]


class InboundSink(Protocol):
    """What a started adapter gets instead of HTTP routes: a durable inbound for its own channel.

    An adapter holding a long-lived connection (an SMPP bind) receives messages and receipts on it. Awaiting the
    sink stores them (lookups scoped to the channel) and fires the hooks exactly as an HTTP callback does, and
    returns only after the commit: acknowledge the peer (deliver_sm_resp) after that, never before.
    """

    async def __call__(self, events: Sequence[Event], log: ChannelLog | None = None) -> list[InboundOutcome]:
        """Store `events` (and `log`) in one transaction, then fire the hooks."""

    async def fragment(self, fragment: Fragment, join: FragmentJoin, log: ChannelLog | None = None
                       ) -> tuple[bool, list[InboundOutcome]]:
        """Keep one part of a message durably; the part that completes it stores `join(parts)`. (False for a
        part already held; the joined message's outcomes, or [] while parts are missing.)"""

    async def known(self, external_ids: Sequence[str]) -> set[str]:
        """Which of `external_ids` this channel already stored as incoming messages."""

    async def log(self, log: ChannelLog) -> None:
        """Store a channel log on its own (e.g. a connection that went down)."""

    async def lease(self, name: str, holder: str, seconds: float) -> bool:
        """Take or renew this channel's lease `name` for `holder`; False while another holder has it."""

    async def release(self, name: str, holder: str) -> None:
        """Give this channel's lease `name` up if `holder` holds it."""

    async def link(self, state: str, reason: str) -> None:
        """Report the connection going `up` or `down` as it happens (a bind made or lost), with why: the channel's
        link state follows at once, without waiting for the next probe."""


@dataclass(slots=True)
class Reply:
    """A literal HTTP answer an adapter wants sent instead of the default JSON envelope."""

    body: str | bytes
    status_code: int = 200
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


class Adapter(Generic[SettingsT]):
    """Base class of every adapter; a subclass sets `name`, `settings_model`, `send` and `@route` handlers.

    One instance serves one channel for the life of a gateway. `send` is called for each outgoing
    message; each `@route` handler turns an inbound request into events or raises `RequestRejected`.
    Subclass it as `Adapter[MySettings]` so `self.settings` has your settings model's type.

    An adapter with a long-lived connection also overrides `start`/`stop` (`smsgate serve` calls them), `health`,
    `probe` and `check_link`; used without `start` (a CLI send) it opens a short connection itself and closes it
    in `stop`, which the gateway calls when it closes. An HTTP adapter returns its URL from `probe_url` and gets
    both probes from there.
    """

    name: ClassVar[str] = ""
    settings_model: ClassVar[type[ChannelSettings]] = ChannelSettings
    allow_short_codes: ClassVar[bool] = True
    allow_sender_ids: ClassVar[bool] = False
    routes: ClassVar[dict[str, Route]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        found: dict[str, Route] = {}
        for klass in reversed(cls.__mro__):
            for attr in vars(klass).values():
                marked = getattr(attr, "__smsgate_route__", None)
                if marked is not None:
                    found[marked.action] = marked
        cls.routes = found
        # every handler, even an override without @route: an aggregator may send a secret as a parameter
        for marked in found.values():
            handler = getattr(cls, marked.handler)
            if not getattr(handler, "__smsgate_redacts__", False):
                setattr(cls, marked.handler, _redacting(handler))

    def __init__(self, channel: Channel, http: HttpClient, public_url: str) -> None:
        self.channel = channel
        self.settings = cast(SettingsT, channel.settings)  # validated with `settings_model` by the config
        self.http = http
        self.public_url = public_url.rstrip("/")
        self.redactor = Redactor(self.secrets(), self.basic_auth_pairs(), self.secret_headers())
        redact_library_logs(self.redactor)

    def mask_events(self, events: Iterable[Event]) -> list[Event]:
        """`events` with this channel's secrets masked in their raw data and a report's error (both stored and
        shown as they are)."""
        out = list(events)
        for event in out:
            if isinstance(event, IncomingMessage | StatusUpdate) and event.raw:
                event.raw = self.redactor.data(event.raw)
            # a report's error may quote whatever the aggregator wrote (an echoed credential included)
            if isinstance(event, StatusUpdate):
                if event.error_code:
                    event.error_code = self.redactor.text(event.error_code)
                if event.error_reason:
                    event.error_reason = self.redactor.text(event.error_reason)
        return out

    def share_secrets(self, others: Iterable[str]) -> None:
        """Mask the config's other secrets too (the gateway passes them all), e.g. an API token sent to a
        callback route by mistake or by an attacker, in this channel's logs and stored raw data."""
        self.redactor = Redactor(self.secrets(), self.basic_auth_pairs(), self.secret_headers(), others)
        redact_library_logs(self.redactor)

    async def send(self, message: OutgoingMessage, log: ChannelLog) -> SendResult:
        """Deliver `message` to the aggregator; raise a `SendError` or return the result."""
        raise NotImplementedError(f"adapter {self.name!r} cannot send")

    async def start(self, inbound: InboundSink) -> None:
        """Open long-lived connections before `smsgate serve` takes traffic (default: none); what arrives on them
        goes to `inbound`. Must not block on a peer that is down: reconnect in the background instead."""

    async def stop(self) -> None:
        """Close every connection (`smsgate serve` stopping, or the gateway closing); safe to call twice."""

    def health(self) -> str | None:
        """None when this channel can send now, else a short reason (e.g. its bind is down); the worker waits."""
        return None

    def probe_url(self) -> str | None:
        """The URL whose host and port the default `probe` connects to (an HTTP adapter's send URL, or its
        `health_url`); None when this channel has nothing to connect to."""
        return None

    async def probe(self) -> str | None:
        """Try the aggregator now, for `smsgate check --live` (a short bind, credentials included where the
        aggregator can check them without sending): None when fine, else the reason. The default connects to
        `probe_url()`'s host and port (TCP) and closes."""
        url = self.probe_url()
        if url is None:
            return None
        return await self.http.reach(url, timeout=min(self.settings.timeout, 10.0))

    async def check_link(self) -> tuple[str, str] | None:
        """The link probe's evidence, every `health_interval` seconds under `smsgate serve`: ("up", what answered)
        or ("down", why not), or None when there is nothing to tell (no URL to try; a bind another instance
        holds). Keep it cheap and quiet (no credentials, nothing the aggregator logs as an error): the default
        runs `probe()` when there is a `probe_url()` or an overridden `probe`."""
        if self.probe_url() is None and type(self).probe is Adapter.probe:
            return None
        reason = await self.probe()
        if reason is not None:
            return "down", reason
        url = self.probe_url()
        return "up", (f"{urllib.parse.urlsplit(url).netloc} reachable" if url else "probe passed")

    def secrets(self) -> list[str]:
        """Every value that must never appear in logs: all `SecretStr` fields of the settings by default."""
        values = []
        for name in type(self.settings).model_fields:
            value = getattr(self.settings, name)
            if isinstance(value, SecretStr) and value.get_secret_value():
                values.append(value.get_secret_value())
        return values

    def basic_auth_pairs(self) -> Iterable[tuple[str, str]]:
        """(user, secret) pairs sent as basic auth, so their base64 form is masked too."""
        return ()

    def secret_headers(self) -> Iterable[str]:
        """Names of headers carrying a credential, masked whole in channel logs (even a near-miss of a secret)."""
        return ()

    def new_log(self, kind: str, message_id: str | None = None, *,
                going_out: Callable[[], Awaitable[None]] | None = None) -> ChannelLog:
        """A channel log for this channel that redacts this channel's secrets; for a send, `going_out` is the
        gateway's durable mark (see `ChannelLog.going_out`)."""
        return ChannelLog(channel=self.channel.name, kind=kind, redactor=self.redactor, message_id=message_id,
                          on_going_out=going_out)

    def callback_url(self, action: str, **query: str) -> str:
        """The public URL of this channel's `action` route, with `query` appended (values URL-encoded)."""
        url = f"{self.public_url}/c/{urllib.parse.quote(self.channel.name, safe='')}/{action}"
        if query:
            url += "?" + urllib.parse.urlencode(query, safe="%")
        return url

    def parse_number(self, raw: str, country: str | None = None) -> str:
        """Normalise an inbound number with the channel country; a 400 when it is not a possible number."""
        try:
            return normalize_number(raw, country or self.settings.country, allow_short=self.allow_short_codes,
                                    allow_sender_id=self.allow_sender_ids)
        except InvalidNumber as exc:
            raise RequestRejected(str(exc)) from None

    def outgoing_number(self, raw: str) -> str:
        """Normalise a recipient for sending; a MessageInvalid when it is not a possible number."""
        try:
            return normalize_number(raw, self.settings.country, allow_short=self.allow_short_codes,
                                    allow_sender_id=self.allow_sender_ids)
        except InvalidNumber as exc:
            raise MessageInvalid(str(exc)) from None

    def partly_sent(self, message: OutgoingMessage, exc: SendError, external_ids: list[str], segments: int,
                    log: ChannelLog, *, by: str, unit: str = "part(s)") -> SendResult:
        """Failed, not errored, once `by` accepted some parts (`external_ids`): a retry would send them twice;
        their ids are kept so their delivery reports still find the message, and a stopped contact opts out."""
        reason = self.redactor.text(f"{exc.reason} (after {by} accepted {len(external_ids)} {unit} of this "
                                    "message; not retried, which would send those again)")
        log.error(f"{exc.code}: {reason}")
        events: list[Event] = [OptOut(message.channel, message.to, reason=exc.reason)] \
            if isinstance(exc, ContactStopped) else []
        return SendResult(Status.FAILED, external_ids=external_ids, segments=segments,
                          error_code=exc.ext_code or exc.code, error_reason=reason, events=events)

    def reply(self, action: str, events: list[Event], request: InboundRequest) -> Reply | None:
        """A literal answer for a successful request, or None for the gateway's JSON envelope."""
        return None

    def error_reply(self, action: str, error: RequestRejected, request: InboundRequest) -> Reply | None:
        """A literal answer for a rejected request, or None for the gateway's JSON error envelope."""
        return None
