"""Send benchmark: smsgate's durable `Gateway.send` against the best a raw Python client does, one local stub.

    .venv/bin/python bench/send.py [--messages 3000] [--rounds 3] [--depths 1,4,16,64] [--apprise 1000]
    .venv/bin/python bench/send.py --postgresql [--messages 4000] [--concurrency 32] [--rounds 3] [--profile]

`--postgresql` compares stores instead, in one run against the same stub: SQLite with one instance (the
baseline), PostgreSQL with one instance and with two instances on one database. Each instance is its own
process sending its share with `--concurrency` in flight; the CPU each side used is measured from /proc.

Needs `wrk` (apt-get install wrk). Every client POSTs the same JSON (the `http` adapter's seed body) to one
stub aggregator (bench/servers/http_stub.py, a bare asyncio server). Each is swept over the same depths (requests in
flight) and judged at its own best depth, because that is the best the alternative can do:

- httpx:    one pooled `httpx.AsyncClient` with its own transport (httpcore);
- aiohttp:  one bare `aiohttp.ClientSession`: the Python client limit (smsgate's transport is aiohttp);
- adapter:  `HttpAdapter.send` with a channel log, no store (rendering, the shared client, retries, traces);
- smsgate:  `Gateway.send`: that plus the durable store (SQLite, synchronous=FULL: queued and claimed, the
            "sending" mark before the request, the outcome with history and channel log), hooks, and the
            metrics `smsgate serve` counts; `nometrics` is the same without them (their cost).

smsgate and adapter keep `depth` sends in flight with the channel's `max_in_flight` at the same depth. `wrk`
measures the stub alone first, so the output says whether the stub could be the cap. Rates are medians of
the rounds; rounds alternate the clients so drift on this shared machine hits all of them alike.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import aiohttp_rate, httpx_rate, peak_memory, post_script, run_pool, server, timed, wrk

TEXT = "El amor es paciente. El amor es amable."
TO = "+250788123123"
FROM = "+5582999489287"


def body(i: int) -> bytes:
    """What a hand-written client sends per message: the seed's JSON with a fresh id."""
    return json.dumps({"id": str(uuid.uuid4()), "text": TEXT, "to": TO, "to_no_plus": TO[1:], "from": FROM,
                       "from_no_plus": FROM[1:], "channel": "bench"}).encode()


def config(url: str, depth: int, workdir: Path):
    from smsgate.host import config_from_dict, installed_adapters

    db = workdir / f"bench-{uuid.uuid4().hex}.sqlite3"
    return config_from_dict({"gateway": {"database": str(db)}, "channels": {"bench": {
        "adapter": "http", "address": FROM, "country": "RW", "send_url": url, "content_type": "json",
        "max_in_flight": depth}}}, installed_adapters())


async def smsgate_rate(url: str, n: int, depth: int, workdir: Path, metrics: bool = True) -> float:
    """The full pipeline: prepare (number parsing), store + claim, adapter render + send, outcome, hooks, and the
    metrics `smsgate serve` counts (unless `metrics` is False: the baseline of their cost)."""
    from smsgate.host import open_gateway

    async with open_gateway(config(url, depth, workdir)) as gateway:
        uninstall = None
        try:
            from smsgate.web._metrics import install_metrics, uninstall_metrics
        except ImportError:  # a smsgate without metrics: nothing to count
            metrics = False
        if metrics:
            install_metrics(gateway)
            uninstall = uninstall_metrics
        failures = 0

        async def one(i: int) -> None:
            nonlocal failures
            message = await gateway.prepare("bench", TO, TEXT)
            outcome = await gateway.send(message)
            failures += not outcome.ok

        rate = await run_pool(n, depth, one)
        if uninstall is not None:
            uninstall(gateway)  # as the app's shutdown does: later runs must not call this run's plugin
        if failures:
            raise RuntimeError(f"{failures} smsgate sends failed")
        return rate


async def adapter_rate(url: str, n: int, depth: int, workdir: Path) -> float:
    """`adapter.send` with a channel log per message, no store."""
    from smsgate.host import open_gateway

    async with open_gateway(config(url, depth, workdir)) as gateway:
        adapter = gateway.adapters["bench"]

        async def one(i: int) -> None:
            message = await gateway.prepare("bench", TO, TEXT)
            result = await adapter.send(message, adapter.new_log("send", message.id))
            if not result.ok:
                raise RuntimeError(f"adapter: {result}")

        return await run_pool(n, depth, one)


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
    with server("http_stub") as port, postgres() as cluster:
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
    parser.add_argument("--concurrency", type=int, default=64, help="with --postgresql: sends in flight per instance")
    parser.add_argument("--instance", help=argparse.SUPPRESS)
    parser.add_argument("--stub", help=argparse.SUPPRESS)
    parser.add_argument("--profile-to", default="", help=argparse.SUPPRESS)
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; the median is reported")
    parser.add_argument("--depths", default="1,4,16,64", help="requests in flight to sweep")
    parser.add_argument("--apprise", type=int, default=1000, help="messages for the Apprise run (0: skip)")
    args = parser.parse_args()
    if args.instance:
        instance(args.instance, args.stub, args.messages, args.concurrency, args.profile_to)
        return
    if args.postgresql:
        compare_stores(args)
        return
    depths = [int(d) for d in args.depths.split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="smsgate-bench-"))
    n = args.messages
    with server("http_stub") as port:
        url = f"http://127.0.0.1:{port}/send"

        def post(i: int) -> tuple[str, str, bytes]:
            return "POST", url, body(i)

        modes = {
            "httpx": lambda d: asyncio.run(httpx_rate(n, d, post)),
            "aiohttp": lambda d: asyncio.run(aiohttp_rate(n, d, post)),
            "adapter": lambda d: asyncio.run(adapter_rate(url, n, d, workdir)),
            "smsgate": lambda d: asyncio.run(smsgate_rate(url, n, d, workdir)),
            "nometrics": lambda d: asyncio.run(smsgate_rate(url, n, d, workdir, metrics=False)),
        }
        asyncio.run(httpx_rate(300, 4, post))  # warm-up: imports, the stub's first connections
        asyncio.run(aiohttp_rate(300, 4, post))
        asyncio.run(smsgate_rate(url, 300, 4, workdir))
        stub = wrk(url, connections=16, seconds=3, script=post_script(body(0).decode(), "application/json"))
        rates: dict[str, dict[int, list[float]]] = {m: {d: [] for d in depths} for m in modes}
        cpus: dict[str, dict[int, list[float]]] = {m: {d: [] for d in depths} for m in modes}
        for _ in range(args.rounds):
            for d in depths:
                for name, fn in modes.items():
                    rate, cpu = timed(lambda fn=fn, d=d: fn(d), n)
                    rates[name][d].append(rate)
                    cpus[name][d].append(cpu)
        med = {m: {d: statistics.median(rates[m][d]) for d in depths} for m in modes}
        best = {m: max(depths, key=lambda d, m=m: med[m][d]) for m in modes}
        top = max(med[m][best[m]] for m in ("httpx", "aiohttp"))
        print(f"send: {n} messages per run, median of {args.rounds} rounds, depths {depths}, "
              "stub bench/servers/http_stub.py, store synchronous=FULL")
        print(f"  stub alone under wrk (16 connections): {stub['rate']:.0f} req/s = {stub['rate'] / top:.1f}x the "
              f"best raw client ({top:.0f} msg/s): {'not the cap' if stub['rate'] > 1.5 * top else 'MAY BE THE CAP'}")
        print("  msg/s by depth (client CPU us/msg):")
        print("    mode     " + "".join(f"{d:>18d}" for d in depths) + "   best")
        for m in modes:
            cells = "".join(f"{med[m][d]:10.0f} ({statistics.median(cpus[m][d]):5.0f})" for d in depths)
            print(f"    {m:8s} {cells}   {med[m][best[m]]:.0f} at {best[m]}")
        gate = med["smsgate"][best["smsgate"]]
        print(f"  smsgate best / aiohttp best = {gate / med['aiohttp'][best['aiohttp']]:.3f}   (target >= 0.35)")
        print(f"  smsgate best / httpx best   = {gate / med['httpx'][best['httpx']]:.3f}   (target >= 0.9)")
        print(f"  smsgate / nometrics at smsgate's best depth = {gate / med['nometrics'][best['smsgate']]:.3f}"
              "   (the cost of metrics; target >= 0.95)")
        print(f"  adapter best / aiohttp best = {med['adapter'][best['adapter']] / med['aiohttp'][best['aiohttp']]:.3f}"
              "   (no store: the HTTP path alone)")
        d = best["smsgate"]
        with peak_memory() as gate_mem:
            asyncio.run(smsgate_rate(url, n, d, workdir))
        print(f"  peak Python heap for {n} sends at depth {d}: smsgate {gate_mem['peak_mib']:.1f} MiB")
        if args.apprise:
            app = apprise_rate(url, args.apprise)
            print(f"  apprise {app:9.1f} msg/s ({args.apprise} messages, sequential notify()); smsgate best / apprise "
                  f"= {gate / app:.1f}")


if __name__ == "__main__":
    main()
