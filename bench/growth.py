"""Growth benchmark: does `smsgate serve` cost the same with 0, 100k and 1M messages stored?

    .venv/bin/python bench/growth.py [--sizes 0,100000,1000000] [--seconds 5] [--connections 32]

Needs `wrk` (apt-get install wrk). For each size it builds a database, starts `smsgate serve` on it
(bench/servers/gateway.py, growth profile: an http channel `b`, a kannel channel `kn`, an API token, the background
worker and dispatcher, synchronous=FULL) and measures, with wrk at `--connections`:

- ingest: inbound messages POSTed to /c/b/receive: rate, p50 and p99 latency;
- DLRs: Kannel delivery reports (GET /c/kn/status?id=...&status=8, then 1) for a working set of 40,000 wired
  messages;
- reads, on an idle server: `GET /api/v1/messages` (limit 50; newest, `direction=in`, `status=failed`, the
  second page) and `GET /api/v1/messages/{id}` (show), and what `smsgate messages`/`logs --errors` run (the
  read-only store in this process); medians of 20, in ms;
- ingest p99 while a client lists messages (`status=failed`, the slowest listing) back to back: reads must not
  stall writes;
- at the largest size, with `--prune`: `message_retention_days` deleting the older half of the messages at
  start-up while ingest runs (rate and p99 during the deletion, and how long it took).

The filler: the real pipeline makes a sample (1,000 messages through a gateway in this process: 500 sends
through the kannel adapter, answered like Kannel does (one in 50 refused: `failed`, an error in its channel
log), half of the others then delivered by a DLR on the status route,
and 500 inbound callbacks on the http channel's route, each with its channel log and status history), then SQL
copies it (new ids, timestamps moved back so the copies span the last 20 days, oldest stored first) until the
database holds the size asked for, plus the DLRs' working set (40,000 copies of the wired sends, the newest).
So "0" means no history beyond the working set. Per message that is about what a real gateway stores
(`bytes/msg` in the output: the file size over the messages).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import paths_script, post_script, server, wrk

TOKEN = "bench-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
FORM = "from=%2B250788123123&text=hello+from+the+bench"
SAMPLE_OUT, SAMPLE_IN = 500, 500
WORKING_SET = 40_000
SPAN_DAYS = 20


def growth_config(database: Path):
    """The gateway of bench/servers/gateway.py's growth profile, for the in-process sample."""
    from smsgate.host import config_from_dict, installed_adapters

    return config_from_dict({"gateway": {"database": str(database), "api_token": TOKEN}, "channels": {
        "b": {"adapter": "http", "country": "RW", "send_url": "http://127.0.0.1:9/unused"},
        "kn": {"adapter": "kannel", "country": "RW", "send_url": "http://127.0.0.1:9/cgi-bin/sendsms",
               "username": "bench", "password": "bench-password"}}}, installed_adapters())


async def make_sample(database: Path) -> None:
    """The sample, through the real pipeline: sends, DLRs and inbound callbacks, in a gateway of this process."""
    from smsgate.host import create_app, open_gateway

    sent = 0

    def answer(request: httpx.Request) -> httpx.Response:
        nonlocal sent
        sent += 1  # one in fifty refused for good, as a misconfigured number or sender is
        return httpx.Response(202, text="0: Accepted for delivery") if sent % 50 else httpx.Response(
            403, text="Sender not allowed")

    kannel = httpx.MockTransport(answer)
    gateway = open_gateway(growth_config(database), transport=kannel)
    app = create_app(gateway)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8080") as client:
        for i in range(SAMPLE_OUT):
            message = await gateway.prepare("kn", "+250788123123", f"El amor es paciente. El amor es amable. {i}")
            outcome = await gateway.send(message)
            if outcome.ok and i % 2:
                answer = await client.get("/c/kn/status", params={"id": message.id, "status": "1",
                                                                  "smsc_reply": "ACK/"})
                assert answer.status_code == 200, answer.text
        for i in range(SAMPLE_IN):
            answer = await client.post("/c/b/receive", data={"from": "+250788123123", "text": f"hola {i}"})
            assert answer.status_code == 200, answer.text
    await gateway.close()


NEW_ID = ("lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))),"
          " 2) || '-a' || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6)))")


def _shifted(column: str) -> str:
    """`column` (our timestamp text) moved back by :shift seconds, keeping its microseconds and +00:00."""
    return (f"CASE WHEN {column} IS NULL THEN NULL ELSE strftime('%Y-%m-%dT%H:%M:%S', {column}, "
            f"'-' || :shift || ' seconds') || substr({column}, 20) END")


def fill(sample: Path, target: Path, size: int) -> float:
    """Copy the sample into a fresh database at `target` until it holds `size` messages plus the working set;
    seconds taken."""
    from smsgate.store import SQLiteStore

    async def schema() -> None:  # migrations of the code under test
        await SQLiteStore(target).close()

    asyncio.run(schema())
    started = time.perf_counter()
    conn = sqlite3.connect(target, isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-400000")
    conn.execute("ATTACH ? AS sample", (str(sample),))
    per_copy = conn.execute("SELECT count(*) FROM sample.messages").fetchone()[0]
    wired = conn.execute("SELECT count(*) FROM sample.messages WHERE status = 'wired'").fetchone()[0]
    span = SPAN_DAYS * 86400
    copies = -(-size // per_copy) if size else 0
    columns = {t: [r[1] for r in conn.execute(f"PRAGMA sample.table_info({t})")]
               for t in ("messages", "status_history", "channel_logs")}
    msg_cols = [c for c in columns["messages"]]
    hist_cols = [c for c in columns["status_history"] if c != "seq"]
    log_cols = [c for c in columns["channel_logs"] if c != "seq"]

    def copy(where: str, shift: int, limit: int | None = None) -> int:
        conn.execute("BEGIN")
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS map (old TEXT PRIMARY KEY, new TEXT NOT NULL)")
        conn.execute("DELETE FROM map")
        conn.execute(f"INSERT INTO map SELECT id, {NEW_ID} FROM sample.messages WHERE {where} ORDER BY rowid"
                     + (f" LIMIT {limit}" if limit is not None else ""))
        moved = {"created_at", "updated_at", "next_attempt_at", "sending_at", "lease_until"}
        select = ", ".join("map.new" if c == "id" else _shifted(f"m.{c}") if c in moved else f"m.{c}"
                           for c in msg_cols)
        n = conn.execute(f"INSERT INTO messages ({', '.join(msg_cols)}) SELECT {select} FROM sample.messages m"
                         " JOIN map ON map.old = m.id ORDER BY m.rowid", {"shift": shift}).rowcount
        select = ", ".join("map.new" if c == "message_id" else _shifted("h.at") if c == "at" else f"h.{c}"
                           for c in hist_cols)
        conn.execute(f"INSERT INTO status_history ({', '.join(hist_cols)}) SELECT {select}"
                     " FROM sample.status_history h JOIN map ON map.old = h.message_id ORDER BY h.seq",
                     {"shift": shift})
        select = ", ".join("map.new" if c == "message_id" else f"{NEW_ID}" if c == "id"
                           else _shifted("l.created_at") if c == "created_at" else f"l.{c}" for c in log_cols)
        conn.execute(f"INSERT INTO channel_logs ({', '.join(log_cols)}) SELECT {select}"
                     " FROM sample.channel_logs l JOIN map ON map.old = l.message_id ORDER BY l.seq",
                     {"shift": shift})
        conn.execute("COMMIT")
        return n

    stored = 0
    for k in range(copies):  # oldest first, so the order rows are stored in is their time order
        shift = int(span * (copies - k) / max(copies, 1)) + 3600
        stored += copy("1", shift, min(per_copy, size - stored))
    for k in range(-(-WORKING_SET // wired)):  # the DLRs' working set: the newest, just before now
        copy("status = 'wired'", 600 - k, min(wired, WORKING_SET - k * wired))
    conn.execute("DETACH sample")
    conn.close()
    return time.perf_counter() - started


def working_set(database: Path) -> list[str]:
    """Ids of the wired sends the DLR run reports on."""
    with sqlite3.connect(database) as conn:
        return [r[0] for r in conn.execute("SELECT id FROM messages WHERE status = 'wired' AND channel = 'kn'"
                                           " ORDER BY rowid DESC LIMIT ?", (WORKING_SET,))]


def api_ms(base: str, path: str, runs: int = 20, **params: str) -> float:
    """Median milliseconds of `runs` GETs of an API route (the server idle)."""
    times = []
    with httpx.Client(base_url=base, headers=AUTH, timeout=60) as client:
        for _ in range(runs):
            started = time.perf_counter()
            response = client.get(path, params=params)
            times.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
    return statistics.median(times)


def store_ms(database: Path, runs: int = 20) -> dict[str, float]:
    """What `smsgate messages` and `smsgate logs --errors` run: the read-only store, as the CLI opens it."""
    from smsgate.store import SQLiteStore

    async def go() -> dict[str, float]:
        store = SQLiteStore(database, readonly=True)
        try:
            out = {}
            for name, call in [("cli messages", lambda: store.list_messages(limit=20)),
                               ("cli logs --errors", lambda: store.list_logs(errors_only=True, limit=20))]:
                times = []
                for _ in range(runs):
                    started = time.perf_counter()
                    await call()
                    times.append((time.perf_counter() - started) * 1000)
                out[name] = statistics.median(times)
            return out
        finally:
            await store.close()

    return asyncio.run(go())


def measure(database: Path, connections: int, seconds: float, rounds: int) -> dict[str, float]:
    """Start `smsgate serve` on `database` and measure everything of one size."""
    out: dict[str, float] = {}
    with sqlite3.connect(database) as conn:
        out["stored at start"] = conn.execute("SELECT count(*) FROM messages").fetchone()[0]
    dlrs = working_set(database)
    random.Random(7).shuffle(dlrs)
    # each run reports a new status for every message of the set: 8 (accepted by the SMSC, `sent`), then 1
    # (`delivered`), so each report moves a message forward as a real DLR does
    scripts = [paths_script([f"/c/kn/status?id={i}&status={s}&smsc_reply=ACK%2F" for i in dlrs]) for s in (8, 1)]
    with server("gateway", str(database), "FULL", "growth") as port:
        base = f"http://127.0.0.1:{port}"
        wrk(f"{base}/c/b/receive", connections=connections, seconds=1, script=post_script(FORM))  # warm-up
        ingest = [wrk(f"{base}/c/b/receive", connections=connections, seconds=seconds, script=post_script(FORM))
                  for _ in range(rounds)]
        out["ingest"] = statistics.median(r["rate"] for r in ingest)
        out["ingest p50"] = statistics.median(r["p50"] for r in ingest)
        out["ingest p99"] = statistics.median(r["p99"] for r in ingest)
        dlr = [wrk(f"{base}/c/kn/status", connections=connections, seconds=seconds, script=scripts[r % 2])
               for r in range(rounds)]
        out["dlr"] = statistics.median(r["rate"] for r in dlr)
        out["dlr p99"] = statistics.median(r["p99"] for r in dlr)
        with sqlite3.connect(database) as conn:
            some = conn.execute("SELECT id FROM messages WHERE rowid = (SELECT max(rowid) / 2 FROM messages)"
                                ).fetchone()[0]
        out["api list"] = api_ms(base, "/api/v1/messages", limit="50")
        out["api list in"] = api_ms(base, "/api/v1/messages", limit="50", direction="in")
        out["api list failed"] = api_ms(base, "/api/v1/messages", limit="50", status="failed")
        with httpx.Client(base_url=base, headers=AUTH) as client:
            first = client.get("/api/v1/messages", params={"limit": "50"}).json()
        if first.get("next_cursor"):
            out["api page 2"] = api_ms(base, "/api/v1/messages", limit="50", cursor=first["next_cursor"])
        out["api show"] = api_ms(base, f"/api/v1/messages/{some}")
        out.update(store_ms(database))
        stop = time.monotonic() + seconds + 2
        listings = 0

        async def lister() -> None:  # a console refreshing the slowest listing, back to back
            nonlocal listings
            async with httpx.AsyncClient(base_url=base, headers=AUTH, timeout=120) as client:
                while time.monotonic() < stop:
                    (await client.get("/api/v1/messages", params={"limit": "50", "status": "failed"})
                     ).raise_for_status()
                    listings += 1

        import threading

        reader = threading.Thread(target=lambda: asyncio.run(lister()))
        reader.start()
        loaded = wrk(f"{base}/c/b/receive", connections=connections, seconds=seconds, script=post_script(FORM))
        reader.join()
        out["ingest p99 while listing"] = loaded["p99"]
        out["ingest while listing"] = loaded["rate"]
        out["listings meanwhile"] = listings
    with sqlite3.connect(database) as conn:
        out["stored at end"] = conn.execute("SELECT count(*) FROM messages").fetchone()[0]
    out["bytes/msg"] = os.path.getsize(database) / max(out["stored at end"], 1)
    return out


def prune_phase(database: Path, connections: int, seconds: float) -> dict[str, float] | None:
    """Start with message_retention_days = half the span: the dispatcher deletes the older half at start-up while
    wrk ingests. None when this smsgate has no message retention."""
    from smsgate.host import GatewaySettings

    if "message_retention_days" not in GatewaySettings.model_fields:
        return None
    with sqlite3.connect(database) as conn:
        before = conn.execute("SELECT count(*) FROM messages").fetchone()[0]
    out: dict[str, float] = {}
    with server("gateway", str(database), "FULL", "growth", str(SPAN_DAYS / 2)) as port:
        started = time.monotonic()
        run = wrk(f"http://127.0.0.1:{port}/c/b/receive", connections=connections, seconds=seconds,
                  script=post_script(FORM))
        out["ingest during prune"], out["ingest p99 during prune"] = run["rate"], run["p99"]
        ingested = int(str(run["raw"]).split(" requests in")[0].split()[-1])
        last, still = -1, 0
        while still < 3 and time.monotonic() - started < 900:
            with sqlite3.connect(database) as conn:
                now = conn.execute("SELECT count(*) FROM messages").fetchone()[0]
            still = still + 1 if now == last else 0
            last = now
            time.sleep(1)
        out["pruned"] = before + ingested - last
        out["prune seconds"] = time.monotonic() - started - 3
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="0,100000,1000000")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2, help="wrk runs per rate (median)")
    parser.add_argument("--prune", action="store_true", help="also measure retention at the largest size")
    parser.add_argument("--keep", help="folder for the databases (default: a temporary one, deleted)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    folder = Path(args.keep or tempfile.mkdtemp(prefix="smsgate-growth-"))
    folder.mkdir(parents=True, exist_ok=True)
    sample = folder / "sample.sqlite3"
    if not sample.exists():
        asyncio.run(make_sample(sample))
    results = {}
    for size in sizes:
        database = folder / f"growth-{size}.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)
        took = fill(sample, database, size)
        print(f"filled {size:,} messages (+{WORKING_SET:,} working set) in {took:.0f} s", flush=True)
        results[size] = measure(database, args.connections, args.seconds, args.rounds)
        if args.prune and size == sizes[-1]:
            pruned = prune_phase(database, args.connections, args.seconds)
            if pruned:
                results[size].update(pruned)
        if not args.keep:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{database}{suffix}").unlink(missing_ok=True)
    print(f"growth: wrk -t1 -c{args.connections}, {args.seconds:g} s per run, median of {args.rounds}; "
          "reads: median of 20 (ms)")
    rows = ["stored at start", "stored at end", "bytes/msg", "ingest", "ingest p50", "ingest p99", "dlr", "dlr p99",
            "api list", "api list in", "api list failed", "api page 2", "api show", "cli messages", "cli logs --errors",
            "ingest while listing", "ingest p99 while listing", "listings meanwhile", "ingest during prune",
            "ingest p99 during prune", "pruned", "prune seconds"]
    print(f"  {'':26s}" + "".join(f"{s:>14,}" for s in sizes))
    for row in rows:
        if not any(row in results[s] for s in sizes):
            continue
        cells = "".join(f"{results[s][row]:14,.1f}" if row in results[s] else f"{'-':>14s}" for s in sizes)
        print(f"  {row:26s}{cells}")
    small, large = results[sizes[0]], results[sizes[-1]]
    print(f"  at {sizes[-1]:,} vs {sizes[0]:,}: ingest rate {large['ingest'] / small['ingest']:.2f}x (target >= 0.9), "
          f"ingest p99 {large['ingest p99'] / small['ingest p99']:.2f}x (target <= 2), DLR rate "
          f"{large['dlr'] / small['dlr']:.2f}x (target >= 0.9), DLR p99 {large['dlr p99'] / small['dlr p99']:.2f}x, "
          f"listing {large['api list']:.1f} ms (target <= 50)")


if __name__ == "__main__":
    main()
