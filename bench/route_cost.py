"""What routing costs per API send, in CPU time: a message posted without a channel (the routes pick one) against
the same message naming its channel, in the same run.

    .venv/bin/python bench/route_cost.py [--messages 2000] [--rounds 5] [--repeat 20000]

Two measurements, both with and without a route:

- the pipeline: `POST /api/v1/messages` through the ASGI app (auth, strict JSON, validation, the number, the
  store's durable write) and then the send worker sending every message to a local stub aggregator
  (bench/servers/http_stub.py): CPU (process time, all threads) per message, rounds alternating between the
  two configs so drift on this shared machine hits both alike; the ratio is of medians;
- the routing work alone, timed with timeit: `Gateway.prepare` with and without a channel (the route's match, its
  pick, every channel's reading of the number) and the failover check each send makes, as extra microseconds
  over what a whole message costs. Throughput swings by 10% between rounds on a shared machine; this does not.

The route is the issue's: `to = ["+250"]`, `channels = ["a", "b"]` (failover), after a route that does not
match (`country = ["UG"]`), so a send walks two routes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import timeit
import uuid
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import run_pool, server
from send import FROM, TEXT

TOKEN = "route-cost-token-0123456789"
LOCAL = "0788123123"  # local: each channel of a route reads it with its country


def config(database: Path, url: str, *, routed: bool) -> Any:
    from smsgate.host import config_from_dict, installed_adapters

    channel = {"adapter": "http", "address": FROM, "country": "RW", "send_url": url, "content_type": "json"}
    routes = [{"country": ["UG"], "channels": ["b"]}, {"to": ["+250"], "channels": ["a", "b"]}] if routed else []
    return config_from_dict({"gateway": {"database": str(database), "api_token": TOKEN},
                             "channels": {"a": channel, "b": channel}, "routes": routes}, installed_adapters())


async def pipeline_cpu(url: str, n: int, workdir: Path, *, routed: bool) -> float:
    """CPU microseconds per message: posted to the API (named channel or routed), then sent by the worker."""
    from smsgate.host import create_app, open_gateway, open_worker

    gateway = open_gateway(config(workdir / f"{uuid.uuid4().hex}.sqlite3", url, routed=routed))
    app = create_app(gateway, metrics=False, console=False)
    worker = open_worker(gateway, concurrency=64)
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    body = {"to": LOCAL, "text": TEXT} if routed else {"channel": "a", "to": LOCAL, "text": TEXT}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
        async def one(i: int) -> None:
            answer = await client.post("/api/v1/messages", content=json.dumps(body), headers=headers)
            assert answer.status_code == 202, answer.text

        await run_pool(200, 32, one)  # warm-up: imports, caches, the pool's connections
        await worker.drain()
        start = time.process_time()
        await run_pool(n, 32, one)
        sent = await worker.drain()
        spent = time.process_time() - start
    assert sent == n, (sent, n)
    await gateway.close()
    return spent / n * 1e6


def routing_work(url: str, repeat: int, workdir: Path) -> tuple[float, float, float]:
    """(prepare with a channel, prepare routed, the failover check of one send), in microseconds per call."""
    from smsgate import OutgoingMessage
    from smsgate.host import open_gateway

    gateway = open_gateway(config(workdir / "micro.sqlite3", url, routed=True))
    loop = asyncio.new_event_loop()
    named = lambda: loop.run_until_complete(gateway.prepare("a", LOCAL, TEXT))  # noqa: E731
    routed = lambda: loop.run_until_complete(gateway.prepare(None, LOCAL, TEXT))  # noqa: E731
    message = OutgoingMessage("a", "+250788123123", TEXT, route=["a", "b"])
    check = lambda: (gateway._following(message, ["a"]), gateway.link_down("a"))  # noqa: E731

    def per(fn: Any) -> float:
        return min(timeit.repeat(fn, number=repeat, repeat=3)) / repeat * 1e6

    figures = per(named), per(routed), per(check)
    loop.run_until_complete(gateway.close())
    loop.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=20_000)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="smsgate-route-cost-"))
    named_cpu: list[float] = []
    routed_cpu: list[float] = []
    with server("http_stub") as port:
        url = f"http://127.0.0.1:{port}/send"
        for _ in range(args.rounds):  # alternate, so drift hits both alike
            named_cpu.append(asyncio.run(pipeline_cpu(url, args.messages, workdir, routed=False)))
            routed_cpu.append(asyncio.run(pipeline_cpu(url, args.messages, workdir, routed=True)))
        prepare_named, prepare_routed, check = routing_work(url, args.repeat, workdir)
    named, routed = statistics.median(named_cpu), statistics.median(routed_cpu)
    extra = prepare_routed - prepare_named + check
    print(f"routing cost in CPU time ({args.messages} messages x {args.rounds} rounds, alternating; "
          f"{args.repeat} calls timed, best of 3)")
    print(f"  pipeline (API post + worker send), per message: named channel {named:,.0f} us "
          f"(rounds {', '.join(f'{v:,.0f}' for v in named_cpu)}), routed {routed:,.0f} us "
          f"(rounds {', '.join(f'{v:,.0f}' for v in routed_cpu)})")
    print(f"  routing work alone: prepare {prepare_named:.2f} us named, {prepare_routed:.2f} us routed; "
          f"failover check {check:.2f} us: +{extra:.2f} us of {named:,.0f} us = {extra / named:.2%}")
    print(f"  ratio named/routed (CPU per API send): pipeline {named / routed:.3f}, "
          f"routing work {named / (named + extra):.3f}   (target >= 0.95)")


if __name__ == "__main__":
    main()
