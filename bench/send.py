"""Send benchmark: smsgate's full send pipeline vs a raw httpx loop vs Apprise, against one local stub.

    .venv/bin/python bench/send.py [--messages 5000] [--concurrency 64] [--apprise 5000] [--scaling]
    .venv/bin/python bench/send.py --postgresql [--messages 4000] [--concurrency 32] [--rounds 3] [--profile]

`--postgresql` compares stores instead, in one run against the same stub: SQLite with one instance (the
baseline), PostgreSQL with one instance and with two instances on one database. Each instance is its own
process sending its share with `--concurrency` in flight; the CPU each side used is measured from /proc.

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


def instance(database: str, url: str, n: int, concurrency: int, profile: str) -> None:
    """One bench instance (a child process): open a gateway on `database`, warm up, say `ready`, wait for a line on
    stdin, send `n` messages, print `done <seconds>`."""
    import cProfile
    import pstats

    from smsgate.host import config_from_dict, installed_adapters, open_gateway

    config = config_from_dict({"gateway": {"database": database}, "channels": {"bench": {
        "adapter": "http", "address": FROM, "country": "RW", "send_url": url, "content_type": "json"}}},
        installed_adapters())

    async def go() -> float:
        async with open_gateway(config) as gateway:
            async def one(i: int) -> None:
                outcome = await gateway.send(await gateway.prepare("bench", TO, TEXT))
                if not outcome.ok:
                    raise RuntimeError(f"send failed: {outcome.message.error_reason}")

            await run_pool(200, concurrency, one)
            print("ready", flush=True)
            await asyncio.to_thread(sys.stdin.readline)
            profiler = cProfile.Profile() if profile else None
            if profiler:
                profiler.enable()
            start = time.perf_counter()
            await run_pool(n, concurrency, one)
            elapsed = time.perf_counter() - start
            if profiler:
                profiler.disable()
                with open(profile, "w") as out:
                    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(22)
            return elapsed

    print(f"done {asyncio.run(go())}", flush=True)


def run_instances(databases: list[str], url: str, n: int, concurrency: int, watch: list[int],
                  profile: str = "") -> tuple[float, float, float]:
    """Run one instance process per database entry at once; (messages/s overall, CPU seconds of the instances,
    CPU seconds of the `watch` processes, e.g. PostgreSQL)."""
    import subprocess

    from _common import process_cpu

    share = n // len(databases)
    procs = [subprocess.Popen([sys.executable, __file__, "--instance", db, "--stub", url, "--messages", str(share),
                               "--concurrency", str(concurrency), "--profile-to", profile if i == 0 else ""],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
             for i, db in enumerate(databases)]
    for proc in procs:
        line = proc.stdout.readline() if proc.stdout else ""
        if line.strip() != "ready":
            raise RuntimeError(f"bench instance did not start: {line!r}")
    pids = [p.pid for p in procs]
    mine, theirs = process_cpu(pids), process_cpu(watch)
    start = time.perf_counter()
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    for proc in procs:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("done"):
            raise RuntimeError(f"bench instance failed: {line!r}")
    elapsed = time.perf_counter() - start
    used, db_used = process_cpu(pids) - mine, process_cpu(watch) - theirs
    for proc in procs:
        proc.wait(timeout=60)
    return share * len(databases) / elapsed, used, db_used


def compare_stores(args: argparse.Namespace) -> None:
    """SQLite with 1 instance vs PostgreSQL with 1 and 2 instances, against one stub, in rounds."""
    from _common import pg_top_statements, postgres

    workdir = Path(tempfile.mkdtemp(prefix="smsgate-bench-"))
    modes = [("sqlite", 1), ("postgresql", 1), ("postgresql", 2)]
    with server("stub") as port, postgres() as cluster:
        url = f"http://127.0.0.1:{port}/send"
        postmaster = [cluster.children[0].pid]  # type: ignore[attr-defined]
        results: dict[tuple[str, int], list[tuple[float, float, float]]] = {m: [] for m in modes}
        counter = 0
        for _ in range(args.rounds):
            for backend, count in modes:
                counter += 1
                if backend == "sqlite":
                    database = str(workdir / f"send-{counter}.sqlite3")
                else:
                    database = cluster.create_database(f"send{counter}")  # type: ignore[attr-defined]
                    asyncio.run(_upgrade(database))
                results[(backend, count)].append(run_instances([database] * count, url, args.messages,
                                                               args.concurrency, postmaster if backend != "sqlite"
                                                               else []))
        print(f"send by store: {args.messages} messages per run, {args.concurrency} in flight per instance, "
              f"median of {args.rounds} rounds; CPU per message from /proc (2 cores shared by all)")
        base = statistics.median(r[0] for r in results[("sqlite", 1)])
        for (backend, count), runs in results.items():
            rate = statistics.median(r[0] for r in runs)
            cpu = statistics.median(r[1] / args.messages * 1e6 for r in runs)
            db_cpu = statistics.median(r[2] / args.messages * 1e6 for r in runs)
            print(f"  {backend:<10} x{count}  {rate:8.1f} msg/s  ratio {rate / base:5.2f}  (rounds: "
                  f"{', '.join(f'{r[0]:.0f}' for r in runs)}; smsgate CPU {cpu:.0f} us/msg, PostgreSQL CPU "
                  f"{db_cpu:.0f} us/msg)")
        if args.profile:
            database = cluster.create_database("sendprofile")  # type: ignore[attr-defined]
            asyncio.run(_upgrade(database))
            profile = str(workdir / "profile.txt")
            run_instances([database], url, args.messages, args.concurrency, postmaster, profile)
            print("profile of one PostgreSQL instance (cProfile, by own time):")
            print(Path(profile).read_text())
            print("PostgreSQL's time by statement (pg_stat_statements: ms total | calls | ms/call | query):")
            for line in pg_top_statements(cluster, "sendprofile"):
                print("  " + line)


async def _upgrade(database: str) -> None:
    from smsgate.store import upgrade_database

    await upgrade_database(database)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgresql", action="store_true", help="compare SQLite x1, PostgreSQL x1 and x2")
    parser.add_argument("--profile", action="store_true", help="with --postgresql: profile one PostgreSQL run")
    parser.add_argument("--instance", help=argparse.SUPPRESS)
    parser.add_argument("--stub", help=argparse.SUPPRESS)
    parser.add_argument("--profile-to", default="", help=argparse.SUPPRESS)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--apprise", type=int, default=5000, help="messages for the Apprise run (0: skip)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; the median is reported")
    parser.add_argument("--scaling", action="store_true", help="also print rates at 1, 4, 16, 64 in flight")
    args = parser.parse_args()
    if args.instance:
        instance(args.instance, args.stub, args.messages, args.concurrency, args.profile_to)
        return
    if args.postgresql:
        compare_stores(args)
        return
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
