"""What the console's message indexes cost ingest: `smsgate serve` (no metrics) twice, one with the two indexes
the console's reads need dropped after start, the same inbound load in interleaved rounds.

    .venv/bin/python bench/index_cost.py [--rounds 8] [--requests 4000]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import server
from ingest import load

CONSOLE_INDEXES = ("messages_by_created", "messages_by_contact")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--requests", type=int, default=4000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="smsgate-index-cost-"))
    with_db, without_db = work / "with.sqlite3", work / "without.sqlite3"
    with server("gateway", str(with_db), "FULL", "nometrics") as with_port, \
            server("gateway", str(without_db), "FULL", "nometrics") as without_port:
        time.sleep(0.5)
        with sqlite3.connect(without_db) as conn:  # the server created the schema; later inserts skip these
            for name in CONSOLE_INDEXES:
                conn.execute(f"DROP INDEX {name}")
        for port in (with_port, without_port):
            asyncio.run(load(port, 300, 64))
        withs: list[float] = []
        withouts: list[float] = []
        for i in range(args.rounds):
            pair = [(withs, with_port), (withouts, without_port)]
            for rates, port in pair if i % 2 == 0 else reversed(pair):
                rates.append(asyncio.run(load(port, args.requests, 64)))
    a, b = statistics.median(withs), statistics.median(withouts)
    print(f"ingest, {args.requests} requests x {args.rounds} rounds, 64 in flight, no metrics")
    print(f"  with {', '.join(CONSOLE_INDEXES)}  {a:8.1f} req/s (rounds: {', '.join(f'{r:.0f}' for r in withs)})")
    print(f"  without them  {b:8.1f} req/s (rounds: {', '.join(f'{r:.0f}' for r in withouts)})")
    print(f"  ratio with/without = {a / b:.3f}")


if __name__ == "__main__":
    main()
