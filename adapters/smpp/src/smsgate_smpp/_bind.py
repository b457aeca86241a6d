"""A channel's bind to its SMSC: connecting and binding, reconnecting with backoff, leases, health.

Under `smsgate serve` a background task keeps the bind up (one transceiver, or a transmitter and a receiver
side by side), reconnects with a doubling, jittered delay up to `reconnect_max`, and logs each time the bind
goes down or comes back. With `max_binds`, a lease in the shared store lets only that many instances bind the
channel at once; the others wait on standby. A send outside `serve` opens a short transmitter bind instead.
How messages become PDUs is the adapter's (`_adapter`, `_messages`, `_text`); moving PDUs over one connection,
with its window and enquire_link, is `_session`'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections.abc import Awaitable, Callable

from smsgate import ChannelLog, InboundSink
from smsgate.errors import ConnectionFailed

from ._pdu import Pdu
from ._session import BindRefused, ConnectionLost, Session, Tap
from ._settings import SmppSettings
from ._status import send_error

__all__ = ["Bind"]

log = logging.getLogger("smsgate.smpp")


class Bind:
    """The sessions a channel holds with its SMSC, and the task that keeps them bound while the app runs."""

    def __init__(self, channel: str, settings: SmppSettings, *, on_deliver: Callable[[Pdu], Awaitable[int]],
                 new_log: Callable[[str], ChannelLog]) -> None:
        self.channel, self.settings = channel, settings
        self.where = f"{settings.host}:{settings.port}"
        self.on_deliver = on_deliver  # each deliver_sm's handler: its answer is the deliver_sm_resp status
        self.new_log = new_log
        self.tap: Tap | None = None  # set by tests to record every PDU
        self.holder = str(uuid.uuid4())  # this instance's name in the bind leases
        self._inbound: InboundSink | None = None
        self._tx: Session | None = None  # what sends submit on
        self._sessions: list[Session] = []
        self._runner: asyncio.Task[None] | None = None
        self._short_lock = asyncio.Lock()
        self._down: str | None = "not bound yet"
        self._stopping = False

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self, inbound: InboundSink) -> None:
        """Keep a bind open in the background for as long as the app runs (never blocks on the SMSC)."""
        self._inbound = inbound
        self._stopping = False
        self._runner = asyncio.create_task(self._run(), name=f"smpp-bind-{self.channel}")

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

    async def transmitter(self) -> Session:
        """The bound session to submit on: the long-lived one, or a short transmitter bind for a CLI send."""
        if self._inbound is not None:
            if self._tx is None or not self._tx.bound:  # nothing is written: another channel may send it
                raise ConnectionFailed(f"not bound to {self.where}: {self._down}", not_taken=True)
            return self._tx
        async with self._short_lock:
            if self._tx is None or not self._tx.bound:
                try:
                    self._tx = await self._open("transmitter")
                except BindRefused as exc:  # a refused bind: no message was submitted
                    error = send_error(exc.command, exc.status, self.where)
                    error.not_taken = True
                    raise error from None
                except ConnectionLost as exc:  # connecting or binding failed: no submit_sm was written
                    raise ConnectionFailed(exc.reason, not_taken=True) from None
                self._sessions = [self._tx]
            return self._tx

    # -- sessions -------------------------------------------------------------------------------
    def _session(self, bind: str) -> Session:
        settings = self.settings
        return Session(settings.host, settings.port, bind=bind, system_id=settings.system_id,
                       password=settings.password.get_secret_value(), system_type=settings.system_type,
                       window=settings.window, timeout=settings.timeout,
                       enquire_link_interval=settings.enquire_link_interval, on_deliver=self.on_deliver,
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

    # -- leases ---------------------------------------------------------------------------------
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

    # -- keeping the bind up --------------------------------------------------------------------
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
                log.warning("channel %s: %s; retrying in %.0fs", self.channel, self._down, delay)
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
                    log.warning("channel %s: lost the bind lease; unbinding", self.channel)
                    return
        finally:
            for wait in waits:
                wait.cancel()
