"""SMPP send benchmark: smsgate's `smpp` channel vs a raw loop of the same PDU library, same window, same Jasmin.

    .venv/bin/python bench/smpp_send.py [--messages 1000] [--window 10] [--rounds 3] [--synchronous FULL]
                                        [--concurrency 64]

Starts a real Jasmin 0.11.0 (tests/support/peers: RabbitMQ, Redis, the upstream SMSC from Jasmin's sdist). In
alternating rounds (the median is reported) it sends N messages:
- raw:     one asyncio connection bound as a transmitter; submit_sm PDUs encoded by smpplib before timing,
           written back to back with at most `--window` unanswered, each submit_sm_resp decoded by smpplib for its
           message_id. No store, no channel log: the best this library can do on one bind at this window;
- smsgate: `Gateway.send` for each message (`--concurrency` sends in flight, as the serve worker runs them, while
           the bind's window still allows only `--window` unanswered submit_sm) through the long-lived bind
           `smsgate serve` would hold: text encoding, the durable store (claim, "sending" mark, outcome), the
           channel log.
- adapter: `SmppAdapter.send` alone on that bind (same concurrency): encoding, window, tps, retries, the trace in
           a channel log, but no store: how much of the gap is SMPP and how much the gateway's durable pipeline.
Receipts are off for all (registered_delivery 0) so neither run receives the other's. At the end it checks that
the upstream SMSC received every message.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the repository root, for tests.support

from smsgate import OutgoingMessage  # noqa: E402
from smsgate.host import Gateway, config_from_dict  # noqa: E402
from smsgate_smpp import SmppAdapter  # noqa: E402
from smsgate_smpp._pdu import decode, encode  # noqa: E402

from tests.support.peers import Jasmin  # noqa: E402

TEXT = "El amor es paciente. El amor es amable."
TO = "+250788123123"


async def raw(jasmin: Jasmin, n: int, window: int) -> float:
    """Messages per second of a bare pipelined loop on one transmitter bind."""
    reader, writer = await asyncio.open_connection("127.0.0.1", jasmin.smpp_port)

    async def read_pdu() -> bytes:
        head = await reader.readexactly(4)
        return head + await reader.readexactly(int.from_bytes(head, "big") - 4)

    writer.write(encode("bind_transmitter", 1, system_id=jasmin.system_id, password=jasmin.password,
                        system_type="", interface_version=0x34))
    assert decode(await read_pdu()).status == 0
    pdus = [encode("submit_sm", i + 2, source_addr_ton=0, source_addr_npi=1, source_addr="2020", dest_addr_ton=1,
                   dest_addr_npi=1, destination_addr=TO[1:], data_coding=0, short_message=TEXT.encode())
            for i in range(n)]
    room = asyncio.Semaphore(window)
    ids: list[str] = []

    async def read_all() -> None:
        while len(ids) < n:
            pdu = decode(await read_pdu())
            if pdu.command == "submit_sm_resp":
                assert pdu.status == 0, pdu
                ids.append(pdu.text("message_id"))
                room.release()

    started = time.perf_counter()
    reading = asyncio.create_task(read_all())
    for data in pdus:
        await room.acquire()
        writer.write(data)
    await reading
    elapsed = time.perf_counter() - started
    writer.write(encode("unbind", n + 2))
    writer.close()
    return n / elapsed


async def through_smsgate(jasmin: Jasmin, n: int, window: int, folder: Path, synchronous: str,
                          concurrency: int, adapter_only: bool = False) -> float:
    """Messages per second of Gateway.send over a started smpp channel (the serve path): `concurrency` sends at
    once (their store writes overlap), at most `window` submit_sm unanswered on the bind."""
    config = config_from_dict({
        "gateway": {"database": str(folder / f"{uuid.uuid4().hex}.sqlite3"), "synchronous": synchronous},
        "channels": {"sm": {"adapter": "smpp", "address": "2020", "country": "RW", "host": "127.0.0.1",
                            "port": jasmin.smpp_port, "system_id": jasmin.system_id, "password": jasmin.password,
                            "window": window, "receipts": False, "bind_mode": "transmitter+receiver"}}},
        {"smpp": SmppAdapter})
    async with Gateway(config) as gateway:
        await gateway.start_adapters()
        while gateway.health():
            await asyncio.sleep(0.05)
        messages = [OutgoingMessage("sm", TO, TEXT, from_="2020") for _ in range(n)]
        room = asyncio.Semaphore(concurrency)
        adapter = gateway.adapters["sm"]

        async def one(message: OutgoingMessage) -> None:
            async with room:
                if adapter_only:
                    result = await adapter.send(message, adapter.new_log("send", message.id))
                    assert result.status == "wired", result
                else:
                    outcome = await gateway.send(message)
                    assert outcome.message.status == "wired", outcome.message

        started = time.perf_counter()
        await asyncio.gather(*(one(m) for m in messages))
        return n / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--window", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--synchronous", default="FULL", choices=["FULL", "NORMAL"])
    parser.add_argument("--concurrency", type=int, default=64, help="smsgate sends in flight (the SMPP window "
                                                                    "still caps unanswered submit_sm)")
    args = parser.parse_args()
    results: dict[str, list[float]] = {"raw": [], "adapter": [], "smsgate": []}
    with Jasmin(log_level="WARNING") as jasmin, tempfile.TemporaryDirectory() as tmp:
        asyncio.run(raw(jasmin, 200, args.window))  # warm Jasmin, RabbitMQ and the upstream up
        for _ in range(args.rounds):
            results["raw"].append(asyncio.run(raw(jasmin, args.messages, args.window)))
            results["adapter"].append(asyncio.run(through_smsgate(
                jasmin, args.messages, args.window, Path(tmp), args.synchronous, args.concurrency, True)))
            results["smsgate"].append(asyncio.run(through_smsgate(jasmin, args.messages, args.window, Path(tmp),
                                                                  args.synchronous, args.concurrency)))
        expected = 200 + 3 * args.rounds * args.messages
        deadline = time.monotonic() + 60
        while len(jasmin.submits()) < expected and time.monotonic() < deadline:
            time.sleep(0.5)
        received = len(jasmin.submits())
    print(f"smpp send: {args.messages} messages x {args.rounds} rounds per mode, window {args.window}, "
          f"smsgate sends in flight {args.concurrency}, store synchronous={args.synchronous}, "
          "real Jasmin 0.11.0 on 127.0.0.1 (median of rounds)")
    medians = {}
    for mode, values in results.items():
        medians[mode] = statistics.median(values)
        rounds = ", ".join(f"{v:.0f}" for v in values)
        ratio = "" if mode == "raw" else (f"   ratio {mode}/raw = {medians[mode] / medians['raw']:.3f}"
                                          "  (target >= 0.9)")
        print(f"  {mode:<8} {medians[mode]:8.1f} msg/s  (rounds: {rounds}){ratio}")
    print(f"  upstream SMSC received {received} of {expected} submit_sm")


if __name__ == "__main__":
    main()
