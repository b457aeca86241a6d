"""Send benchmark: smsgate's full send pipeline vs a raw httpx loop vs Apprise, against one local stub.

    .venv/bin/python bench/send.py [--messages 5000] [--concurrency 64] [--apprise 5000] [--scaling]

smsgate sends through an `http` channel (content_type json, the seed's body) with the real store (SQLite,
synchronous=FULL), channel logs and hooks; the raw loop POSTs the same JSON with one httpx.AsyncClient.
Both keep `--concurrency` requests in flight. Ratios are computed within this run (the machine is noisy).
smsgate counts its metrics as `smsgate serve` does; the same pipeline without them, in the same rounds, gives
their cost (target: with/without >= 0.95).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import peak_memory, run_pool, server

TEXT = "El amor es paciente. El amor es amable."
TO = "+250788123123"
FROM = "+5582999489287"


async def raw_rate(url: str, n: int, concurrency: int, transport: str = "httpcore") -> float:
    """The baseline: the same JSON POSTs from one pooled httpx.AsyncClient (httpx's default transport).

    With transport="aiohttp" it is smsgate's own transport and nothing else: the ceiling for any send
    pipeline built on it here, since smsgate adds the store, claims, channel logs and hooks on top.
    """
    from smsgate.host import AiohttpTransport

    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    chosen = AiohttpTransport(limits=limits) if transport == "aiohttp" else None
    async with httpx.AsyncClient(limits=limits, transport=chosen) as client:
        async def one(i: int) -> None:
            body = {"id": str(uuid.uuid4()), "text": TEXT, "to": TO, "to_no_plus": TO[1:], "from": FROM,
                    "from_no_plus": FROM[1:], "channel": "bench"}
            response = await client.post(url, content=json.dumps(body), headers={"Content-Type": "application/json"})
            response.raise_for_status()

        return await run_pool(n, concurrency, one)


async def smsgate_rate(url: str, n: int, concurrency: int, workdir: Path, metrics: bool = True) -> float:
    """The full pipeline: prepare (number parsing), store, claim, adapter render + send, record, hooks, and the
    metrics `smsgate serve` counts (unless `metrics` is False: the baseline of their cost)."""
    from smsgate._metrics import install_metrics, uninstall_metrics
    from smsgate.host import config_from_dict, installed_adapters, open_gateway

    db = workdir / f"bench-{uuid.uuid4().hex}.sqlite3"
    config = config_from_dict({"gateway": {"database": str(db)}, "channels": {"bench": {
        "adapter": "http", "address": FROM, "country": "RW", "send_url": url, "content_type": "json"}}},
        installed_adapters())
    async with open_gateway(config) as gateway:
        if metrics:
            install_metrics(gateway)
        failures = 0

        async def one(i: int) -> None:
            nonlocal failures
            message = await gateway.prepare("bench", TO, TEXT)
            outcome = await gateway.send(message)
            failures += not outcome.ok

        rate = await run_pool(n, concurrency, one)
        uninstall_metrics(gateway)  # as the app's shutdown does: later rounds must not call this round's plugin
        if failures:
            raise RuntimeError(f"{failures} smsgate sends failed")
        return rate


def apprise_rate(url: str, n: int) -> float:
    """Apprise's json:// notifier, used as its users do: one notify() per message."""
    import apprise

    target = url.replace("http://", "json://")
    apobj = apprise.Apprise()
    apobj.add(target)
    start = time.perf_counter()
    for _ in range(n):
        if not apobj.notify(body=TEXT, title=""):
            raise RuntimeError("apprise notify failed")
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--apprise", type=int, default=5000, help="messages for the Apprise run (0: skip)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; the median is reported")
    parser.add_argument("--scaling", action="store_true", help="also print rates at 1, 4, 16, 64 in flight")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="smsgate-bench-"))
    with server("stub") as port:
        url = f"http://127.0.0.1:{port}/send"
        asyncio.run(raw_rate(url, 500, args.concurrency))  # warm-up: imports, connections, the stub's JIT-less paths
        asyncio.run(smsgate_rate(url, 500, args.concurrency, workdir))
        asyncio.run(raw_rate(url, 500, 8, "aiohttp"))
        raws, gates, plains, ceilings = [], [], [], []
        for i in range(args.rounds):
            raws.append(asyncio.run(raw_rate(url, args.messages, args.concurrency)))
            # with and without metrics back to back, in alternating order: the cost of metrics, same conditions
            pair = [(gates, True), (plains, False)]
            for rates, metrics in pair if i % 2 == 0 else reversed(pair):
                rates.append(asyncio.run(smsgate_rate(url, args.messages, args.concurrency, workdir, metrics)))
            # smsgate keeps max_in_flight (8) requests per channel in flight; its transport alone at that depth
            ceilings.append(asyncio.run(raw_rate(url, args.messages, 8, "aiohttp")))
        raw, gate, ceiling = statistics.median(raws), statistics.median(gates), statistics.median(ceilings)
        print(f"send: {args.messages} messages, {args.concurrency} in flight, median of {args.rounds} rounds")
        print(f"  raw httpx   {raw:9.1f} msg/s   (rounds: {', '.join(f'{r:.0f}' for r in raws)})")
        print(f"  smsgate     {gate:9.1f} msg/s   (rounds: {', '.join(f'{r:.0f}' for r in gates)})")
        print(f"  transport   {ceiling:9.1f} msg/s   (httpx over smsgate's AiohttpTransport, 8 in flight, no "
              f"store: the ceiling; rounds: {', '.join(f'{r:.0f}' for r in ceilings)})")
        print(f"  ratio smsgate/raw = {gate / raw:.3f}   (target >= 0.85); smsgate/ceiling = {gate / ceiling:.3f}")
        plain = statistics.median(plains)
        print(f"  no metrics  {plain:9.1f} msg/s   (the same pipeline without metrics; rounds: "
              f"{', '.join(f'{r:.0f}' for r in plains)})")
        print(f"  ratio with/without metrics = {gate / plain:.3f}   (target >= 0.95)")
        with peak_memory() as raw_mem:
            asyncio.run(raw_rate(url, args.messages, args.concurrency))
        with peak_memory() as gate_mem:
            asyncio.run(smsgate_rate(url, args.messages, args.concurrency, workdir))
        print(f"  peak Python heap: raw {raw_mem['peak_mib']:.1f} MiB, smsgate {gate_mem['peak_mib']:.1f} MiB")
        if args.apprise:
            with peak_memory() as app_mem:
                app = apprise_rate(url, args.apprise)
            print(f"  apprise     {app:9.1f} msg/s   ({args.apprise} messages, sequential notify())")
            print(f"  ratio smsgate/apprise = {gate / app:.1f}   (target >= 10); transport ceiling/apprise = "
                  f"{ceiling / app:.1f}; apprise peak heap {app_mem['peak_mib']:.1f} MiB")
        if args.scaling:
            n = max(500, args.messages // 5)
            print(f"scaling ({n} messages each): in flight | raw msg/s | smsgate msg/s | ratio")
            for c in (1, 4, 16, 64):
                r = asyncio.run(raw_rate(url, n, c))
                g = asyncio.run(smsgate_rate(url, n, c, workdir))
                print(f"  {c:3d} | {r:8.1f} | {g:8.1f} | {g / r:.3f}")


if __name__ == "__main__":
    main()
