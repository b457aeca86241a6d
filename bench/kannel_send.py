"""Kannel send benchmark: the `kannel` adapter vs a raw httpx loop, same sendsms requests, same real Kannel, same run.

    .venv/bin/python bench/kannel_send.py [--messages 2000] [--concurrency 32] [--rounds 3] [--dlr-mask 27]

Starts a real Kannel 1.4.5 (tests/peers.py: bearerbox + smsbox + fakesmsc on 127.0.0.1) and a tiny DLR sink that
Kannel's delivery reports go to (so DLR traffic flows as in production). Three ways of sending N messages with
`--concurrency` in flight, in alternating rounds (the median is reported):
- raw:     one pooled httpx.AsyncClient GETting the very URLs the adapter builds (built before timing);
- adapter: `KannelAdapter.send(message, channel_log)`: URL building, the shared client, retries, the redacted trace;
- gateway: `Gateway.send`: that plus the durable SQLite store (`--synchronous`, default FULL), the claim, status
  history, hooks.
At the end it checks that the fake SMSC received every message.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from _common import run_pool  # noqa: E402
from peers import Kannel, free_port  # noqa: E402

TEXT = "El amor es paciente. El amor es amable."
TO = "+250788123123"
FROM = "2020"


SINK = r"""
import asyncio, sys

count = 0


async def handle(reader, writer):
    global count
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            if length:
                await reader.readexactly(length)
            if head.startswith(b"GET /count "):  # the benchmark asking how many DLRs arrived so far
                body = str(count).encode()
            else:
                count += 1
                body = b"ok"
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s"
                         % (len(body), body))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", int(sys.argv[1]))
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # until the bench closes our stdin
    server.close()
    print(count, flush=True)


asyncio.run(main())
"""


class DlrSink:
    """A minimal keep-alive HTTP server answering 200 to Kannel's DLR callbacks, in its own process (so its work
    does not take the benchmark's GIL), stopped by closing its stdin; `count` is how many it answered."""

    def __init__(self) -> None:
        self.port = free_port()
        self.count = 0
        self.proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> DlrSink:
        self.proc = subprocess.Popen([sys.executable, "-c", SINK, str(self.port)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None and self.proc.stdout.readline().strip() == "ready"
        return self

    def current(self) -> int:
        """DLR callbacks answered so far."""
        return int(httpx.get(f"http://127.0.0.1:{self.port}/count", timeout=5).text)

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None and self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        try:
            self.count = int(self.proc.stdout.readline().strip() or 0)
            self.proc.wait(10)
        except (ValueError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()


def make_config(kannel: Kannel, public_url: str, workdir: Path, concurrency: int, dlr_mask: int,
                synchronous: str = "FULL"):
    from smsgate.host import config_from_dict, installed_adapters

    return config_from_dict({
        "gateway": {"database": str(workdir / f"bench-{uuid.uuid4().hex}.sqlite3"), "public_url": public_url,
                    "synchronous": synchronous},
        "channels": {"kn": {"adapter": "kannel", "address": FROM, "country": "RW", "send_url": kannel.sendsms_url,
                            "username": kannel.username, "password": kannel.password, "dlr_mask": dlr_mask,
                            "max_in_flight": concurrency, "max_attempts": 1}}}, installed_adapters())


def messages(n: int, tag: str):
    from smsgate import OutgoingMessage

    return [OutgoingMessage(channel="kn", to=TO, text=f"{TEXT} {tag} {i}", from_=FROM) for i in range(n)]


async def raw_rate(config, n: int, concurrency: int, tag: str) -> float:
    """The baseline: the adapter's own sendsms URLs, GET from one pooled httpx.AsyncClient."""
    from smsgate.host import open_gateway

    async with open_gateway(config) as gateway:  # only to build the URLs exactly as the adapter does
        adapter = gateway.adapters["kn"]
        urls = [adapter.sendsms_url(m) for m in messages(n, tag)]
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        async def one(i: int) -> None:
            response = await client.get(urls[i])
            if response.status_code != 202:
                raise RuntimeError(f"raw: HTTP {response.status_code} {response.text}")

        return await run_pool(n, concurrency, one)


async def adapter_rate(config, n: int, concurrency: int, tag: str) -> float:
    """`adapter.send` with a channel log per message (no store)."""
    from smsgate.host import open_gateway

    async with open_gateway(config) as gateway:
        adapter = gateway.adapters["kn"]
        batch = messages(n, tag)

        async def one(i: int) -> None:
            result = await adapter.send(batch[i], adapter.new_log("send", batch[i].id))
            if not result.ok:
                raise RuntimeError(f"adapter: {result}")

        return await run_pool(n, concurrency, one)


async def gateway_rate(config, n: int, concurrency: int, tag: str) -> float:
    """`Gateway.send`: store, claim, adapter, record (SQLite), hooks."""
    from smsgate.host import open_gateway

    async with open_gateway(config) as gateway:
        batch = messages(n, tag)

        async def one(i: int) -> None:
            outcome = await gateway.send(batch[i])
            if not outcome.ok:
                raise RuntimeError(f"gateway: {outcome.message.status} {outcome.message.error_reason}")

        return await run_pool(n, concurrency, one)


def settle(kannel: Kannel, sink: DlrSink, sent: int, timeout: float = 120.0) -> int:
    """Wait until the fake SMSC has every message sent so far and Kannel's DLR callbacks have stopped, so each
    phase starts with Kannel idle (smsbox both serves sendsms and makes the DLR calls); return the MT count."""
    deadline = time.monotonic() + timeout
    seen = len(kannel.received_mts())
    while seen < sent and time.monotonic() < deadline:
        time.sleep(0.2)
        seen = len(kannel.received_mts())
    last, still = sink.current(), 0
    while still < 3 and time.monotonic() < deadline:
        time.sleep(0.3)
        now = sink.current()
        still = still + 1 if now == last else 0
        last = now
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; the median is reported")
    parser.add_argument("--dlr-mask", type=int, default=27, help="dlr-mask sent (0: no delivery reports)")
    parser.add_argument("--synchronous", choices=["FULL", "NORMAL"], default="FULL",
                        help="the gateway mode's SQLite fsync policy ([gateway] synchronous)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="smsgate-bench-kannel-"))
    modes = {"raw": raw_rate, "adapter": adapter_rate, "gateway": gateway_rate}
    rates: dict[str, list[float]] = {m: [] for m in modes}
    cpu_us: dict[str, list[float]] = {m: [] for m in modes}  # this process's CPU time per message
    with DlrSink() as sink, Kannel(max_messages=10) as kannel:
        config = make_config(kannel, f"http://127.0.0.1:{sink.port}", workdir, args.concurrency, args.dlr_mask,
                             args.synchronous)
        sent = 0
        for name, fn in modes.items():  # warm-up: imports, connections, Kannel's first allocations
            asyncio.run(fn(config, 200, args.concurrency, f"warm-{name}"))
            sent += 200
        for r in range(args.rounds):
            for name, fn in modes.items():
                settle(kannel, sink, sent)  # each phase starts with Kannel idle: no queue, no DLRs in flight
                cpu = time.process_time()
                rates[name].append(asyncio.run(fn(config, args.messages, args.concurrency, f"r{r}-{name}")))
                cpu_us[name].append((time.process_time() - cpu) / args.messages * 1e6)
                sent += args.messages
        seen = settle(kannel, sink, sent)
        raw = statistics.median(rates["raw"])
        print(f"kannel send: {args.messages} messages x {args.rounds} rounds per mode, {args.concurrency} in flight, "
              f"dlr-mask {args.dlr_mask}, store synchronous={args.synchronous}, real Kannel 1.4.5 on 127.0.0.1 "
              "(median of rounds)")
        for name in modes:
            rate = statistics.median(rates[name])
            rounds = ", ".join(f"{x:.0f}" for x in rates[name])
            ratio = "" if name == "raw" else f"   ratio {name}/raw = {rate / raw:.3f}  (target >= 0.9)"
            print(f"  {name:8s} {rate:8.1f} msg/s  (rounds: {rounds}; client CPU "
                  f"{statistics.median(cpu_us[name]):.0f} us/msg){ratio}")
    print(f"  fake SMSC received {seen} of {sent} messages; DLR callbacks answered: {sink.count}")
    if seen != sent:
        raise SystemExit(f"the fake SMSC saw {seen} messages, expected {sent}")


if __name__ == "__main__":
    main()
