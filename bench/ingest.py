"""Ingest benchmark: inbound callbacks per second into `smsgate serve` vs a bare Starlette endpoint, both under wrk.

    .venv/bin/python bench/ingest.py [--seconds 5] [--rounds 3] [--connections 32,64]

Needs `wrk` (apt-get install wrk). Both servers run in their own process under uvicorn: the bare endpoint
(bench/bare.py) parses the form and answers 200, storing nothing; the gateway (bench/gateway_server.py) is what
`smsgate serve` runs (its uvicorn protocol with request deadlines, background worker and dispatcher,
gc.freeze(), metrics) with one http channel, and commits every message to SQLite (synchronous=FULL, group
commit) before it answers 2xx. wrk (C, one thread) posts the same inbound form to each, `--connections` at a
time, in alternating rounds; medians are reported, with wrk's latency percentiles. A third server, the same
gateway without metrics, takes the same load in the same rounds: the cost of metrics (target >= 0.95).
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import hammer, post_script, server, wrk

FORM = "from=%2B250788123123&text=hello+from+the+bench"


async def load(port: int, n: int, concurrency: int) -> float:
    """POST n inbound messages with the Python load generator (bench/index_cost.py's), `concurrency` at a time."""
    bodies = [urllib.parse.urlencode({"from": "+250788123123", "text": f"hello {i}"}).encode() for i in range(n)]
    return await hammer(port, "/c/b/receive", bodies, concurrency)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", default="32,64")
    parser.add_argument("--synchronous", default="FULL", choices=["FULL", "NORMAL"])
    args = parser.parse_args()
    conns = [int(c) for c in args.connections.split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="smsgate-ingest-"))
    database = workdir / "ingest.sqlite3"
    script = post_script(FORM)
    counted = 0
    plain = workdir / "ingest-nometrics.sqlite3"
    with server("bare") as bare_port, server("gateway_server", str(database), args.synchronous) as gw_port, \
            server("gateway_server", str(plain), args.synchronous, "nometrics") as plain_port:
        targets = {"bare": f"http://127.0.0.1:{bare_port}/c/b/receive",
                   "smsgate": f"http://127.0.0.1:{gw_port}/c/b/receive",
                   "nometrics": f"http://127.0.0.1:{plain_port}/c/b/receive"}
        for name, url in targets.items():  # warm-up
            done = wrk(url, connections=conns[0], seconds=1, script=script)
            counted += int(done["raw"].split(" requests in")[0].split()[-1]) if name == "smsgate" else 0
        runs: dict[tuple[str, int], list[dict[str, float]]] = {(n, c): [] for n in targets for c in conns}
        for _ in range(args.rounds):
            for c in conns:
                for name, url in targets.items():
                    done = wrk(url, connections=c, seconds=args.seconds, script=script)
                    runs[name, c].append(done)
                    if name == "smsgate":
                        counted += int(str(done["raw"]).split(" requests in")[0].split()[-1])
    print(f"ingest: wrk -t1, {args.seconds:g} s per run, median of {args.rounds} rounds, store "
          f"synchronous={args.synchronous}")
    for c in conns:
        med = {}
        for name in targets:
            rates = [r["rate"] for r in runs[name, c]]
            med[name] = statistics.median(rates)
            p50 = statistics.median(r["p50"] for r in runs[name, c])
            p99 = statistics.median(r["p99"] for r in runs[name, c])
            print(f"  {c:3d} connections  {name:8s} {med[name]:8.0f} req/s  (rounds: "
                  f"{', '.join(f'{x:.0f}' for x in rates)}; latency p50 {p50:.1f} ms, p99 {p99:.1f} ms)")
        print(f"  {c:3d} connections  ratio smsgate/bare = {med['smsgate'] / med['bare']:.3f}   (target >= 0.6); "
              f"with/without metrics = {med['smsgate'] / med['nometrics']:.3f}   (target >= 0.95)")
    stored = sqlite3.connect(database).execute("SELECT count(*) FROM messages WHERE direction = 'in'").fetchone()[0]
    print(f"  stored inbound messages: {stored}; 2xx answers wrk counted: {counted} (every 2xx was committed first)")
    if stored < counted:
        raise SystemExit("fewer messages stored than acknowledged")


if __name__ == "__main__":
    main()
