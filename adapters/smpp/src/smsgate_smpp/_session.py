"""One SMPP session over asyncio: bind, a window of outstanding requests, enquire_link, inbound dispatch.

smpplib encodes and decodes the PDUs; this module only moves them. Requests wait for their response by
sequence number, so up to `window` submit_sm are in flight at once; the PDUs written in one turn of the event
loop (a window's submit_sm, a batch's deliver_sm_resp) leave in one send() call. The deliver_sm that arrive
together go to `on_deliver` concurrently (so their writes share one commit), and each deliver_sm_resp is
written only with the status `on_deliver` returned, i.e. after the adapter stored what it carried.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ._pdu import (
    ESME_RINVCMDID,
    ESME_ROK,
    ESME_RX_T_APPN,
    MAX_PDU,
    Pdu,
    PduError,
    command_id_of,
    decode,
    encode,
    sequence_of,
    status_name,
)

__all__ = ["BindRefused", "ConnectionLost", "Session"]

_DELIVER_BATCH = 100  # deliver_sm handled at once: an SMSC's window is rarely wider

log = logging.getLogger("smsgate.smpp")

Tap = Callable[[str, bytes], None]
"""Called with ("out" | "in", pdu bytes) for every PDU written or read (recording)."""


class ConnectionLost(Exception):
    """The session ended (or never opened); `maybe_sent` when a request was written and not answered."""

    def __init__(self, reason: str, *, maybe_sent: bool = False) -> None:
        self.reason, self.maybe_sent = reason, maybe_sent
        super().__init__(reason)


class BindRefused(Exception):
    """The SMSC answered the bind with an error status."""

    def __init__(self, command: str, status: int, where: str) -> None:
        self.command, self.status = command, status
        super().__init__(f"{command} refused by {where}: {status_name(status)}")


class Session:
    """A bound SMPP session; `open()` connects and binds, `request()` sends and awaits the response."""

    def __init__(self, host: str, port: int, *, bind: str, system_id: str, password: str, system_type: str = "",
                 window: int = 10, timeout: float = 30.0, enquire_link_interval: float = 30.0,
                 on_deliver: Callable[[Pdu], Awaitable[int]] | None = None, tap: Tap | None = None) -> None:
        self.host, self.port, self.bind = host, port, bind
        self.system_id, self._password, self.system_type = system_id, password, system_type
        self.timeout = timeout
        self.enquire_link_interval = enquire_link_interval
        self.on_deliver = on_deliver
        self.tap = tap
        self.window = asyncio.Semaphore(window)
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._unsent: list[bytes] | None = None
        self._sequence = 0
        self._pending: dict[int, asyncio.Future[Pdu]] = {}
        self._inbound: asyncio.Queue[Pdu | None] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._last_read = time.monotonic()
        self.closed = asyncio.Event()
        self.close_reason = "not bound yet"
        self.bound = False

    @property
    def where(self) -> str:
        """host:port, for messages."""
        return f"{self.host}:{self.port}"

    def _next_sequence(self) -> int:
        self._sequence = self._sequence % 0x7FFFFFFF + 1
        return self._sequence

    # -- opening and closing -------------------------------------------------------------------
    async def open(self) -> None:
        """Connect and bind; BindRefused with the SMSC's status, ConnectionLost when it cannot connect."""
        try:
            self._reader, self._writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), self.timeout)
        except (OSError, TimeoutError) as exc:
            detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            self.close_reason = f"cannot connect to {self.where}: {detail}"
            self.closed.set()
            raise ConnectionLost(self.close_reason) from None
        self._tasks = [asyncio.create_task(self._read_loop(), name=f"smpp-read-{self.where}"),
                       asyncio.create_task(self._deliver_loop(), name=f"smpp-deliver-{self.where}")]
        command = f"bind_{self.bind}"
        try:
            resp = await self.request(command, system_id=self.system_id, password=self._password,
                                      system_type=self.system_type, interface_version=0x34)
        except ConnectionLost:
            await self.abort(self.close_reason)
            raise
        if resp.status != ESME_ROK:
            await self.abort(f"{command} refused: {status_name(resp.status)}")
            raise BindRefused(command, resp.status, self.where)
        self.bound = True
        self.close_reason = ""
        self._tasks.append(asyncio.create_task(self._keepalive(), name=f"smpp-keepalive-{self.where}"))

    async def close(self) -> None:
        """Unbind politely (waiting briefly for unbind_resp), then drop the connection."""
        if self.bound and not self.closed.is_set():
            with contextlib.suppress(ConnectionLost, TimeoutError):
                await asyncio.wait_for(self.request("unbind"), min(self.timeout, 2.0))
        await self.abort("unbound")

    async def abort(self, reason: str) -> None:
        """Drop the connection now; every request still waiting fails with ConnectionLost."""
        if not self.closed.is_set():
            self.close_reason = reason
        self.bound = False
        self.closed.set()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionLost(f"connection to {self.where} lost ({self.close_reason}) "
                                                    "before the answer", maybe_sent=True))
        self._pending.clear()
        self._flush()  # an unbind_resp or a deliver_sm_resp written just before
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)
        self._inbound.put_nowait(None)
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current and not task.done():
                task.cancel()

    # -- requests --------------------------------------------------------------------------------
    def _write(self, data: bytes) -> None:
        writer = self._writer
        if writer is None or writer.is_closing():
            raise ConnectionLost(f"not connected to {self.where} ({self.close_reason})")
        if self.tap is not None:
            self.tap("out", data)
        # one system call per PDU was the send path's largest single cost: PDUs join until the loop's next turn
        if self._unsent is None:
            self._unsent = [data]
            asyncio.get_running_loop().call_soon(self._flush)
        else:
            self._unsent.append(data)

    def _flush(self) -> None:
        unsent, self._unsent = self._unsent, None
        writer = self._writer
        if unsent and writer is not None and not writer.is_closing():
            writer.write(b"".join(unsent))

    async def request(self, command: str, **fields: Any) -> Pdu:
        """Send one request and return its response (any status); ConnectionLost if none comes in `timeout`."""
        sequence = self._next_sequence()
        data = encode(command, sequence, **fields)
        future: asyncio.Future[Pdu] = asyncio.get_running_loop().create_future()
        self._pending[sequence] = future
        try:
            self._write(data)
            if self._writer is not None and self._writer.transport.get_write_buffer_size() > 65536:
                await self._writer.drain()
            return await asyncio.wait_for(future, self.timeout)
        except TimeoutError:
            await self.abort(f"no answer to {command} within {self.timeout:g}s")
            raise ConnectionLost(f"no answer to {command} from {self.where} within {self.timeout:g}s",
                                 maybe_sent=True) from None
        finally:
            self._pending.pop(sequence, None)

    # -- reading -----------------------------------------------------------------------------------
    async def _read_pdu(self) -> bytes:
        assert self._reader is not None
        head = await self._reader.readexactly(4)
        length = int.from_bytes(head, "big")
        if length < 16 or length > MAX_PDU:
            raise PduError(f"command_length {length} is not a PDU")
        return head + await self._reader.readexactly(length - 4)

    async def _read_loop(self) -> None:
        reason = "connection closed by the SMSC"
        try:
            while True:
                data = await self._read_pdu()
                self._last_read = time.monotonic()
                if self.tap is not None:
                    self.tap("in", data)
                await self._dispatch(data)
        except asyncio.CancelledError:
            raise
        except asyncio.IncompleteReadError:
            pass
        except (OSError, PduError) as exc:
            reason = f"{type(exc).__name__}: {exc}"
        await self.abort(reason)

    async def _dispatch(self, data: bytes) -> None:
        try:
            pdu = decode(data)
        except PduError as exc:
            sequence, command_id = sequence_of(data), command_id_of(data)
            if command_id & 0x80000000:  # a response we cannot read: fail its request rather than hang it
                future = self._pending.get(sequence)
                if future is not None and not future.done():
                    future.set_exception(ConnectionLost(f"unreadable answer from {self.where}: {exc}"))
                return
            log.warning("smpp %s: unreadable request (%s), answered generic_nack", self.where, exc)
            self._write(encode("generic_nack", sequence, status=ESME_RINVCMDID))
            return
        if pdu.is_response:
            future = self._pending.get(pdu.sequence)
            if future is not None and not future.done():
                future.set_result(pdu)
            return
        if pdu.command == "enquire_link":
            self._write(encode("enquire_link_resp", pdu.sequence))
        elif pdu.command == "unbind":
            self._write(encode("unbind_resp", pdu.sequence))
            await self.abort("the SMSC unbound")
        elif pdu.command == "deliver_sm":
            self._inbound.put_nowait(pdu)
        else:
            self._write(encode("generic_nack", pdu.sequence, status=ESME_RINVCMDID))

    async def _deliver_loop(self) -> None:
        while True:
            pdu = await self._inbound.get()
            if pdu is None or self.closed.is_set():
                return
            # the deliver_sm that arrived together (an SMSC's window of receipts) are stored concurrently, so
            # their writes share one commit; each is still answered only after its own storage returned
            batch = [pdu]
            while len(batch) < _DELIVER_BATCH and not self._inbound.empty():
                more = self._inbound.get_nowait()
                if more is None:
                    self._inbound.put_nowait(None)  # the end, after this batch
                    break
                batch.append(more)
            statuses = await asyncio.gather(*(self._handle(p) for p in batch))
            try:
                for done, status in zip(batch, statuses, strict=True):
                    self._write(encode("deliver_sm_resp", done.sequence, status=status, message_id=""))
            except ConnectionLost:
                return

    async def _handle(self, pdu: Pdu) -> int:
        if self.on_deliver is None:
            return ESME_RX_T_APPN
        try:
            return await self.on_deliver(pdu)
        except Exception:  # not stored: the SMSC must deliver it again
            log.exception("smpp %s: handling a deliver_sm failed", self.where)
            return ESME_RX_T_APPN

    async def _keepalive(self) -> None:
        while not self.closed.is_set():
            await asyncio.sleep(self.enquire_link_interval / 4)
            if time.monotonic() - self._last_read < self.enquire_link_interval:
                continue
            try:
                await self.request("enquire_link")
            except ConnectionLost:
                return  # request() aborted the session already
