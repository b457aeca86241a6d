"""The upstream SMSC of bench/peers.py: a small, fast SMPP 3.4 server that every gateway binds to.

    .venv/bin/python bench/servers/smpp_stub.py SMPP_PORT CONTROL_PORT [--receipt-delay 0.25]

It accepts any bind (transceiver, transmitter, receiver) with any credentials, answers every submit_sm at once
with a submit_sm_resp whose message_id is a counter (decimal, unique across binds), answers enquire_link and
unbind, and counts submit_sm per bound system_id with the monotonic time of the first and the last
(CLOCK_MONOTONIC is one clock for every process on the machine, so the bench compares it with its own). A
submit_sm asking for a receipt on success (registered_delivery bit 0 set) gets one DELIVRD receipt
`--receipt-delay` seconds later: a deliver_sm with esm_class 0x04, the addresses swapped, the usual
`id:<id> sub:001 dlvrd:001 submit date:... done date:... stat:DELIVRD err:000 text:...` text and the
receipted_message_id and message_state TLVs, on the same bind if it is a transceiver, else on a receiver bind of
the same system_id.

smpplib (through smsgate_smpp._pdu, as the smpp adapter uses it) encodes and decodes every PDU except the two
on the hot path: a submit_sm is read by walking its C-strings and its submit_sm_resp is packed with struct,
both checked against smpplib when the server starts, so a mistake there stops it instead of skewing a result.

The control port takes one command per line and answers one line:
    STATS           JSON {system_id: {submits, receipt_asks, receipts, receipt_acks, binds, largest_read,
                    first, last}}
    RESET <id>      forget the counters of that system_id (its open binds stay counted); answers ok
`ceiling()` is the pipelined client bench/peers.py measures this server's own limit with.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import struct
import time
from dataclasses import asdict, dataclass

from smsgate_smpp._pdu import decode, encode

HEADER = struct.Struct(">LLLL")
SUBMIT_SM, SUBMIT_SM_RESP = 0x00000004, 0x80000004
DELIVER_SM_RESP, ENQUIRE_LINK, UNBIND = 0x80000005, 0x00000015, 0x00000006
GENERIC_NACK = 0x80000000
BINDS = {0x00000001: "receiver", 0x00000002: "transmitter", 0x00000009: "transceiver"}
ESME_RINVCMDID = 0x03
MAX_PDU = 64 * 1024

_ids = itertools.count(1)  # message ids: unique across every bind, so two gateways never see the same one


@dataclass
class Counters:
    """What one system_id did since its last RESET."""

    submits: int = 0
    receipt_asks: int = 0
    receipts: int = 0
    receipt_acks: int = 0
    binds: int = 0
    largest_read: int = 0  # most submit_sm in one read: 1 means the ESME never had two outstanding
    first: float = 0.0
    last: float = 0.0


STATS: dict[str, Counters] = {}
RECEIVERS: dict[str, list[Smsc]] = {}  # bound connections that can take a deliver_sm, by system_id


def submit_sm_resp(sequence: int, message_id: bytes) -> bytes:
    """A submit_sm_resp with status 0, packed directly (the hot path; checked against smpplib at start)."""
    return HEADER.pack(17 + len(message_id), SUBMIT_SM_RESP, 0, sequence) + message_id + b"\0"


def read_submit(buf: bytes, start: int) -> tuple[int, int, bytes, int, int, bytes, int, bytes]:
    """(source ton, npi, addr, dest ton, npi, addr, registered_delivery, short_message) of the submit_sm body at
    `start`, by walking its C-strings (the hot path; checked against smpplib at start)."""
    p = buf.index(b"\0", start) + 1  # service_type
    source_ton, source_npi = buf[p], buf[p + 1]
    end = buf.index(b"\0", p + 2)
    source = buf[p + 2:end]
    p = end + 1
    dest_ton, dest_npi = buf[p], buf[p + 1]
    end = buf.index(b"\0", p + 2)
    dest = buf[p + 2:end]
    p = buf.index(b"\0", end + 4) + 1  # esm_class, protocol_id, priority_flag, then schedule_delivery_time
    p = buf.index(b"\0", p) + 1  # validity_period
    registered = buf[p]
    length = buf[p + 4]  # after replace_if_present_flag, data_coding, sm_default_msg_id
    return source_ton, source_npi, source, dest_ton, dest_npi, dest, registered, buf[p + 5:p + 5 + length]


def self_check() -> None:
    """The two hand-packed paths agree with smpplib, or the stub does not start."""
    sample = encode("submit_sm", 7, service_type="", source_addr_ton=5, source_addr_npi=0, source_addr="Bench",
                    dest_addr_ton=1, dest_addr_npi=1, destination_addr="250788123123", esm_class=0,
                    registered_delivery=1, data_coding=0, short_message=b"hello there")
    assert read_submit(sample, 16) == (5, 0, b"Bench", 1, 1, b"250788123123", 1, b"hello there"), "read_submit"
    assert submit_sm_resp(9, b"123") == encode("submit_sm_resp", 9, message_id="123"), "submit_sm_resp"
    resp = decode(submit_sm_resp(9, b"123"))
    assert (resp.command, resp.sequence, resp.text("message_id")) == ("submit_sm_resp", 9, "123")


def receipt(sequence: int, message_id: bytes, submit: tuple[int, int, bytes, int, int, bytes, int, bytes]) -> bytes:
    """The DELIVRD deliver_sm for one submit_sm (encoded by smpplib)."""
    source_ton, source_npi, source, dest_ton, dest_npi, dest, _, short = submit
    now = time.strftime("%y%m%d%H%M")
    sample = short[:20].decode("latin-1") if short[:20].isascii() else ""
    text = (f"id:{message_id.decode()} sub:001 dlvrd:001 submit date:{now} done date:{now} stat:DELIVRD err:000 "
            f"text:{sample}")
    return encode("deliver_sm", sequence, service_type="", source_addr_ton=dest_ton, source_addr_npi=dest_npi,
                  source_addr=dest.decode("latin-1"), dest_addr_ton=source_ton, dest_addr_npi=source_npi,
                  destination_addr=source.decode("latin-1"), esm_class=0x04, data_coding=0,
                  short_message=text.encode("latin-1"), receipted_message_id=message_id.decode(), message_state=2)


class Smsc(asyncio.Protocol):
    """One ESME connection."""

    def __init__(self, receipt_delay: float) -> None:
        self.receipt_delay = receipt_delay
        self.buf = b""
        self.transport: asyncio.Transport | None = None
        self.system_id = ""
        self.bind = ""
        self.counters = Counters()
        self.sequence = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        if self.system_id:
            STATS.setdefault(self.system_id, Counters()).binds -= 1
            receivers = RECEIVERS.get(self.system_id, [])
            if self in receivers:
                receivers.remove(self)
        self.transport = None

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data if self.buf else data
        size, pos, out = len(buf), 0, []
        submits = asks = 0
        receipts: list[tuple[bytes, tuple[int, int, bytes, int, int, bytes, int, bytes]]] = []
        while size - pos >= 16:
            length, command, _status, sequence = HEADER.unpack_from(buf, pos)
            if not 16 <= length <= MAX_PDU:
                self.close()
                return
            if size - pos < length:
                break
            if command == SUBMIT_SM:
                message_id = str(next(_ids)).encode()
                out.append(submit_sm_resp(sequence, message_id))
                submits += 1
                fields = read_submit(buf, pos + 16)
                if fields[6] & 0x01:
                    asks += 1
                    receipts.append((message_id, fields))
            elif command == DELIVER_SM_RESP:
                if self.system_id:
                    STATS.setdefault(self.system_id, Counters()).receipt_acks += 1
            elif command == ENQUIRE_LINK:
                out.append(encode("enquire_link_resp", sequence))
            elif command in BINDS:
                out.append(self.bound(buf[pos:pos + length]))
            elif command == UNBIND:
                out.append(encode("unbind_resp", sequence))
                self.write(out)
                self.close()
                return
            elif command != GENERIC_NACK:
                out.append(encode("generic_nack", sequence, status=ESME_RINVCMDID))
            pos += length
        self.buf = buf[pos:]
        self.write(out)
        if submits:
            counters = STATS.setdefault(self.system_id, Counters())
            now = time.monotonic()
            if not counters.submits:
                counters.first = now
            counters.submits += submits
            counters.receipt_asks += asks
            counters.largest_read = max(counters.largest_read, submits)
            counters.last = now
        if receipts:
            loop = asyncio.get_running_loop()
            loop.call_later(self.receipt_delay, self.send_receipts, receipts)

    def bound(self, pdu: bytes) -> bytes:
        """Accept a bind of any kind, with any credentials."""
        request = decode(pdu)
        self.system_id = request.text("system_id")
        self.bind = request.command.removeprefix("bind_")
        STATS.setdefault(self.system_id, Counters()).binds += 1
        if self.bind in ("transceiver", "receiver"):
            RECEIVERS.setdefault(self.system_id, []).append(self)
        return encode(f"{request.command}_resp", request.sequence, system_id="benchstub")

    def send_receipts(self, receipts: list[tuple[bytes, tuple[int, int, bytes, int, int, bytes, int, bytes]]]
                      ) -> None:
        """The receipts of one batch of submit_sm, on this bind or a receiver bind of the same system_id."""
        target = self if self.bind == "transceiver" and self.transport else None
        if target is None:
            receivers = RECEIVERS.get(self.system_id, [])
            target = receivers[0] if receivers else None
        if target is None:
            return  # nowhere to deliver it: an SMSC would keep it, a stub just does not count it
        out = []
        for message_id, fields in receipts:
            target.sequence = target.sequence % 0x7FFFFFFF + 1
            out.append(receipt(target.sequence, message_id, fields))
        target.write(out)
        STATS.setdefault(self.system_id, Counters()).receipts += len(out)

    def write(self, out: list[bytes]) -> None:
        """Everything answered for one read, in one write."""
        if out and self.transport is not None:
            self.transport.write(b"".join(out) if len(out) > 1 else out[0])

    def close(self) -> None:
        """Drop the connection."""
        if self.transport is not None:
            self.transport.close()


async def control(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """The control port: STATS and RESET <system_id>, one per line."""
    try:
        while line := await reader.readline():
            command, _, arg = line.decode().strip().partition(" ")
            if command == "STATS":
                answer = json.dumps({name: asdict(c) for name, c in STATS.items()})
            elif command == "RESET":
                binds = STATS[arg].binds if arg in STATS else 0
                STATS[arg] = Counters(binds=binds)
                answer = "ok"
            else:
                answer = f"error: unknown command {command!r}"
            writer.write(answer.encode() + b"\n")
            await writer.drain()
    finally:
        writer.close()


async def serve(port: int, control_port: int, receipt_delay: float) -> None:
    """Serve SMPP on `port` and the control protocol on `control_port` (both 127.0.0.1) until cancelled."""
    loop = asyncio.get_running_loop()
    smsc = await loop.create_server(lambda: Smsc(receipt_delay), "127.0.0.1", port, backlog=256)
    ctl = await asyncio.start_server(control, "127.0.0.1", control_port)
    print("ready", flush=True)
    async with smsc, ctl:
        await asyncio.Event().wait()


async def ceiling(port: int, messages: int, window: int, system_id: str = "ceiling") -> float:
    """submit_sm per second of one pipelined transceiver bind with `window` unanswered at most: every PDU
    encoded by smpplib before timing, each read only as far as its header."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(encode("bind_transceiver", 1, system_id=system_id, password="x", system_type="",
                        interface_version=0x34))
    head = await reader.readexactly(16)
    length, _, status, _ = HEADER.unpack(head)
    await reader.readexactly(length - 16)
    if status:
        raise RuntimeError(f"the stub refused the bind: {status}")
    template = encode("submit_sm", 0, service_type="", source_addr_ton=0, source_addr_npi=1, source_addr="2020",
                      dest_addr_ton=1, dest_addr_npi=1, destination_addr="250788123123", esm_class=0,
                      registered_delivery=0, data_coding=0, short_message=b"El amor es paciente. El amor es amable.")
    pdus = [template[:12] + struct.pack(">L", i + 2) + template[16:] for i in range(messages)]
    started = time.perf_counter()
    sent = min(window, messages)
    writer.write(b"".join(pdus[:sent]))
    answered, buf = 0, b""
    while answered < messages:
        chunk = await reader.read(262144)
        if not chunk:
            raise RuntimeError(f"the stub closed the connection after {answered} answers")
        buf += chunk
        pos = 0
        while len(buf) - pos >= 16:
            length = int.from_bytes(buf[pos:pos + 4], "big")
            if len(buf) - pos < length:
                break
            if int.from_bytes(buf[pos + 4:pos + 8], "big") == SUBMIT_SM_RESP:
                answered += 1
            pos += length
        buf = buf[pos:]
        more = min(answered + window, messages) - sent
        if more > 0:
            writer.write(b"".join(pdus[sent:sent + more]))
            sent += more
    rate = messages / (time.perf_counter() - started)
    writer.write(encode("unbind", messages + 2))
    await writer.drain()
    writer.close()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", type=int)
    parser.add_argument("control_port", type=int)
    parser.add_argument("--receipt-delay", type=float, default=0.25, help="seconds between a submit_sm_resp and "
                                                                          "its DELIVRD receipt")
    args = parser.parse_args()
    self_check()
    try:
        asyncio.run(serve(args.port, args.control_port, args.receipt_delay))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
