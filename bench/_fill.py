"""Fill an smsgate database with N realistic messages, fast: the store's own schema, bulk inserts in one go.

    .venv/bin/python bench/_fill.py DB [--messages 1000000] [--days 30]

Three channels; half incoming, half outgoing (mostly delivered, some failed, a few still queued); 40,000
contacts; one to three status reports per outgoing message; channel logs (one per message, half with a
trace) for the newest 100,000 messages, as retention would keep them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

CHANNELS = ("kn", "ex", "tw")
WORDS = ("hello", "meeting", "tomorrow", "payment", "received", "thanks", "please", "call", "code", "order",
         "delivery", "balance", "clinic", "vaccine", "school", "market", "price", "rain", "water", "yes", "no")
OUT_STATUSES = [("delivered", 60), ("sent", 15), ("wired", 15), ("failed", 8), ("errored", 1), ("queued", 1)]
LOGGED = 100_000


def _ts(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def fill(path: Path, messages: int, days: float, seed: int = 7) -> None:
    """Create `path` with the store's schema and `messages` messages spread over the last `days` days."""
    from smsgate.store import SQLiteStore

    async def schema() -> None:
        await SQLiteStore(path).close()

    asyncio.run(schema())
    rng = random.Random(seed)
    statuses = [s for s, w in OUT_STATUSES for _ in range(w)]
    contacts = [f"+25078{rng.randrange(10**7):07d}" for _ in range(40_000)]
    now = datetime.now(UTC)
    step = timedelta(days=days) / messages
    start = now - timedelta(days=days)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous=OFF")
    began = time.perf_counter()
    batch_m, batch_h, batch_l = [], [], []

    def flush() -> None:
        conn.executemany(
            "INSERT INTO messages (id, channel, direction, to_addr, from_addr, text, status, external_id, external_ids,"
            " segments, attempts, error_code, error_reason, created_at, updated_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", batch_m)
        conn.executemany("INSERT INTO status_history (message_id, channel, status, applied, error_code, error_reason,"
                         " at) VALUES (?,?,?,1,?,?,?)", batch_h)
        conn.executemany("INSERT INTO channel_logs (id, channel, kind, message_id, is_error, elapsed_ms, created_at,"
                         " data) VALUES (?,?,?,?,?,?,?,?)", batch_l)
        batch_m.clear()
        batch_h.clear()
        batch_l.clear()

    conn.execute("BEGIN")
    for i in range(messages):
        at = start + step * i
        created = _ts(at)
        channel = CHANNELS[rng.randrange(3)]
        contact = contacts[rng.randrange(len(contacts))]
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randrange(3, 12)))
        message_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        if rng.random() < 0.5:
            batch_m.append((message_id, channel, "in", "+250788000000", contact, text, "received",
                            f"ext-{i}", json.dumps([f"ext-{i}"]), 0, 0, None, None, created, created))
            kind, error = "receive", None
        else:
            status = statuses[rng.randrange(len(statuses))]
            error = ("response_status", "HTTP 400 from agg.example") if status in ("failed", "errored") else None
            batch_m.append((message_id, channel, "out", contact, "+250788000000", text, status,
                            None if status == "queued" else f"ext-{i}", json.dumps([] if status == "queued" else
                                                                                    [f"ext-{i}"]),
                            1, 0 if status == "queued" else 1, *(error or (None, None)), created, created))
            batch_h.append((message_id, channel, "queued", None, None, created))
            if status != "queued":
                batch_h.append((message_id, channel, "wired" if not error else status, *(error or (None, None)),
                                _ts(at + timedelta(seconds=1))))
            if status in ("sent", "delivered"):
                batch_h.append((message_id, channel, status, None, None, _ts(at + timedelta(seconds=30))))
            kind = "send"
        if i >= messages - LOGGED:
            trace = {"method": "POST", "url": f"https://agg.example/{kind}", "request_headers": {
                "authorization": "**********"}, "request_body": text, "status_code": 400 if error else 200,
                "response_headers": {}, "response_body": "{\"ok\": true}", "elapsed_ms": 12.5, "error": None}
            data = {"id": str(uuid.uuid4()), "channel": channel, "kind": kind, "message_id": message_id,
                    "created_at": created, "elapsed_ms": 12.5, "errors": [error[1]] if error else [],
                    "traces": [trace]}
            batch_l.append((data["id"], channel, kind, message_id, int(bool(error)), 12.5, created,
                            json.dumps(data)))
        if len(batch_m) >= 20_000:
            flush()
    flush()
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()
    print(f"filled {path}: {messages} messages over {days:g} days in {time.perf_counter() - began:.1f}s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database", type=Path)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--days", type=float, default=30)
    args = parser.parse_args()
    fill(args.database, args.messages, args.days)
