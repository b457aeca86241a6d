"""smsgate adapter speaking SMPP 3.4 to an SMSC directly (an operator's SMSC, Jasmin, Kannel's SMPP server...).

`smsgate serve` keeps a long-lived bind per channel (transceiver, or a transmitter and a receiver), reconnects
with backoff and reports a bind that is down in /healthz, `smsgate check` and the channel log. A `smsgate send`
outside `serve` opens a short transmitter bind and unbinds when done. Delivery receipts and mobile-originated
messages arrive as deliver_sm on the long-lived bind; each deliver_sm_resp is written only after what it
carried is durably stored. README.md has the keys, a walkthrough against Jasmin and the differences from
reaching the same SMSC through Kannel.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import random
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Literal

import smsgate
from pydantic import Field, SecretStr, field_validator, model_validator
from smsgate import (
    Adapter,
    ChannelLog,
    ChannelSettings,
    Event,
    Fragment,
    Ignored,
    InboundSink,
    IncomingMessage,
    OutgoingMessage,
    RequestRejected,
    Secret,
    SendError,
    SendResult,
    Status,
    StatusUpdate,
)
from smsgate.errors import (
    ChannelConfigError,
    ConnectionFailed,
    MessageInvalid,
    RejectedWithReason,
    ResponseContentError,
    SentButUnanswered,
    Throttled,
)
from smsgate.http import with_retries
from smsgate.text import with_attachments

from ._pdu import _NAMES as STATUS_NAMES
from ._pdu import ESME_RMSGQFUL, ESME_ROK, ESME_RTHROTTLED, ESME_RX_T_APPN, Pdu, status_name
from ._session import BindRefused, ConnectionLost, Session, Tap
from ._text import (
    RECEIPT_STATUS,
    Part,
    decode_short_message,
    encode_parts,
    is_receipt,
    normalize_id,
    parse_concat,
    parse_receipt,
)

__all__ = [
    "RECEIPT_STATUS",
    "SmppAdapter",
    "SmppSettings",
    "send_error",
    "smsgate_register_adapters",
]

log = logging.getLogger("smsgate.smpp")

# command_status → the error class a refused submit_sm raises (the rest: RejectedWithReason)
_INVALID = {0x01, 0x0A, 0x0B, 0x42, 0x43, 0x48, 0x49, 0x50, 0x51, 0x61, 0x62, 0xC0, 0xC1, 0xC2, 0xC3, 0xC4}
_CONFIG = {0x0D, 0x0E, 0x0F, 0x15, 0x53}
_SESSION = {0x04, 0x05}  # the session is not in a state to submit: a new bind may succeed


def send_error(command: str, status: int, where: str) -> SendError:
    """The core error for a refused request: THROTTLED/MSGQFUL retryable, the others by kind; `ext_code` is
    the SMPP name (e.g. ESME_RINVDSTADR), the reason names it with its value."""
    name = STATUS_NAMES.get(status, f"0x{status:08X}")
    reason = f"{command} refused by {where}: {status_name(status)}"
    if status in (ESME_RTHROTTLED, ESME_RMSGQFUL):
        return Throttled(reason, ext_code=name)
    if status in _SESSION:
        return ConnectionFailed(reason, ext_code=name)
    if status in _INVALID:
        return MessageInvalid(reason, ext_code=name)
    if status in _CONFIG:
        return ChannelConfigError(reason, ext_code=name)
    return RejectedWithReason(reason, ext_code=name)


class SmppSettings(ChannelSettings):
    """Keys of an `smpp` channel (shared keys such as `address`, `country`, `timeout`, `max_attempts` come from
    ChannelSettings)."""

    host: str = Field(description="The SMSC's host name or IP address.")
    port: int = Field(2775, ge=1, le=65535, description="The SMSC's SMPP port.")
    system_id: str = Field(min_length=1, max_length=15, description="The ESME account (bind system_id).")
    password: Secret = Field(description="The bind password, at most 8 characters (masked in every log).")
    system_type: str = Field("", max_length=12, description="The bind system_type, if the SMSC wants one.")
    bind_mode: Literal["transceiver", "transmitter+receiver"] = Field(
        "transceiver", description="One transceiver bind, or a transmitter and a receiver bind side by side.")
    source_ton: int | None = Field(None, ge=0, le=255, description="source_addr_ton; default: 5 for a sender "
                                                                  "id with letters, 1 for +E.164, else 0.")
    source_npi: int | None = Field(None, ge=0, le=255, description="source_addr_npi; default: 0 for a sender id, "
                                                                  "1 (ISDN) otherwise.")
    dest_ton: int = Field(1, ge=0, le=255, description="dest_addr_ton (1: international, number sent without +).")
    dest_npi: int = Field(1, ge=0, le=255, description="dest_addr_npi (1: ISDN/E.164).")
    enquire_link_interval: float = Field(30.0, gt=0, description="Seconds of silence before an enquire_link "
                                                                 "checks the bind.")
    window: int = Field(10, ge=1, le=1000, description="Most submit_sm awaiting their submit_sm_resp at once (and the "
                                                       "serve worker's sends in flight, unless send_concurrency).")
    tps: float | None = Field(None, gt=0, description="Most submit_sm per second (each part counts).")
    data_coding: Literal[0, 1, 3] = Field(
        0, description="data_coding of GSM-7 texts: 0 SMSC default alphabet (GSM 03.38), 1 IA5/ASCII, 3 "
                       "Latin-1; also how an MO with data_coding 0 is read. Other texts go as UCS-2 (8).")
    long_message: Literal["udh", "sar", "payload"] = Field(
        "udh", description="How a long text travels: parts with a UDH, parts with SAR TLVs, or one "
                           "submit_sm with the whole text in message_payload.")
    receipts: bool = Field(True, description="Ask for delivery receipts (registered_delivery 1).")
    max_binds: int | None = Field(None, ge=1, le=100, description="Most `smsgate serve` instances sharing the "
                                                                  "database that bind this channel at once "
                                                                  "(a lease); none: no limit.")
    reconnect_max: float = Field(60.0, gt=0, description="Longest wait between reconnect attempts, in seconds "
                                                         "(backoff from 1 s, doubling, with jitter).")
    mo_redelivery_window: float = Field(
        600.0, ge=0, description="Seconds in which a deliver_sm identical to a stored MO is the SMSC redelivering "
                                 "it (SMPP MOs carry no id); 0 stores every one.")

    @field_validator("password")
    @classmethod
    def _password(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) > 8:
            raise ValueError("SMPP 3.4 passwords are at most 8 characters")
        return value


    @model_validator(mode="after")
    def _fill_the_window(self) -> SmppSettings:
        # the serve worker keeps as many sends in flight as the bind's window holds, unless told otherwise
        if self.send_concurrency is None:
            object.__setattr__(self, "send_concurrency", self.window)
        return self


class SmppAdapter(Adapter[SmppSettings]):
    """SMS over SMPP 3.4: submit_sm for MT, deliver_sm for receipts and MO, on a long-lived bind."""

    name = "smpp"
    settings_model = SmppSettings
    allow_short_codes = True
    allow_sender_ids = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = self.settings
        self.where = f"{settings.host}:{settings.port}"
        self.tap: Tap | None = None  # set by tests to record every PDU
        self.holder = str(uuid.uuid4())
        self._inbound: InboundSink | None = None
        self._tx: Session | None = None  # what send() uses
        self._sessions: list[Session] = []
        self._runner: asyncio.Task[None] | None = None
        self._short_lock = asyncio.Lock()
        self._down: str | None = "not bound yet"
        # core's throttle for the channel: with several instances on one PostgreSQL, tps holds across them all
        self._throttle = self.http.throttle(self.channel.name, settings.tps) if settings.tps else None
        self._stopping = False

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self, inbound: InboundSink) -> None:
        """Keep a bind open in the background for as long as the app runs (never blocks on the SMSC)."""
        self._inbound = inbound
        self._stopping = False
        self._runner = asyncio.create_task(self._run(), name=f"smpp-bind-{self.channel.name}")

    async def stop(self) -> None:
        """Unbind every session (long-lived or short) and stop reconnecting."""
        self._stopping = True
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await runner
        await self._close_sessions()
        if self._inbound is not None and self.settings.max_binds:
            with contextlib.suppress(Exception):
                await self._release()

    def health(self) -> str | None:
        """None while bound; otherwise why not (only meaningful once started: a CLI send binds on demand)."""
        if self._inbound is None:
            return None
        return self._down

    async def probe(self) -> str | None:
        """Bind as a transmitter and unbind: None when that works, else the reason."""
        try:
            session = await self._open("transmitter")
        except (BindRefused, ConnectionLost) as exc:
            return str(exc)
        await session.close()
        return None

    def _session(self, bind: str) -> Session:
        settings = self.settings
        return Session(settings.host, settings.port, bind=bind, system_id=settings.system_id,
                       password=settings.password.get_secret_value(), system_type=settings.system_type,
                       window=settings.window, timeout=settings.timeout,
                       enquire_link_interval=settings.enquire_link_interval, on_deliver=self._on_deliver,
                       tap=self.tap)

    async def _open(self, bind: str) -> Session:
        session = self._session(bind)
        await session.open()
        return session

    async def _close_sessions(self) -> None:
        sessions, self._sessions = self._sessions, []
        self._tx = None
        for session in sessions:
            with contextlib.suppress(Exception):
                await session.close()

    async def _record(self, kind: str, error: str | None = None, detail: str = "") -> None:
        """A channel log for a bind going up or down (`smsgate logs --errors` shows the downs)."""
        clog = self.new_log(kind)
        clog.trace("bind", f"smpp://{self.where}", {}, detail, error=error)
        if error:
            clog.error(error)
        if self._inbound is not None:
            with contextlib.suppress(Exception):
                await self._inbound.log(clog)

    async def _lease(self) -> bool:
        assert self._inbound is not None
        seconds = max(30.0, 3 * self.settings.enquire_link_interval)
        for slot in range(self.settings.max_binds or 0):
            if await self._inbound.lease(f"smpp-bind:{slot}", self.holder, seconds):
                return True
        return False

    async def _release(self) -> None:
        assert self._inbound is not None
        for slot in range(self.settings.max_binds or 0):
            await self._inbound.release(f"smpp-bind:{slot}", self.holder)

    async def _run(self) -> None:
        settings = self.settings
        delay = 1.0
        announced_down = False
        while not self._stopping:
            if settings.max_binds and not await self._lease():
                self._down = f"standby: max_binds={settings.max_binds} other instance(s) hold this channel's binds"
                await asyncio.sleep(min(10.0, settings.enquire_link_interval))
                continue
            binds = ["transceiver"] if settings.bind_mode == "transceiver" else ["transmitter", "receiver"]
            try:
                self._sessions = []
                for bind in binds:
                    self._sessions.append(await self._open(bind))
            except (BindRefused, ConnectionLost) as exc:
                await self._close_sessions()
                self._down = f"bind down: {exc}"
                if not announced_down:
                    await self._record("bind", self._down)
                    announced_down = True
                log.warning("channel %s: %s; retrying in %.0fs", self.channel.name, self._down, delay)
                await asyncio.sleep(delay * random.uniform(0.8, 1.0))
                delay = min(delay * 2, settings.reconnect_max)
                continue
            self._tx = self._sessions[0]
            self._down = None
            delay = 1.0
            announced_down = False
            await self._record("bind", detail=f"bound {' + '.join(binds)} as {settings.system_id}")
            await self._hold()
            if self._stopping:
                break
            reasons = "; ".join(s.close_reason for s in self._sessions if s.closed.is_set())
            self._down = f"bind down: {reasons or 'connection closed'}"
            await self._close_sessions()
            await self._record("bind", self._down)
            announced_down = True

    async def _hold(self) -> None:
        """Wait until a session closes, renewing the lease meanwhile."""
        settings = self.settings
        waits = [asyncio.ensure_future(s.closed.wait()) for s in self._sessions]
        try:
            while True:
                done, _ = await asyncio.wait(waits, timeout=10.0, return_when=asyncio.FIRST_COMPLETED)
                if done:
                    return
                if settings.max_binds and not await self._lease():
                    log.warning("channel %s: lost the bind lease; unbinding", self.channel.name)
                    return
        finally:
            for wait in waits:
                wait.cancel()

    async def _transmitter(self) -> Session:
        """The bound session to submit on: the long-lived one, or a short transmitter bind for a CLI send."""
        if self._inbound is not None:
            if self._tx is None or not self._tx.bound:
                raise ConnectionFailed(f"not bound to {self.where}: {self._down}")
            return self._tx
        async with self._short_lock:
            if self._tx is None or not self._tx.bound:
                try:
                    self._tx = await self._open("transmitter")
                except BindRefused as exc:
                    raise send_error(exc.command, exc.status, self.where) from None
                except ConnectionLost as exc:
                    raise ConnectionFailed(exc.reason) from None
                self._sessions = [self._tx]
            return self._tx

    # -- sending --------------------------------------------------------------------------------
    def addresses(self, message: OutgoingMessage) -> dict[str, Any]:
        """source/destination address fields of a submit_sm for `message`."""
        settings = self.settings
        source = message.from_ or settings.address
        digits = source.lstrip("+")
        alphanumeric = bool(source) and not digits.isdigit()
        source_ton = settings.source_ton if settings.source_ton is not None else (
            5 if alphanumeric else 1 if source.startswith("+") else 0)
        source_npi = settings.source_npi if settings.source_npi is not None else (0 if alphanumeric else 1)
        destination = message.to.lstrip("+") if settings.dest_ton == 1 else message.to
        return {"source_addr_ton": source_ton, "source_addr_npi": source_npi,
                "source_addr": digits if not alphanumeric else source, "dest_addr_ton": settings.dest_ton,
                "dest_addr_npi": settings.dest_npi, "destination_addr": destination}

    def submits(self, message: OutgoingMessage) -> tuple[list[dict[str, Any]], int]:
        """The submit_sm fields of each part of `message`, and its segment count."""
        settings = self.settings
        text = with_attachments(message.text, message.attachments)
        try:
            parts, count = encode_parts(text, message.id, data_coding=settings.data_coding,
                                        method=settings.long_message)
        except ValueError as exc:
            raise MessageInvalid(str(exc)) from None
        common = {**self.addresses(message), "registered_delivery": 1 if settings.receipts else 0,
                  "priority_flag": 1 if message.high_priority else 0}
        return [self._fields(part, common) for part in parts], count

    @staticmethod
    def _fields(part: Part, common: dict[str, Any]) -> dict[str, Any]:
        return {**common, "esm_class": part.esm_class, "data_coding": part.data_coding,
                "short_message": part.short_message, **part.tlvs}

    async def send(self, message: OutgoingMessage, log: ChannelLog) -> SendResult:
        """One submit_sm per part (in order; each retried alone on THROTTLED/MSGQFUL); every part's message_id
        becomes an external id. A refused later part fails the message without resending accepted ones."""
        fields, count = self.submits(message)
        session = await self._transmitter()
        external_ids: list[str] = []
        for index, part in enumerate(fields, start=1):
            try:
                external_ids.append(await self._submit(session, part, log))
            except SendError as exc:
                if not external_ids:
                    raise
                return SendResult(Status.FAILED, external_ids=external_ids, segments=count,
                                  error_code=exc.ext_code or exc.code,
                                  error_reason=f"part {index} of {len(fields)}: {exc.reason} (parts 1-{index - 1} "
                                               "were accepted and are not sent again)")
            session = await self._transmitter() if index < len(fields) else session
        return SendResult(Status.WIRED, external_ids=external_ids, segments=count)

    async def _submit(self, session: Session, fields: dict[str, Any], log: ChannelLog) -> str:
        settings = self.settings

        async def attempt() -> str:
            if self._throttle is not None:
                await self._throttle.wait()
            # durable "sending" mark before the PDU leaves, and before a window slot is taken: a slot never waits
            # for a commit
            await log.going_out()
            async with session.window:
                started = time.perf_counter()
                try:
                    resp = await session.request("submit_sm", **fields)
                except ConnectionLost as exc:
                    self._trace(log, fields, started, error=exc.reason)
                    if exc.maybe_sent:  # the SMSC may have it: retried only where the channel allows a duplicate
                        raise SentButUnanswered(exc.reason) from None
                    raise ConnectionFailed(exc.reason) from None
            message_id = normalize_id(resp.text("message_id"))
            self._trace(log, fields, started, resp)
            if resp.status != ESME_ROK:
                raise send_error("submit_sm", resp.status, self.where)
            if not message_id:
                raise ResponseContentError(f"submit_sm_resp from {self.where} has no message_id")
            return message_id

        return await with_retries(settings, attempt)

    def _trace(self, log: ChannelLog, fields: dict[str, Any], started: float, resp: Pdu | None = None,
               error: str | None = None) -> None:
        shown = {k: (v.hex() if isinstance(v, bytes) else v) for k, v in fields.items()}
        answer = json.dumps({"command_status": status_name(resp.status), "message_id": resp.text("message_id")}
                            ) if resp else ""
        log.trace("submit_sm", f"smpp://{self.where}", {}, json.dumps(shown), resp.status if resp else None,
                  response_body=answer, elapsed_ms=(time.perf_counter() - started) * 1000, error=error)

    # -- receiving ------------------------------------------------------------------------------
    async def _on_deliver(self, pdu: Pdu) -> int:
        """Store what a deliver_sm carries; its deliver_sm_resp gets the status returned (after the commit)."""
        inbound = self._inbound
        if inbound is None:  # a short bind has nowhere durable to put it: the SMSC must deliver it again
            return ESME_RX_T_APPN
        clog = self.new_log("deliver_sm")
        fields = {k: (v.hex() if isinstance(v, bytes) and k == "short_message" else
                      v.decode("latin-1") if isinstance(v, bytes) else v) for k, v in pdu.fields.items()}
        clog.trace("deliver_sm", f"smpp://{self.where}", {}, json.dumps(fields, default=str), ESME_ROK)
        esm_class = int(pdu.fields.get("esm_class") or 0)
        try:
            if is_receipt(esm_class):
                await inbound([self._receipt(pdu)], clog)
            else:
                await self._mo(pdu, inbound, clog)
        except Exception as exc:  # storage failed: nothing was acknowledged, the SMSC delivers it again
            log.error("channel %s: deliver_sm not stored (%s: %s); answered ESME_RX_T_APPN", self.channel.name,
                      type(exc).__name__, exc)
            return ESME_RX_T_APPN
        return ESME_ROK

    def _receipt(self, pdu: Pdu) -> Event:
        short = pdu.fields.get("short_message") or pdu.fields.get("message_payload") or b""
        text = short.decode("latin-1") if isinstance(short, bytes) else str(short)
        receipt = parse_receipt(text, pdu.fields)
        raw = {"text": text, "message_state": pdu.fields.get("message_state")}
        if receipt is None:
            return Ignored(f"delivery receipt without a message id: {text[:120]!r}", error=True)
        status = RECEIPT_STATUS.get(receipt.stat)
        if status is None:
            return Ignored(f"delivery receipt for {receipt.message_id} with unknown stat {receipt.stat!r}",
                           error=True)
        failed = status is Status.FAILED
        return StatusUpdate(self.channel.name, status, external_id=receipt.message_id,
                            error_code=receipt.stat if failed else None,
                            error_reason=f"receipt stat:{receipt.stat} err:{receipt.err}" if failed else None,
                            raw={**raw, **receipt.fields})

    def _sender(self, pdu: Pdu) -> str:
        source = pdu.text("source_addr")
        if pdu.fields.get("source_addr_ton") == 1 and source.isdigit():
            source = "+" + source
        try:
            return self.parse_number(source)
        except RequestRejected:
            return source  # an address we cannot normalise is still the sender: keep it as it came

    async def _mo(self, pdu: Pdu, inbound: InboundSink, clog: ChannelLog) -> None:
        short = pdu.fields.get("short_message") or b""
        payload = pdu.fields.get("message_payload")
        data = payload if not short and isinstance(payload, bytes) else short
        esm_class = int(pdu.fields.get("esm_class") or 0)
        concat, user_data = parse_concat(data, esm_class, pdu.fields)
        coding = int(pdu.fields.get("data_coding") or 0)
        sender, to = self._sender(pdu), pdu.text("destination_addr") or self.settings.address
        if concat is not None:
            part = Fragment(f"{sender}>{to}:{concat.reference}:{concat.total}", concat.index, concat.total,
                            {"hex": user_data.hex(), "data_coding": coding})
            await inbound.fragment(part, lambda parts: self._join(parts, sender, to), clog)
            return
        text = decode_short_message(user_data, coding, self.settings.data_coding)
        raw = {"data_coding": coding, "esm_class": esm_class, "short_message_hex": data.hex()}
        external_id = await self._mo_id(pdu, inbound)
        await inbound([IncomingMessage(self.channel.name, sender, text, to=to, external_id=external_id, raw=raw)],
                      clog)

    async def _mo_id(self, pdu: Pdu, inbound: InboundSink) -> str | None:
        """An id for an MO that an SMSC redelivering the same deliver_sm reproduces: its content's hash and the
        `mo_redelivery_window` it arrived in (the previous window's id, if stored, is the same MO)."""
        window = self.settings.mo_redelivery_window
        if not window:
            return None
        content = json.dumps({k: (v.hex() if isinstance(v, bytes) else v) for k, v in sorted(pdu.fields.items())},
                             default=str)
        digest = hashlib.sha256(content.encode()).hexdigest()[:32]
        slot = int(time.time() // window)
        current, previous = f"mo:{digest}:{slot}", f"mo:{digest}:{slot - 1}"
        known = await inbound.known([current, previous])
        return previous if previous in known else current

    def _join(self, parts: Sequence[Fragment], sender: str, to: str) -> list[Event]:
        """The MO made of its parts (runs in the store's transaction: quick and never raising)."""
        data = b"".join(bytes.fromhex(p.data["hex"]) for p in parts)
        coding = int(parts[0].data.get("data_coding", 0))
        text = decode_short_message(data, coding, self.settings.data_coding)
        total = parts[0].total
        digest = hashlib.sha256(data + parts[0].key.encode()).hexdigest()[:24]
        raw: dict[str, Any] = {"data_coding": coding, "parts": total, "user_data_hex": data.hex()}
        if len(parts) < total:
            raw["missing_parts"] = sorted(set(range(1, total + 1)) - {p.index for p in parts})
        return [IncomingMessage(self.channel.name, sender, text, to=to,
                                external_id=f"concat:{digest}:{int(time.time() * 1000)}", raw=raw)]


@smsgate.hookimpl
def smsgate_register_adapters(register: Callable[[type[Adapter[Any]]], None]) -> None:
    """Provide the `smpp` adapter."""
    register(SmppAdapter)
