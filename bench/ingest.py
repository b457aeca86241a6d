"""Ingest benchmark: inbound webhooks per second into the gateway vs a bare Starlette endpoint.

    .venv/bin/python bench/ingest.py [--requests 5000] [--concurrency 64] [--rounds 3] [--scaling]

Both servers run under uvicorn with the same settings in their own process; the same load generator (a
minimal keep-alive HTTP/1.1 client, `--concurrency` connections) posts the same form to each. The gateway commits every
message to SQLite (synchronous=FULL, group commit) before it answers 2xx; the bare endpoint stores nothing.

The cost of metrics: a third server, the same gateway without metrics (`create_app(metrics=False)`), takes the
same load in the same rounds (interleaved, so drifts of the shared machine hit both alike); the ratio with/without
metrics is printed (target >= 0.95).
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import sys
import tempfile
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import hammer, server


async def load(port: int, n: int, concurrency: int) -> float:
    """POST n inbound messages with `concurrency` connections in flight; every answer must be 2xx."""
    bodies = [urllib.parse.urlencode({"from": "+250788123123", "text": f"hello {i}"}).encode() for i in range(n)]
    return await hammer(port, "/c/b/receive", bodies, concurrency)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--synchronous", default="FULL", choices=["FULL", "NORMAL"])
    parser.add_argument("--scaling", action="store_true", help="also print rates at 1, 4, 16, 64 in flight")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="smsgate-ingest-"))
    database = workdir / "ingest.sqlite3"
    plain = workdir / "ingest-nometrics.sqlite3"
    with server("bare") as bare_port, server("gateway_server", str(database), args.synchronous) as gw_port, \
            server("gateway_server", str(plain), args.synchronous, "nometrics") as plain_port:
        bare_url, gw_url = bare_port, gw_port
        for port in (bare_url, gw_url, plain_port):
            asyncio.run(load(port, 300, args.concurrency))
        bares, gates, plains = [], [], []
        for i in range(args.rounds):
            bares.append(asyncio.run(load(bare_url, args.requests, args.concurrency)))
            # alternate which of the two goes first: the second of a pair runs on a warmer, fuller machine
            pair = [(gates, gw_url), (plains, plain_port)]
            for rates, port in pair if i % 2 == 0 else reversed(pair):
                rates.append(asyncio.run(load(port, args.requests, args.concurrency)))
        bare, gate, plain_rate = statistics.median(bares), statistics.median(gates), statistics.median(plains)
        print(f"ingest: {args.requests} requests, {args.concurrency} in flight, median of {args.rounds} rounds, "
              f"synchronous={args.synchronous}")
        print(f"  bare starlette  {bare:9.1f} req/s   (rounds: {', '.join(f'{r:.0f}' for r in bares)})")
        print(f"  smsgate serve   {gate:9.1f} req/s   (rounds: {', '.join(f'{r:.0f}' for r in gates)})")
        print(f"  ratio smsgate/bare = {gate / bare:.3f}   (target >= 0.5)")
        print(f"  without metrics {plain_rate:9.1f} req/s   (rounds: {', '.join(f'{r:.0f}' for r in plains)})")
        print(f"  ratio with/without metrics = {gate / plain_rate:.3f}   (target >= 0.95)")
        if args.scaling:
            n = max(500, args.requests // 5)
            print(f"scaling ({n} requests each): in flight | bare req/s | smsgate req/s | ratio")
            for c in (1, 4, 16, 64):
                b = asyncio.run(load(bare_url, n, c))
                g = asyncio.run(load(gw_url, n, c))
                print(f"  {c:3d} | {b:8.1f} | {g:8.1f} | {g / b:.3f}")
    stored = sqlite3.connect(database).execute("SELECT count(*) FROM messages WHERE direction = 'in'").fetchone()[0]
    print(f"  stored inbound messages: {stored} (every 2xx above was committed first)")


if __name__ == "__main__":
    main()
