"""A minimal SMPP 3.4 SMSC on 127.0.0.1 for testing Kannel's `smsc = smpp` group (ours; standard library only).

kannel-extras' `drive_smpp` is wired to Kannel's own self-test and answers no transceiver bind, so it cannot stand
in for an aggregator. This one does just what an SMSC does for one ESME connection: answers `bind_transceiver`
(checking system_id/password), `enquire_link`, `submit_sm` (recording each, answering a message id) and `unbind`,
and can push `deliver_sm` PDUs: a mobile-originated message, or a delivery receipt for a recorded submit.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Any

BIND_TRANSCEIVER = 0x00000009
SUBMIT_SM = 0x00000004
DELIVER_SM = 0x00000005
UNBIND = 0x00000006
ENQUIRE_LINK = 0x00000015
GENERIC_NACK = 0x80000000
RESP = 0x80000000
ESME_RINVPASWD = 0x0000000E


def _cstring(body: bytes, at: int) -> tuple[bytes, int]:
    end = body.index(b"\x00", at)
    return body[at:end], end + 1


@dataclass
class Submit:
    """One submit_sm as the SMSC received it."""

    message_id: str
    source: str
    destination: str
    esm_class: int
    registered_delivery: int
    data_coding: int
    short_message: bytes

    @property
    def text(self) -> str:
        """The text by data_coding (8: UCS-2 big-endian; 0/1/3: single-byte)."""
        if self.data_coding == 8:
            return self.short_message.decode("utf-16-be")
        return self.short_message.decode("latin-1")


def parse_submit(body: bytes, message_id: str) -> Submit:
    """The fields of a submit_sm body that a test checks."""
    _service, at = _cstring(body, 0)
    at += 2  # source_addr_ton, source_addr_npi
    source, at = _cstring(body, at)
    at += 2  # dest_addr_ton, dest_addr_npi
    destination, at = _cstring(body, at)
    esm_class = body[at]
    at += 3  # esm_class, protocol_id, priority_flag
    _schedule, at = _cstring(body, at)
    _validity, at = _cstring(body, at)
    registered_delivery = body[at]
    data_coding = body[at + 2]
    length = body[at + 4]
    short = body[at + 5:at + 5 + length]
    return Submit(message_id, source.decode(), destination.decode(), esm_class, registered_delivery, data_coding,
                  short)


@dataclass
class FakeSmppSmsc:
    """Listens on a free 127.0.0.1 port; serves one ESME connection at a time in a thread."""

    system_id: str
    password: str
    port: int = 0
    binds: list[dict[str, Any]] = field(default_factory=list)
    submits: list[Submit] = field(default_factory=list)
    pdus: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", self.port))
        self.port = self._server.getsockname()[1]
        self._conn: socket.socket | None = None
        self._lock = threading.Lock()
        self._seq = 0x7000_0000
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="fake-smpp", daemon=True)

    def __enter__(self) -> FakeSmppSmsc:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._server.close()
        with self._lock:
            if self._conn is not None:
                self._conn.close()
        self._thread.join(5)

    # -- the connection -------------------------------------------------------------------------------

    def _send(self, command_id: int, status: int, seq: int, body: bytes = b"") -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.sendall(struct.pack(">IIII", 16 + len(body), command_id, status, seq) + body)

    def _read(self, conn: socket.socket, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return data

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            with self._lock:
                self._conn = conn
            try:
                while True:
                    length, command_id, _status, seq = struct.unpack(">IIII", self._read(conn, 16))
                    self._handle(command_id, seq, self._read(conn, length - 16))
            except (ConnectionError, OSError, struct.error):
                pass
            finally:
                with self._lock:
                    self._conn = None
                conn.close()

    def _handle(self, command_id: int, seq: int, body: bytes) -> None:
        self.pdus.append(command_id)
        if command_id == BIND_TRANSCEIVER:
            system_id, at = _cstring(body, 0)
            password, at = _cstring(body, at)
            system_type, at = _cstring(body, at)
            self.binds.append({"system_id": system_id.decode(), "password": password.decode(),
                               "system_type": system_type.decode(), "interface_version": body[at]})
            ok = system_id.decode() == self.system_id and password.decode() == self.password
            self._send(BIND_TRANSCEIVER | RESP, 0 if ok else ESME_RINVPASWD, seq, b"fakesmpp\x00")
        elif command_id == ENQUIRE_LINK:
            self._send(ENQUIRE_LINK | RESP, 0, seq)
        elif command_id == SUBMIT_SM:
            message_id = str(4711 + len(self.submits))
            self.submits.append(parse_submit(body, message_id))
            self._send(SUBMIT_SM | RESP, 0, seq, message_id.encode() + b"\x00")
        elif command_id == UNBIND:
            self._send(UNBIND | RESP, 0, seq)
        elif command_id & RESP:
            pass  # deliver_sm_resp and the like
        else:
            self._send(GENERIC_NACK, 0x00000003, seq)  # ESME_RINVCMDID

    # -- pushing to the ESME ---------------------------------------------------------------------------

    def deliver(self, source: str, destination: str, short_message: bytes, *, data_coding: int = 0,
                esm_class: int = 0) -> None:
        """Send a deliver_sm (an MO, or a delivery receipt with esm_class 0x04)."""
        self._seq += 1
        body = (b"\x00" + bytes([1, 1]) + source.encode() + b"\x00" + bytes([0, 1]) + destination.encode() + b"\x00"
                + bytes([esm_class, 0, 0]) + b"\x00" + b"\x00" + bytes([0, 0, data_coding, 0, len(short_message)])
                + short_message)
        self._send(DELIVER_SM, 0, self._seq, body)

    def receipt(self, submit: Submit, stat: str = "DELIVRD", err: str = "000") -> None:
        """A delivery receipt for `submit`, in the SMPP 3.4 appendix B text format."""
        now = time.strftime("%y%m%d%H%M", time.gmtime())
        text = (f"id:{submit.message_id} sub:001 dlvrd:{'001' if stat == 'DELIVRD' else '000'} submit date:{now} "
                f"done date:{now} stat:{stat} err:{err} text:x").encode()
        self.deliver(submit.destination, submit.source, text, esm_class=0x04)

    def wait(self, predicate: Any, timeout: float = 10.0) -> Any:
        """Poll `predicate()` until it returns something truthy."""
        deadline = time.monotonic() + timeout
        while True:
            found = predicate()
            if found:
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(f"not seen within {timeout}s; PDUs so far: {[hex(p) for p in self.pdus]}")
            time.sleep(0.05)
