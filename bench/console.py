"""Console benchmark: page times of /ui on a database of 1,000,000 messages vs the same pages on 1,000.

    .venv/bin/python bench/console.py [--messages 1000000] [--requests 20] [--keep DIR]

Both databases are filled by bench/_fill.py (30 days of traffic on three channels, the newest 100,000 with
channel logs); each is served by its own `smsgate serve`-like process (console and metrics on, no send worker).
A signed-in client times each page sequentially (median and worst of `--requests`, the whole HTTP round trip:
store reads, template, transfer). The ratio big/small says whether a page stays fast as the table grows: keyset
pagination and per-index reads should keep it near 1. `--keep DIR` keeps (and reuses) the filled databases.
"""

from __future__ import annotations

import argparse
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import server
from _fill import fill

TOKEN = "bench-console-token"


def database(folder: Path, messages: int) -> Path:
    path = folder / f"console-{messages}.sqlite3"
    if path.exists():
        with sqlite3.connect(path) as conn:
            if conn.execute("SELECT count(*) FROM messages").fetchone()[0] == messages:
                return path
        path.unlink()
    fill(path, messages, 30)
    return path


def signed_in(base: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=60)
    page = client.get("/ui/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    answer = client.post("/ui/login", data={"csrf_token": csrf, "secret": TOKEN})
    assert answer.status_code == 303, answer.text
    return client


def pages(client: httpx.Client, path: Path) -> dict[str, str]:
    """The URLs to time, chosen from this database's own data."""
    with sqlite3.connect(path) as conn:
        message_id, contact = conn.execute(
            "SELECT message_id, (SELECT to_addr FROM messages WHERE id = message_id) FROM channel_logs"
            " WHERE kind = 'send' ORDER BY seq DESC LIMIT 1").fetchone()
    deep = "/ui/messages"
    for _ in range(10):  # 10 pages back (500 messages): keyset, so no slower than the first
        older = re.search(r'href="/ui/messages(\?cursor=[^"]+)" rel="next"', client.get(deep).text)
        deep = "/ui/messages" + older.group(1).replace("&amp;", "&")
    return {
        "channels (3 charts, 24 h)": "/ui/channels",
        "messages, first page": "/ui/messages",
        "messages, 11th page": deep,
        "messages, channel + failed": "/ui/messages?channel=kn&status=failed",
        "messages, by number": f"/ui/messages?number={contact.replace('+', '%2B')}",
        "messages, text (no match)": "/ui/messages?text=zzz-no-such-text",
        "one message": f"/ui/messages/{message_id}",
        "outbox": "/ui/outbox",
        "/metrics scrape": "/metrics",
    }


def time_pages(base: str, path: Path, requests: int) -> dict[str, tuple[float, float]]:
    client = signed_in(base)
    timed = {}
    for label, url in pages(client, path).items():
        headers = {"Authorization": f"Bearer {TOKEN}"} if url == "/metrics" else {}
        client.get(url, headers=headers)  # warm: templates compiled, pages of the file in the OS cache
        samples = []
        for _ in range(requests):
            start = time.perf_counter()
            answer = client.get(url, headers=headers)
            samples.append((time.perf_counter() - start) * 1000)
            assert answer.status_code == 200, (url, answer.status_code, answer.text[:500])
        timed[label] = (statistics.median(samples), max(samples))
    client.close()
    return timed


def screenshot(base: str, path: Path) -> None:
    """The first channel's section of /ui/channels, in Debian's Chromium (docs/img/console-channel-day.png)."""
    from playwright.sync_api import sync_playwright

    args = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"]
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(tempfile.mkdtemp(prefix="smsgate-chromium-"),
                                                        executable_path="/usr/bin/chromium", headless=True,
                                                        args=args, viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.goto(f"{base}/ui/login")
        page.get_by_label("API token or console password").fill(TOKEN)
        page.keyboard.press("Enter")
        page.wait_for_url("**/ui/channels")
        page.locator("section.channel").first.screenshot(path=str(path))
        context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--keep", type=Path, help="folder keeping the filled databases between runs")
    parser.add_argument("--screenshot", type=Path, help="also save a channel of the big database as this PNG")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="smsgate-console-"))
    folder.mkdir(parents=True, exist_ok=True)
    small, big = database(folder, args.small), database(folder, args.messages)
    results = {}
    for path in (small, big):
        with server("console_gateway", str(path), TOKEN) as port:
            results[path] = time_pages(f"http://127.0.0.1:{port}", path, args.requests)
            if path == big and args.screenshot:
                screenshot(f"http://127.0.0.1:{port}", args.screenshot)
    print(f"console: median (worst) of {args.requests} sequential requests per page, ms; "
          f"{args.messages:,} vs {args.small:,} messages")
    print(f"  {'page':30} {args.messages:>10,} {'':>8} {args.small:>10,} {'':>8} ratio")
    for label in results[big]:
        (b, bw), (s, sw) = results[big][label], results[small][label]
        print(f"  {label:30} {b:10.1f} ({bw:6.1f}) {s:10.1f} ({sw:6.1f}) {b / s:5.2f}")
    size = big.stat().st_size / 2**20
    print(f"  database: {size:,.0f} MiB for {args.messages:,} messages (+ history, 100,000 channel logs)")


if __name__ == "__main__":
    main()
