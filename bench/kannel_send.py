"""Kannel send benchmark: `Gateway.send` through a real Kannel against the best raw Python clients, same run.

    .venv/bin/python bench/kannel_send.py [--messages 1000] [--rounds 3] [--depths 1,4,16,64] [--dlr-mask 27]

Needs `wrk` (apt-get install wrk) and Kannel (.ci/install-peers). Starts a real Kannel 1.4.5 (tests/support/peers:
bearerbox + smsbox + fakesmsc on 127.0.0.1) and a tiny DLR sink that Kannel's delivery reports go to (so DLR
traffic flows as in production). Each way of sending N messages is swept over the same depths (requests in
flight), in alternating rounds (medians reported), each phase starting with Kannel idle:
- httpx:   one pooled httpx.AsyncClient GETting the very URLs the adapter builds (built before timing);
- aiohttp: one bare aiohttp.ClientSession GETting them: the Python client limit;
- adapter: `KannelAdapter.send(message, channel_log)`: URL building, the shared client, retries, the redacted trace;
- gateway: `Gateway.send`: that plus the durable SQLite store (`--synchronous`, default FULL), the claim, the
  "sending" mark, status history, hooks.
The channel's `max_in_flight` is the depth. `wrk` first measures what Kannel's sendsms does alone. At the end
the benchmark checks that the fake SMSC received every message.
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
sys.path.insert(0, str(ROOT))  # the repository root, for tests.support

from _common import aiohttp_rate, httpx_rate, paths_script, run_pool, timed, wrk  # noqa: E402

from tests.support.peers import Kannel, free_port  # noqa: E402

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


def sendsms_urls(config, n: int, tag: str) -> list[str]:
    """The adapter's own sendsms URLs for `n` messages, exactly as it builds them."""
    from smsgate.host import open_gateway

    async def build() -> list[str]:
        async with open_gateway(config) as gateway:
            adapter = gateway.adapters["kn"]
            return [adapter.sendsms_url(m) for m in messages(n, tag)]

    return asyncio.run(build())


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
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; the median is reported")
    parser.add_argument("--depths", default="1,4,16,64", help="requests in flight to sweep")
    parser.add_argument("--dlr-mask", type=int, default=27, help="dlr-mask sent (0: no delivery reports)")
    parser.add_argument("--synchronous", choices=["FULL", "NORMAL"], default="FULL",
                        help="the gateway mode's SQLite fsync policy ([gateway] synchronous)")
    args = parser.parse_args()
    depths = [int(d) for d in args.depths.split(",")]
    n = args.messages
    workdir = Path(tempfile.mkdtemp(prefix="smsgate-bench-kannel-"))

    def accepted(status: int) -> bool:
        return status == 202  # Kannel's "0: Accepted for delivery"

    with DlrSink() as sink, Kannel(max_messages=10) as kannel:
        def cfg(depth: int):
            return make_config(kannel, f"http://127.0.0.1:{sink.port}", workdir, depth, args.dlr_mask,
                               args.synchronous)

        def raw(client, depth: int, tag: str) -> float:
            urls = sendsms_urls(cfg(depth), n, tag)
            return asyncio.run(client(n, depth, lambda i: ("GET", urls[i], None), accepted))

        modes = {
            "httpx": lambda d, tag: raw(httpx_rate, d, tag),
            "aiohttp": lambda d, tag: raw(aiohttp_rate, d, tag),
            "adapter": lambda d, tag: asyncio.run(adapter_rate(cfg(d), n, d, tag)),
            "gateway": lambda d, tag: asyncio.run(gateway_rate(cfg(d), n, d, tag)),
        }
        # warm-up: imports, connections, Kannel's first allocations
        urls = sendsms_urls(cfg(4), 200, "warm")
        asyncio.run(aiohttp_rate(200, 4, lambda i: ("GET", urls[i], None), accepted))
        asyncio.run(gateway_rate(cfg(4), 200, 4, "warm"))
        sent = 400
        settle(kannel, sink, sent)
        base = kannel.sendsms_url.split("/cgi-bin")[0]
        alone = wrk(kannel.sendsms_url, connections=16, seconds=3,
                    script=paths_script([u.removeprefix(base) for u in sendsms_urls(cfg(16), 2000, "wrk")]))
        wrk_sent = int(alone["raw"].split(" requests in")[0].split()[-1])
        sent += wrk_sent
        rates: dict[str, dict[int, list[float]]] = {m: {d: [] for d in depths} for m in modes}
        cpus: dict[str, dict[int, list[float]]] = {m: {d: [] for d in depths} for m in modes}
        for r in range(args.rounds):
            for d in depths:
                for name, fn in modes.items():
                    settle(kannel, sink, sent)  # each phase starts with Kannel idle: no queue, no DLRs in flight
                    rate, cpu = timed(lambda fn=fn, d=d, name=name, r=r: fn(d, f"r{r}-{d}-{name}"), n)
                    rates[name][d].append(rate)
                    cpus[name][d].append(cpu)
                    sent += n
        seen = settle(kannel, sink, sent)
        med = {m: {d: statistics.median(rates[m][d]) for d in depths} for m in modes}
        best = {m: max(depths, key=lambda d, m=m: med[m][d]) for m in modes}
        print(f"kannel send: {n} messages per run, median of {args.rounds} rounds, depths {depths}, dlr-mask "
              f"{args.dlr_mask}, store synchronous={args.synchronous}, real Kannel 1.4.5 on 127.0.0.1")
        print(f"  Kannel's sendsms alone under wrk (16 connections): {alone['rate']:.0f} req/s")
        print("  msg/s by depth (client CPU us/msg):")
        print("    mode     " + "".join(f"{d:>18d}" for d in depths) + "   best")
        for m in modes:
            cells = "".join(f"{med[m][d]:10.0f} ({statistics.median(cpus[m][d]):5.0f})" for d in depths)
            print(f"    {m:8s} {cells}   {med[m][best[m]]:.0f} at {best[m]}")
        d = best["aiohttp"]
        print(f"  gateway / aiohttp at aiohttp's best depth ({d}) = {med['gateway'][d] / med['aiohttp'][d]:.3f}"
              "   (target >= 0.7)")
        print("  gateway / aiohttp by depth: " + ", ".join(f"{x}: {med['gateway'][x] / med['aiohttp'][x]:.2f}"
                                                       for x in depths))
        print(f"  gateway best / httpx best = {med['gateway'][best['gateway']] / med['httpx'][best['httpx']]:.3f}")
    print(f"  fake SMSC received {seen} of {sent} messages (wrk's {wrk_sent} counted as answered); DLR callbacks "
          f"answered: {sink.count}")
    if not sent <= seen <= sent + 16:  # wrk may leave up to one request per connection unanswered at its end
        raise SystemExit(f"the fake SMSC saw {seen} messages, expected {sent}")


if __name__ == "__main__":
    main()
