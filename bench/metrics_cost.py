"""What counting metrics costs per send and per inbound message, in CPU time: less noisy than throughput.

    .venv/bin/python bench/metrics_cost.py [--messages 3000] [--repeat 50000]

The work metrics add is timed with timeit in this process: the hook calls a send makes (queued, after_send,
wired) and the send's trace accounting, and the hook call of an incoming message, each with and without the
metrics plugin installed. The baseline is what one message costs the whole pipeline in CPU (process time, all
threads: event loop, store writer, HTTP) in the same run: `Gateway.send` to a local stub (bench/servers/http_stub.py)
for sends, and the inbound route through the ASGI app for incoming messages. Throughput comparisons
(bench/send.py, bench/ingest.py) swing by 10% between rounds on a shared machine; this does not.
"""

from __future__ import annotations

import argparse
import asyncio
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
from send import FROM, TEXT, TO


def config(database: Path, url: str) -> Any:
    from smsgate.host import config_from_dict, installed_adapters

    return config_from_dict({"gateway": {"database": str(database)}, "channels": {"b": {
        "adapter": "http", "address": FROM, "country": "RW", "send_url": url, "content_type": "json"}}},
        installed_adapters())


def hook_costs(repeat: int) -> tuple[float, float, float, float]:
    """(send without, send with, inbound without, inbound with) metrics, in microseconds per message."""
    from smsgate import IncomingMessage, OutgoingMessage, SendResult, Status, StatusUpdate
    from smsgate.host import open_gateway
    from smsgate.web._metrics import install_metrics

    gateway = open_gateway(config(Path(":memory:"), "http://127.0.0.1:9/unused"))
    channel = gateway.config.channels["b"]
    message = OutgoingMessage("b", TO, TEXT)
    result = SendResult(Status.WIRED, external_ids=["x"])
    update = StatusUpdate("b", Status.WIRED, message.id)
    clog = gateway.adapters["b"].new_log("send", message.id)
    clog.trace("POST", "http://127.0.0.1/send", {"content-type": "application/json"}, b"{}", 200, {}, b"{}", 2.0)
    incoming = IncomingMessage("b", TO, TEXT)
    hook = gateway.pm.hook

    def send() -> None:  # what Gateway.send does besides sending, where metrics take part
        hook.smsgate_status_changed(update=update, previous=None, current=Status.QUEUED, channel=channel)
        hook.smsgate_after_send(message=message, result=result, channel=channel)
        hook.smsgate_status_changed(update=update, previous=Status.QUEUED, current=Status.WIRED, channel=channel)
        if gateway.metrics is not None:
            gateway.metrics.send_recorded("b", 1, clog)

    def inbound() -> None:
        hook.smsgate_message_received(message=incoming, channel=channel)

    def per(fn: object) -> float:
        return min(timeit.repeat(fn, number=repeat, repeat=3)) / repeat * 1e6  # type: ignore[arg-type]

    before = (per(send), per(inbound))
    install_metrics(gateway)
    after = (per(send), per(inbound))
    asyncio.run(gateway.close())
    return before[0], after[0], before[1], after[1]


async def send_cpu(url: str, n: int, workdir: Path) -> float:
    """CPU microseconds per message of the whole send pipeline (no metrics), 64 in flight."""
    from smsgate.host import open_gateway

    async with open_gateway(config(workdir / f"send-{uuid.uuid4().hex}.sqlite3", url)) as gateway:
        async def one(i: int) -> None:
            outcome = await gateway.send(await gateway.prepare("b", TO, TEXT))
            assert outcome.ok

        await run_pool(200, 64, one)  # warm-up
        start = time.process_time()
        await run_pool(n, 64, one)
        return (time.process_time() - start) / n * 1e6


async def inbound_cpu(n: int, workdir: Path) -> float:
    """CPU microseconds per incoming message through the ASGI app (parse, handler, store, reply), no metrics."""
    from smsgate.host import create_app, open_gateway

    gateway = open_gateway(config(workdir / f"in-{uuid.uuid4().hex}.sqlite3", "http://127.0.0.1:9/unused"))
    app = create_app(gateway, metrics=False, console=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
        async def one(i: int) -> None:
            answer = await client.post("/c/b/receive", data={"from": TO, "text": f"hello {i}"})
            assert answer.status_code == 200

        await run_pool(200, 64, one)
        start = time.process_time()
        await run_pool(n, 64, one)
        spent = time.process_time() - start
    await gateway.close()
    return spent / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=50_000)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="smsgate-metrics-cost-"))
    send_without, send_with, in_without, in_with = hook_costs(args.repeat)
    with server("http_stub") as port:
        per_send = asyncio.run(send_cpu(f"http://127.0.0.1:{port}/send", args.messages, workdir))
    per_inbound = asyncio.run(inbound_cpu(args.messages, workdir))
    send_extra, in_extra = send_with - send_without, in_with - in_without
    print(f"metrics cost in CPU time ({args.repeat} calls timed, best of 3; pipelines over {args.messages} messages)")
    print(f"  send:    hooks + traces {send_without:5.2f} us without metrics, {send_with:5.2f} us with: "
          f"+{send_extra:.2f} us of {per_send:,.0f} us a send costs = {send_extra / per_send:.2%}")
    print(f"  inbound: hook {in_without:5.2f} us without metrics, {in_with:5.2f} us with: "
          f"+{in_extra:.2f} us of {per_inbound:,.0f} us an incoming message costs = {in_extra / per_inbound:.2%}")
    print(f"  ratio with/without (CPU): send {per_send / (per_send + send_extra):.3f}, "
          f"inbound {per_inbound / (per_inbound + in_extra):.3f}   (target >= 0.95)")


if __name__ == "__main__":
    main()
