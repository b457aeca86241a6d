"""The `smpp` adapter: submit_sm for each part of a message, deliver_sm stored before it is acknowledged.

The bind it sends on and receives through is `_bind`'s; the fields of each PDU come from `_messages`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from typing import Any

from smsgate import (
    Adapter,
    ChannelLog,
    Fragment,
    InboundSink,
    IncomingMessage,
    OutgoingMessage,
    RequestRejected,
    SendError,
    SendResult,
    Status,
)
from smsgate.errors import ConnectionFailed, ResponseContentError, SentButUnanswered
from smsgate.http import with_retries

from ._bind import Bind
from ._messages import joined_mo, receipt_event, submits
from ._pdu import ESME_ROK, ESME_RX_T_APPN, Pdu, status_name
from ._session import ConnectionLost, Session, Tap
from ._settings import SmppSettings
from ._status import send_error
from ._text import decode_short_message, is_receipt, normalize_id, parse_concat

__all__ = ["SmppAdapter"]

log = logging.getLogger("smsgate.smpp")


class SmppAdapter(Adapter[SmppSettings]):
    """SMS over SMPP 3.4: submit_sm for MT, deliver_sm for receipts and MO, on a long-lived bind."""

    name = "smpp"
    settings_model = SmppSettings
    allow_short_codes = True
    allow_sender_ids = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = self.settings
        self.bind = Bind(self.channel.name, settings, on_deliver=self._on_deliver, new_log=self.new_log)
        self.where = self.bind.where
        self._inbound: InboundSink | None = None
        # core's throttle for the channel: with several instances on one PostgreSQL, tps holds across them all
        self._throttle = self.http.throttle(self.channel.name, settings.tps) if settings.tps else None

    @property
    def tap(self) -> Tap | None:
        """Called with every PDU the bind writes or reads (tests set it to record them)."""
        return self.bind.tap

    @tap.setter
    def tap(self, tap: Tap | None) -> None:
        self.bind.tap = tap

    # -- lifecycle: the bind's ------------------------------------------------------------------
    async def start(self, inbound: InboundSink) -> None:
        """Keep a bind open in the background for as long as the app runs (never blocks on the SMSC)."""
        self._inbound = inbound
        await self.bind.start(inbound)

    async def stop(self) -> None:
        """Unbind every session (long-lived or short) and stop reconnecting."""
        await self.bind.stop()

    def health(self) -> str | None:
        """None while bound; otherwise why not (only meaningful once started: a CLI send binds on demand)."""
        return self.bind.health()

    async def probe(self) -> str | None:
        """Bind as a transmitter and unbind: None when that works, else the reason."""
        return await self.bind.probe()

    # -- sending --------------------------------------------------------------------------------
    async def send(self, message: OutgoingMessage, log: ChannelLog) -> SendResult:
        """One submit_sm per part (in order; each retried alone on THROTTLED/MSGQFUL); every part's message_id
        becomes an external id. A refused later part fails the message without resending accepted ones."""
        fields, count = submits(self.settings, message)
        session = await self.bind.transmitter()
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
            session = await self.bind.transmitter() if index < len(fields) else session
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
                    log.refused()  # the PDU was never written
                    raise ConnectionFailed(exc.reason, not_taken=True) from None
            message_id = normalize_id(resp.text("message_id"))
            self._trace(log, fields, started, resp)
            if resp.status != ESME_ROK:
                error = send_error("submit_sm", resp.status, self.where)
                if error.not_taken:  # the SMSC answered that it did not take it (a throttle, a session state)
                    log.refused()
                raise error
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
                await inbound([receipt_event(self.channel.name, pdu)], clog)
            else:
                await self._mo(pdu, inbound, clog)
        except Exception as exc:  # storage failed: nothing was acknowledged, the SMSC delivers it again
            log.error("channel %s: deliver_sm not stored (%s: %s); answered ESME_RX_T_APPN", self.channel.name,
                      type(exc).__name__, exc)
            return ESME_RX_T_APPN
        return ESME_ROK

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
            await inbound.fragment(part, lambda parts: joined_mo(self.channel.name, parts, sender, to,
                                                                 self.settings.data_coding), clog)
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
