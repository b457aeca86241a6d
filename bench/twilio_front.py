"""Twilio front benchmark: the CPU of one API send through Twilio's Messages API (`[twilio_api]`) against one
through `/api/v1/messages`, in the same run, on the same gateway.

    .venv/bin/python bench/twilio_front.py [--messages 3000] [--rounds 5] [--concurrency 16]

Each door gets the same job in alternating rounds, each round on a fresh `smsgate serve` process
(bench/servers/twilio_gateway.py: one http channel to the stub aggregator bench/servers/http_stub.py, metrics on,
SQLite synchronous=FULL): a keep-alive client (bench/_common.py's `hammer`, a few microseconds per request)
POSTs `--messages` messages, `--concurrency` at a time, each authenticated as its door wants it (a bearer
token with a JSON body; basic auth with Twilio's form body, what the SDKs send). Then:

- send: the gateway's CPU (user + system, from /proc) from the first request until the last message left for
  the stub (the worker sent it), per message: what one API send costs, whole. Target: twilio / api <= 1.1.
- accept: the same job against a gateway without its worker, so the CPU is the request's alone (reading,
  authenticating, validating, queuing durably, answering): the front's own cost, magnified.
Each door goes first every other round. Medians of the rounds are reported, with each round's figure and ratio:
on a shared machine one round swings by 20% either way, so take five rounds or more.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sqlite3
import statistics
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent / "servers"))
from _common import hammer, process_cpu, server
from twilio_gateway import ACCOUNT_SID, API_TOKEN, AUTH_TOKEN

TO = "+250788123123"
TEXT = "El amor es paciente. El amor es amable."
DOORS = {
    "api": ("/api/v1/messages", "application/json", {"Authorization": f"Bearer {API_TOKEN}"},
            lambda i: json.dumps({"channel": "b", "to": TO, "text": f"{TEXT} {i}"}).encode()),
    "twilio": (f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json", "application/x-www-form-urlencoded",
               {"Authorization": "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()},
               lambda i: urllib.parse.urlencode({"To": TO, "From": "+250788000000", "Body": f"{TEXT} {i}"}).encode()),
}


def _pending(database: Path) -> int:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        return int(conn.execute("SELECT count(*) FROM messages WHERE status IN ('queued', 'errored')").fetchone()[0])


def one_run(door: str, mode: str, stub: str, workdir: Path, n: int, concurrency: int, counter: int) -> float:
    """CPU microseconds per message of a fresh gateway taking `n` messages through `door`."""
    path, ctype, headers, body = DOORS[door]
    database = workdir / f"{door}-{mode}-{counter}.sqlite3"
    with server("twilio_gateway", str(database), stub, mode) as port:
        pid = _pid_on(port)
        asyncio.run(hammer(port, path, [body(i) for i in range(200)], concurrency, ctype, headers))  # warm-up
        _drain(database, mode, 200)
        before = process_cpu([pid])
        asyncio.run(hammer(port, path, [body(i) for i in range(n)], concurrency, ctype, headers))
        _drain(database, mode, n + 200)
        used = process_cpu([pid]) - before
    return used / n * 1e6


def _drain(database: Path, mode: str, total: int) -> None:
    """Wait until the worker sent every message (serve); with `accept` there is no worker: they stay queued."""
    deadline = time.monotonic() + 300
    while mode == "serve" and _pending(database):
        if time.monotonic() > deadline:
            raise RuntimeError("the worker did not send every message within 300 s")
        time.sleep(0.02)
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        stored = conn.execute("SELECT count(*) FROM messages").fetchone()[0]
    if stored != total:
        raise RuntimeError(f"{stored} messages stored, {total} posted")


def _pid_on(port: int) -> int:
    """The pid of the process listening on 127.0.0.1:`port` (the server `server()` started)."""
    import os

    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1].endswith(f":{port:04X}") and fields[3] == "0A":
            inode = fields[9]
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if any(os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]" for fd in os.listdir(f"/proc/{pid}/fd")):
                return int(pid)
        except OSError:
            continue
    raise RuntimeError(f"no process listens on {port}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="smsgate-twilio-bench-"))
    results: dict[tuple[str, str], list[float]] = {(d, m): [] for m in ("serve", "accept") for d in DOORS}
    counter = 0
    with server("http_stub") as stub_port:
        stub = f"http://127.0.0.1:{stub_port}/send"
        for round_ in range(args.rounds):
            for mode in ("serve", "accept"):
                # each door goes first every other round, so drift on this shared machine hits both alike
                for door in (list(DOORS) if round_ % 2 == 0 else list(DOORS)[::-1]):
                    counter += 1
                    results[door, mode].append(one_run(door, mode, stub, workdir, args.messages, args.concurrency,
                                                       counter))
    print(f"twilio front: {args.messages} messages per run, {args.concurrency} in flight, median of {args.rounds} "
          "rounds, a fresh smsgate serve (SQLite synchronous=FULL, metrics on) per run; gateway CPU per message")
    for mode, what in (("serve", "send (accepted, queued, sent to the stub)"), ("accept", "accept (no worker)")):
        api, twilio = (statistics.median(results[d, mode]) for d in DOORS)
        rounds = {d: ", ".join(f"{x:.0f}" for x in results[d, mode]) for d in DOORS}
        ratios = [t / a for a, t in zip(results["api", mode], results["twilio", mode], strict=True)]
        print(f"  {what}: /api/v1 {api:.0f} us (rounds {rounds['api']}), Twilio front {twilio:.0f} us "
              f"(rounds {rounds['twilio']}): ratio of medians {twilio / api:.3f}, median of the rounds' ratios "
              f"{statistics.median(ratios):.3f} ({', '.join(f'{r:.2f}' for r in ratios)})"
              + ("   (target <= 1.1)" if mode == "serve" else ""))


if __name__ == "__main__":
    main()
