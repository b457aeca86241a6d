"""Thousands of stalled sockets against `smsgate serve`: are they dropped, and are honest clients still served?

    .venv/bin/python bench/stall.py [--sockets 3000] [--timeout 5] [--requests 200]

Runs `smsgate serve` twice in one run: with `header_timeout`/`body_timeout` at `--timeout` seconds (smsgate's
deadlines) and with them at a million seconds (what uvicorn alone does). Each time it opens `--sockets`
connections that stall in four ways (silent, half a request line, endless headers, a short body), then times
`--requests` honest inbound callbacks, then waits for the server to drop the stalled sockets, reading the
server's open file descriptors from /proc.
"""

from __future__ import annotations

import argparse
import itertools
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the repository root, for tests.support

from tests.support.peers import free_port  # noqa: E402
from tests.support.served import Served  # noqa: E402

STALLS = [b"", b"POST /c/ex/rec", b"POST /c/ex/receive HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n",
          b"POST /c/ex/receive HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
          b"Content-Length: 1000\r\n\r\nfrom=%2B12025550123&text="]


def fds(pid: int) -> int:
    """Open file descriptors of process `pid`."""
    return len(list(Path(f"/proc/{pid}/fd").iterdir()))


def honest(url: str, count: int) -> list[float]:
    """Latencies (ms) of `count` sequential inbound callbacks."""
    out = []
    with httpx.Client(base_url=url, timeout=30) as client:
        for i in range(count):
            started = time.perf_counter()
            response = client.post("/c/ex/receive", data={"from": "+12025550123", "text": f"honest {i}"})
            out.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.text
    return out


def one(timeout: float, sockets: int, requests: int, folder: Path) -> dict[str, float]:
    """One server run; the figures of the table."""
    port = free_port()
    config = folder / f"smsgate-{timeout:g}.toml"
    config.write_text(
        f'[gateway]\nhost = "127.0.0.1"\nport = {port}\ndatabase = "{folder / f"db-{timeout:g}.sqlite3"}"\n'
        f'header_timeout = {timeout}\nbody_timeout = {timeout}\n'
        '[channels.ex]\nadapter = "http"\ncountry = "US"\nsend_url = "http://127.0.0.1:9/unused"\n')
    served = Served(config, port, folder / f"serve-{timeout:g}.log")
    served.start()
    try:
        assert served.proc is not None
        pid = served.proc.pid
        quiet = honest(served.url, requests)
        base = fds(pid)
        stalled = []
        for payload in itertools.islice(itertools.cycle(STALLS), sockets):
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(payload)
            stalled.append(sock)
        time.sleep(0.5)
        held = fds(pid) - base
        loaded = honest(served.url, requests)
        started = time.monotonic()
        wait = timeout * 2 + 5 if timeout < 1000 else 10.0
        while fds(pid) - base > 10 and time.monotonic() - started < wait:
            time.sleep(0.2)
        left = fds(pid) - base
        dropped_after = time.monotonic() - started
        for sock in stalled:
            sock.close()
        return {"held": held, "left": left, "dropped_after": dropped_after,
                "quiet_p50": statistics.median(quiet), "quiet_p99": sorted(quiet)[int(len(quiet) * 0.99) - 1],
                "loaded_p50": statistics.median(loaded), "loaded_p99": sorted(loaded)[int(len(loaded) * 0.99) - 1]}
    finally:
        served.stop()


def main() -> int:
    """Run both configurations and print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sockets", type=int, default=3000)
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="smsgate-stall-") as tmp:
        rows = [("smsgate deadlines", one(args.timeout, args.sockets, args.requests, Path(tmp))),
                ("no deadlines (uvicorn alone)", one(1e6, args.sockets, args.requests, Path(tmp)))]
    print(f"{args.sockets} stalled sockets, {args.requests} honest callbacks before and during, timeout "
          f"{args.timeout:g}s\n")
    print("| server | stalled fds held | p50 / p99 quiet (ms) | p50 / p99 with stalled sockets (ms) | "
          "fds still held after |")
    print("|---|---:|---:|---:|---|")
    for name, r in rows:
        print(f"| {name} | {r['held']:.0f} | {r['quiet_p50']:.1f} / {r['quiet_p99']:.1f} | "
              f"{r['loaded_p50']:.1f} / {r['loaded_p99']:.1f} | {r['left']:.0f} after {r['dropped_after']:.1f}s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
