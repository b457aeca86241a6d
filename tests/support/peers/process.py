"""What every peer shares: free ports, one child process stopped by PID, and the `Peer` base each peer extends.

A `Peer` is a context manager. `start()` runs the subclass's `_start()` (spawning `Child` processes, each with
its output in a log file in the peer's work dir, then waiting until the peer is really ready); a peer that
cannot start raises `PeerStartError` with the tail of its logs. `stop()` stops the children in reverse order,
each by PID (SIGTERM, wait, SIGKILL, wait), and an `atexit` hook stops any peer a test forgot.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Self

__all__ = ["LOOPBACK", "REPO_ROOT", "Child", "Peer", "PeerStartError", "free_port", "free_ports", "http_get",
           "listening_ports", "tail"]


REPO_ROOT = Path(__file__).resolve().parents[3]
LOOPBACK = "127.0.0.1"


class PeerStartError(RuntimeError):
    """A peer did not come up within its timeout (message has its log tail)."""


# --------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------


# A port is chosen some time before its peer binds it. Ports the kernel hands out for bind(0) come from the
# ephemeral range, so two choices made before either is bound (a Kannel's admin port and the smsgate serve it
# calls back) can be the same port, and a parallel pytest worker can be given it too. Instead each process walks
# a block of its own below the ephemeral range, in turn, so a port comes round again only after the whole block.
_BLOCK = 2000
_FIRST = 12000
_PORTS_LOCK = threading.Lock()
_next_port: int | None = None


def _block() -> tuple[int, int] | None:
    """This process's block of ports (by pytest-xdist worker), or None when the ephemeral range overlaps it."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    index = int(worker) if worker.isdigit() else 0
    start = _FIRST + (index % 8) * _BLOCK
    return (start, start + _BLOCK) if start + _BLOCK <= low else None


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now and not handed out recently by this process."""
    return free_ports(1)[0]


def free_ports(n: int) -> list[int]:
    """``n`` distinct free ports (each bound once to check it is free, none handed out recently)."""
    global _next_port
    block = _block()
    if block is None:  # an unusual ephemeral range: the kernel's choice (all sockets held until all are chosen)
        socks: list[socket.socket] = []
        try:
            for _ in range(n):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.bind((LOOPBACK, 0))
                socks.append(s)
            return [s.getsockname()[1] for s in socks]
        finally:
            for s in socks:
                s.close()
    start, end = block
    chosen: list[int] = []
    with _PORTS_LOCK:
        port = _next_port if _next_port is not None else start + os.getpid() % _BLOCK
        for _ in range(end - start):
            port = start + (port - start) % (end - start)
            candidate, port = port, port + 1
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                try:
                    probe.bind((LOOPBACK, candidate))
                except OSError:
                    continue
            chosen.append(candidate)
            if len(chosen) == n:
                break
        _next_port = port
    if len(chosen) < n:
        raise RuntimeError(f"no {n} free ports in {start}-{end - 1} on {LOOPBACK}")
    return chosen


def listening_ports() -> set[int]:
    """TCP ports in LISTEN state (parsed from /proc/net/tcp{,6}, like ``ss -ltn``).

    Used to wait for a port without connecting to it (Kannel's fake SMSC
    serves one client only: a probe connection would take its place).
    """
    ports: set[int] = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as fh:
                next(fh, None)
                for line in fh:
                    parts = line.split()
                    if len(parts) > 3 and parts[3] == "0A":  # TCP_LISTEN
                        ports.add(int(parts[1].rsplit(":", 1)[1], 16))
        except FileNotFoundError:
            continue
    if not ports and shutil.which("ss"):
        out = subprocess.run(["ss", "-Hltn"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            parts = line.split()
            if len(parts) >= 4:
                ports.add(int(parts[3].rsplit(":", 1)[1]))
    return ports


def tail(path: Path | None, lines: int = 40) -> str:
    """The last `lines` lines of a log file under a header naming it ('' for no file)."""
    if path is None:
        return ""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return f"<cannot read {path}: {exc}>"
    text = data.decode("utf-8", "replace").splitlines()[-lines:]
    return f"--- tail of {path} ---\n" + "\n".join(text)


def http_get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    """GET with the standard library; returns (status, body); HTTP errors too."""
    req = urllib.request.Request(url, headers={"User-Agent": "smsgate-peers"})
    # Never go through a proxy for loopback peers.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class Child:
    """One child process with its output in a log file; stopped by PID."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        *,
        cwd: Path | None = None,
        stdin: Any = subprocess.DEVNULL,
        new_session: bool = False,
        env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.new_session = new_session
        self._log = open(log_path, "ab", buffering=0)  # noqa: SIM115 - closed in stop()
        try:
            self.proc = subprocess.Popen(
                self.argv,
                stdin=stdin,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                cwd=str(cwd) if cwd else None,
                env=env,
                start_new_session=new_session,
            )
        except BaseException:
            self._log.close()
            raise
        self.pid = self.proc.pid

    @classmethod
    def adopt(cls, name: str, proc: subprocess.Popen[bytes], log_path: Path) -> Child:
        """A `Child` for a process started elsewhere (e.g. as another user), its output already in `log_path`."""
        child = cls.__new__(cls)
        child.name, child.argv, child.log_path, child.new_session = name, list(map(str, proc.args)), log_path, False
        child._log = open(os.devnull, "ab", buffering=0)  # noqa: SIM115 - closed in stop()
        child.proc, child.pid = proc, proc.pid
        return child

    def alive(self) -> bool:
        return self.proc.poll() is None

    def _signal(self, sig: int) -> None:
        try:
            if self.new_session:
                # The child leads its own process group: catches grandchildren.
                os.killpg(self.pid, sig)
            else:
                os.kill(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def stop(self, timeout: float = 10.0, sig: int = signal.SIGTERM) -> int | None:
        """``sig`` (SIGTERM), wait up to ``timeout``, then SIGKILL and wait (reaps it)."""
        if self.proc.poll() is None:
            self._signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.proc.wait(10)
        elif self.new_session:
            self._signal(signal.SIGKILL)  # stray group members, if any
        if self.proc.stdin:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        self._log.close()
        return self.proc.returncode


_LIVE: set[Peer] = set()
_LIVE_LOCK = threading.Lock()


@atexit.register
def _stop_all_live_peers() -> None:  # safety net for forgotten peers
    with _LIVE_LOCK:
        peers = list(_LIVE)
    for peer in peers:
        try:
            peer.stop()
        except Exception:  # pragma: no cover - best effort at exit
            pass


class Peer:
    """Base: context manager, child bookkeeping, readiness loop, clean stop."""

    name = "peer"

    def __init__(self, *, startup_timeout: float, workdir: str | Path | None, keep_workdir: bool) -> None:
        self.startup_timeout = startup_timeout
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix=f"smsgate-{self.name}-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.keep_workdir = keep_workdir
        self.children: list[Child] = []
        self.startup_seconds: float | None = None
        self._started = False

    # -- to implement -------------------------------------------------------
    def _start(self) -> None:
        raise NotImplementedError

    def _log_files(self) -> Iterable[Path]:
        return [c.log_path for c in self.children]

    # -- public -------------------------------------------------------------
    def start(self) -> Self:
        if self._started:
            return self
        t0 = time.monotonic()
        with _LIVE_LOCK:
            _LIVE.add(self)
        self._started = True
        try:
            self._start()
        except BaseException:
            self.stop(cleanup=False)
            raise
        self.startup_seconds = time.monotonic() - t0
        return self

    def stop(self, cleanup: bool | None = None) -> None:
        """Stop the children in reverse start order (each by PID)."""
        for child in reversed(self.children):
            child.stop()
        with _LIVE_LOCK:
            _LIVE.discard(self)
        if cleanup is None:
            cleanup = not self.keep_workdir
        if cleanup and self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def logs(self) -> str:
        return "\n".join(tail(p) for p in self._log_files())

    def _spawn(self, name: str, argv: Sequence[str], **kw: Any) -> Child:
        child = Child(name, argv, self.workdir / f"{name}.out", **kw)
        self.children.append(child)
        return child

    def _fail(self, what: str) -> PeerStartError:
        dead = [f"{c.name} (pid {c.pid}) exited with {c.proc.returncode}" for c in self.children if not c.alive()]
        msg = f"{type(self).__name__}: {what}"
        if dead:
            msg += "; " + "; ".join(dead)
        return PeerStartError(f"{msg}\nworkdir: {self.workdir}\n{self.logs()}")

    def _wait(self, what: str, cond: Callable[[], bool], deadline: float, interval: float = 0.05) -> None:
        while True:
            for child in self.children:
                if not child.alive():
                    raise self._fail(f"{child.name} exited while waiting for {what}")
            try:
                if cond():
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise self._fail(f"timed out after {self.startup_timeout:.0f}s waiting for {what}")
            time.sleep(interval)


