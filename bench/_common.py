"""Shared bench helpers: a local aggregator stub under uvicorn, started and stopped by PID."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 20.0) -> None:
    """Block until something accepts connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


@contextlib.contextmanager
def server(module: str, *args: str, port: int | None = None, env: dict[str, str] | None = None
           ) -> Iterator[int]:
    """Run `python bench/servers/<module>.py PORT *args` in its own process; yield the port; stop it by PID."""
    port = port or free_port()
    proc = subprocess.Popen([sys.executable, str(HERE / "servers" / f"{module}.py"), str(port), *args], cwd=ROOT,
                            env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_port(port)
        yield port
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def run_pool(n: int, concurrency: int, one: Callable[[int], Awaitable[None]]) -> float:
    """Run `one(i)` for i in range(n) with `concurrency` in flight; return messages per second."""
    counter = iter(range(n))

    async def worker() -> None:
        for i in counter:
            await one(i)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return n / (time.perf_counter() - start)


@contextlib.contextmanager
def peak_memory() -> Iterator[dict[str, float]]:
    """Measure peak Python heap (MiB) of the enclosed block with tracemalloc."""
    out: dict[str, float] = {}
    tracemalloc.start()
    try:
        yield out
    finally:
        out["peak_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()


async def hammer(port: int | list[int], path: str, bodies: list[bytes], concurrency: int,
                 content_type: str = "application/x-www-form-urlencoded", headers: dict[str, str] | None = None
                 ) -> float:
    """A minimal keep-alive HTTP/1.1 load generator (asyncio streams): POST every body, return requests/s.

    httpx's pool slows down sharply with many open connections, so as a load generator it would measure
    itself; this client costs a few microseconds per request and checks every answer is 2xx.
    """

    queue = iter(bodies)
    ports = port if isinstance(port, list) else [port]  # several instances: connections spread over them
    extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())

    async def connection(port: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for body in queue:
                writer.write(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: {content_type}\r\n"
                             f"{extra}Content-Length: {len(body)}\r\n\r\n".encode() + body)
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head.split(b" ", 2)[1])
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                await reader.readexactly(length)
                if not 200 <= status < 300:
                    raise RuntimeError(f"HTTP {status} from {path}")
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(connection(ports[i % len(ports)]) for i in range(concurrency)))
    return len(bodies) / (time.perf_counter() - start)


@contextlib.contextmanager
def postgres() -> Iterator[object]:
    """A durable throwaway PostgreSQL cluster (tests/support/peers `Postgres(durable=True)`: fsync and synchronous
    commit on, as in production), with pg_stat_statements loaded so a run can say where its database time went."""
    sys.path.insert(0, str(ROOT))  # the repository root, for tests.support
    from tests.support.peers import Postgres

    with Postgres(durable=True, settings={"shared_preload_libraries": "pg_stat_statements",
                                          "shared_buffers": "256MB", "max_wal_size": "2GB"}) as cluster:
        yield cluster


def process_cpu(pids: list[int]) -> float:
    """CPU seconds (user + system) used so far by `pids` and all their descendants, the exited ones included
    (their time is in the parent's cutime/cstime once reaped), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(entry)] = fields
        children.setdefault(int(fields[1]), []).append(int(entry))
    total, todo, seen = 0.0, list(pids), set()
    while todo:
        pid = todo.pop()
        if pid in seen or pid not in stats:
            continue
        seen.add(pid)
        fields = stats[pid]
        total += (int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])) / ticks  # own + reaped
        todo.extend(children.get(pid, []))
    return total


def pg_top_statements(cluster: object, database: str, limit: int = 8) -> list[str]:
    """The statements that took the database's time, as `ms total | calls | ms per call | query`."""
    psql = cluster.psql  # type: ignore[attr-defined]
    psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements", database)
    rows = psql("SELECT round(total_exec_time::numeric, 0) || '|' || calls || '|' || round((total_exec_time / calls)"
                "::numeric, 3) || '|' || left(regexp_replace(query, '\\s+', ' ', 'g'), 90) FROM pg_stat_statements"
                " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
                f" ORDER BY total_exec_time DESC LIMIT {limit}", database)
    return [line for line in rows.splitlines() if line.strip()]


# -- wrk: the load generator that is never the cap (C, event loop, one thread) ----------------------------

WRK_POST = """
wrk.method = "POST"
wrk.body = {body!r}
wrk.headers["Content-Type"] = {content_type!r}
"""

WRK_PATHS = """
local paths = {{{paths}}}
local i = 0
request = function()
  i = i + 1
  return wrk.format({method!r}, paths[(i - 1) % #paths + 1])
end
"""


def wrk(url: str, *, connections: int, seconds: float, script: str | None = None, threads: int = 1
        ) -> dict[str, float]:
    """Run `wrk --latency` against `url`; requests/s and latency percentiles (ms). Fails on any non-2xx answer
    or socket error, so a rate is only ever of successful requests."""
    import re
    import shutil
    import tempfile

    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", "--timeout", "30s"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(script or "")
    args += ["-s", lua.name, url]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    os.unlink(lua.name)
    if "Non-2xx or 3xx responses" in out or "Socket errors" in out:
        raise RuntimeError(f"wrk saw failures against {url}:\n{out}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def ms(label: str) -> float:
        found = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if found is None:
            return float("nan")
        value, unit = float(found.group(1)), found.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    return {"rate": rate, "p50": ms("50"), "p90": ms("90"), "p99": ms("99"), "raw": out}  # type: ignore[dict-item]


def post_script(body: str, content_type: str = "application/x-www-form-urlencoded") -> str:
    """A wrk script POSTing `body` on every request."""
    return WRK_POST.format(body=body, content_type=content_type)


def paths_script(paths: list[str], method: str = "GET") -> str:
    """A wrk script requesting `paths` in turn (each connection's thread cycles through all of them)."""
    return WRK_PATHS.format(paths=", ".join(repr(p).replace("'", '"') for p in paths), method=method)


# -- the raw Python clients: what a hand-written loop does, without any pipeline ------------------------

async def httpx_rate(n: int, concurrency: int, request: Callable[[int], tuple[str, str, bytes | None]],
                     ok: Callable[[int], bool] = lambda status: 200 <= status < 300) -> float:
    """`n` requests with `concurrency` in flight from one pooled `httpx.AsyncClient` (its own transport, httpcore);
    `request(i)` gives (method, url, body). Messages per second."""
    import httpx

    limits = httpx.Limits(max_connections=max(concurrency, 10), max_keepalive_connections=max(concurrency, 10))
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        async def one(i: int) -> None:
            method, url, body = request(i)
            response = await client.request(method, url, content=body,
                                            headers={"Content-Type": "application/json"} if body else None)
            if not ok(response.status_code):
                raise RuntimeError(f"httpx: HTTP {response.status_code} {response.text[:200]}")

        return await run_pool(n, concurrency, one)


async def aiohttp_rate(n: int, concurrency: int, request: Callable[[int], tuple[str, str, bytes | None]],
                       ok: Callable[[int], bool] = lambda status: 200 <= status < 300) -> float:
    """The Python client limit: `n` requests with `concurrency` in flight from one bare `aiohttp.ClientSession`
    (the pool smsgate's transport uses), reading each body. Messages per second."""
    import aiohttp

    connector = aiohttp.TCPConnector(limit=max(concurrency, 10), limit_per_host=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def one(i: int) -> None:
            method, url, body = request(i)
            async with session.request(method, url, data=body,
                                       headers={"Content-Type": "application/json"} if body else None) as response:
                await response.read()
                if not ok(response.status):
                    raise RuntimeError(f"aiohttp: HTTP {response.status}")

        return await run_pool(n, concurrency, one)


def timed(fn: Callable[[], float], n: int) -> tuple[float, float]:
    """Run `fn()` (returning a rate); (that rate, this process's CPU microseconds per message)."""
    cpu = time.process_time()
    rate = fn()
    return rate, (time.process_time() - cpu) / n * 1e6
