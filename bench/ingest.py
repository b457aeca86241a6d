"""Ingest benchmark: inbound callbacks per second into `smsgate serve` vs a bare Starlette endpoint, both under wrk.

    .venv/bin/python bench/ingest.py [--seconds 5] [--rounds 3] [--connections 32,64]
    .venv/bin/python bench/ingest.py --postgresql [--requests 4000] [--concurrency 64] [--rounds 3] [--profile]

`--postgresql` compares stores instead, in one run: SQLite with one `smsgate serve` (the baseline),
PostgreSQL with one and with two on one database (the Python load generator's connections spread over
them; wrk takes one URL).

Needs `wrk` (apt-get install wrk). Both servers run in their own process under uvicorn: the bare endpoint
(bench/servers/bare_starlette.py) parses the form and answers 200, storing nothing; the gateway
(bench/servers/gateway.py) is what `smsgate serve` runs (its uvicorn protocol with request deadlines, background
worker and dispatcher, gc.freeze(), metrics) with one http channel, and commits every message to SQLite
(synchronous=FULL, group commit) before it answers 2xx. wrk (C, one thread) posts the same inbound form to each,
`--connections` at a time, in alternating rounds; medians are reported, with wrk's latency percentiles. A third
server, the same gateway without metrics, takes the same load in the same rounds: the cost of metrics
(target >= 0.95).
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
from _common import hammer, post_script, server, wrk

FORM = "from=%2B250788123123&text=hello+from+the+bench"


async def load(port: int | list[int], n: int, concurrency: int) -> float:
    """POST n inbound messages with the Python load generator (bench/index_cost.py's), `concurrency` at a time
    (spread over the ports given)."""
    bodies = [urllib.parse.urlencode({"from": "+250788123123", "text": f"hello {i}"}).encode() for i in range(n)]
    return await hammer(port, "/c/b/receive", bodies, concurrency)


def compare_stores(args: argparse.Namespace) -> None:
    """SQLite with 1 instance vs PostgreSQL with 1 and 2 instances, same load, in rounds."""
    import contextlib

    from _common import pg_top_statements, postgres, process_cpu
    from smsgate.store import upgrade_database

    workdir = Path(tempfile.mkdtemp(prefix="smsgate-ingest-"))
    modes = [("sqlite", 1), ("postgresql", 1), ("postgresql", 2)]
    results: dict[tuple[str, int], list[tuple[float, float]]] = {m: [] for m in modes}
    with postgres() as cluster:
        postmaster = [cluster.children[0].pid]  # type: ignore[attr-defined]
        counter = 0
        for _ in range(args.rounds):
            for backend, count in modes:
                counter += 1
                if backend == "sqlite":
                    database = str(workdir / f"ingest-{counter}.sqlite3")
                else:
                    database = cluster.create_database(f"ingest{counter}")  # type: ignore[attr-defined]
                    asyncio.run(upgrade_database(database))
                with contextlib.ExitStack() as stack:
                    ports = [stack.enter_context(server("gateway", database, args.synchronous))
                             for _ in range(count)]
                    asyncio.run(load(ports, 300, args.concurrency))
                    before = process_cpu(postmaster)
                    rate = asyncio.run(load(ports, args.requests, args.concurrency))
                    db_cpu = process_cpu(postmaster) - before if backend != "sqlite" else 0.0
                results[(backend, count)].append((rate, db_cpu / args.requests * 1e6))
        print(f"ingest by store: {args.requests} requests per run, {args.concurrency} connections spread over the "
              f"instances, median of {args.rounds} rounds (2 cores shared by the load generator, the instances "
              "and PostgreSQL)")
        base = statistics.median(r[0] for r in results[("sqlite", 1)])
        for (backend, count), runs in results.items():
            rate = statistics.median(r[0] for r in runs)
            print(f"  {backend:<10} x{count}  {rate:8.1f} req/s  ratio {rate / base:5.2f}  (rounds: "
                  f"{', '.join(f'{r[0]:.0f}' for r in runs)}; PostgreSQL CPU "
                  f"{statistics.median(r[1] for r in runs):.0f} us/request)")
        if args.profile:
            print("PostgreSQL's time by statement in the last run (ms total | calls | ms/call | query):")
            for line in pg_top_statements(cluster, f"ingest{counter}"):
                print("  " + line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgresql", action="store_true", help="compare SQLite x1, PostgreSQL x1 and x2")
    parser.add_argument("--profile", action="store_true", help="with --postgresql: PostgreSQL's time by statement")
    parser.add_argument("--requests", type=int, default=4000, help="with --postgresql: requests per run")
    parser.add_argument("--concurrency", type=int, default=64, help="with --postgresql: connections in flight")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", default="32,64")
    parser.add_argument("--synchronous", default="FULL", choices=["FULL", "NORMAL"])
    args = parser.parse_args()
    if args.postgresql:
        compare_stores(args)
        return
    conns = [int(c) for c in args.connections.split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="smsgate-ingest-"))
    database = workdir / "ingest.sqlite3"
    script = post_script(FORM)
    counted = 0
    plain = workdir / "ingest-nometrics.sqlite3"
    with server("bare_starlette") as bare_port, server("gateway", str(database), args.synchronous) as gw_port, \
            server("gateway", str(plain), args.synchronous, "nometrics") as plain_port:
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
