"""Real peer servers on 127.0.0.1 for tests and cassette recording.

Plain Python (standard library only; no pytest at import). Every peer is a
context manager that starts real processes as children of this process, waits
until they are really ready, and stops them by PID (SIGTERM, wait, SIGKILL,
wait). A peer that cannot start raises :class:`PeerStartError` (a
``RuntimeError``) carrying the tail of its logs: never skip.

    with Httpbin() as hb:            hb.url              -> http://127.0.0.1:N
    with Prism() as prism:           prism.url           (Twilio contract mock)
    with Prism(media_variant_spec(tmp)) as prism: ...    (repeated MediaUrl ok)
    with Kannel(get_url=...) as k:   k.sendsms_url, k.received_mts(), k.send_mo()
    with Postgres() as pg:           pg.url("db") -> postgresql://smsgate@127.0.0.1:N/db
    with Jasmin() as j:              j.smpp_port, j.system_id/j.password, j.send_mo(pdu), j.submits()

Install the peers first: ``.ci/install-peers``. See tests/PEERS.md.
"""

from __future__ import annotations

import atexit
import copy
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Self

__all__ = [
    "REPO_ROOT",
    "TWILIO_SPEC",
    "PRISM_BIN",
    "PeerStartError",
    "free_port",
    "free_ports",
    "listening_ports",
    "Httpbin",
    "Prism",
    "media_variant_spec",
    "Kannel",
    "KANNEL_GET_URL_QUERY",
    "Postgres",
    "PG_BIN",
    "Jasmin",
    "JASMIN_DIR",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
# Twilio's Messages contract, vendored with its source and licence (adapters/twilio/contract/README.md)
TWILIO_SPEC = REPO_ROOT / "adapters" / "twilio" / "contract" / "twilio_api_v2010_messages.json"
PRISM_BIN = REPO_ROOT / "tools" / "prism" / "node_modules" / ".bin" / "prism"

BEARERBOX = os.environ.get("SMSGATE_BEARERBOX", "/usr/sbin/bearerbox")
SMSBOX = os.environ.get("SMSGATE_SMSBOX", "/usr/sbin/smsbox")
FAKESMSC = os.environ.get("SMSGATE_FAKESMSC", "/usr/lib/kannel/test/fakesmsc")

PG_BIN = Path(os.environ.get("SMSGATE_PG_BIN", "/usr/lib/postgresql/15/bin"))

# Jasmin 0.11.0 in its own venv, and the files of its sdist the wheel lacks (installed by .ci/install-peers)
JASMIN_DIR = Path(os.environ.get("SMSGATE_JASMIN_DIR", str(REPO_ROOT / "tools" / "jasmin")))
REDIS_SERVER = os.environ.get("SMSGATE_REDIS_SERVER", "/usr/bin/redis-server")
RABBITMQ_BIN = Path(os.environ.get("SMSGATE_RABBITMQ_BIN", "/usr/lib/rabbitmq/bin"))
EPMD = os.environ.get("SMSGATE_EPMD", "/usr/bin/epmd")

LOOPBACK = "127.0.0.1"

#: Query string for a Kannel sms-service get-url carrying everything an MO has.
KANNEL_GET_URL_QUERY = "sender=%p&to=%P&message=%a&ts=%T&id=%I&coding=%c&charset=%C"


class PeerStartError(RuntimeError):
    """A peer did not come up within its timeout (message has its log tail)."""


# --------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now (bind to port 0)."""
    return free_ports(1)[0]


def free_ports(n: int) -> list[int]:
    """``n`` distinct free ports (all sockets held open until all are chosen)."""
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


def _tail(path: Path | None, lines: int = 40) -> str:
    if path is None:
        return ""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return f"<cannot read {path}: {exc}>"
    text = data.decode("utf-8", "replace").splitlines()[-lines:]
    return f"--- tail of {path} ---\n" + "\n".join(text)


def _http_get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    """GET with the standard library; returns (status, body); HTTP errors too."""
    req = urllib.request.Request(url, headers={"User-Agent": "smsgate-peers"})
    # Never go through a proxy for loopback peers.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class _Child:
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
    def adopt(cls, name: str, proc: subprocess.Popen[bytes], log_path: Path) -> _Child:
        """A `_Child` for a process started elsewhere (e.g. as another user), its output already in `log_path`."""
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


_LIVE: set[_Peer] = set()
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


class _Peer:
    """Base: context manager, child bookkeeping, readiness loop, clean stop."""

    name = "peer"

    def __init__(self, *, startup_timeout: float, workdir: str | Path | None, keep_workdir: bool) -> None:
        self.startup_timeout = startup_timeout
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix=f"smsgate-{self.name}-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.keep_workdir = keep_workdir
        self.children: list[_Child] = []
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
        return "\n".join(_tail(p) for p in self._log_files())

    def _spawn(self, name: str, argv: Sequence[str], **kw: Any) -> _Child:
        child = _Child(name, argv, self.workdir / f"{name}.out", **kw)
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


# --------------------------------------------------------------------------
# httpbin
# --------------------------------------------------------------------------


class Httpbin(_Peer):
    """httpbin (Flask dev server, threaded) as a subprocess on 127.0.0.1.

    ``python -m httpbin.core --host 127.0.0.1 --port N``; ready when GET /get
    answers 200.
    """

    name = "httpbin"

    def __init__(
        self,
        port: int | None = None,
        *,
        python: str = sys.executable,
        startup_timeout: float = 20.0,
        workdir: str | Path | None = None,
        keep_workdir: bool = False,
    ) -> None:
        super().__init__(startup_timeout=startup_timeout, workdir=workdir, keep_workdir=keep_workdir)
        self.python = python
        self.port = port or free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"

    def _start(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONWARNINGS="ignore")
        self._spawn(
            "httpbin",
            [self.python, "-m", "httpbin.core", "--host", LOOPBACK, "--port", str(self.port)],
            cwd=self.workdir,
            env=env,
        )
        self._wait("GET /get == 200", lambda: _http_get(self.url + "/get", 1.0)[0] == 200, deadline)


# --------------------------------------------------------------------------
# Prism (Twilio contract mock)
# --------------------------------------------------------------------------


def media_variant_spec(dest_dir: str | Path, spec_path: str | Path | None = None) -> Path:
    """Write a copy of the Twilio spec whose create-message form body declares
    ``encoding: {MediaUrl: {style: form, explode: true}}``.

    Prism 5 rejects Twilio's real wire form for media (``MediaUrl=a&MediaUrl=b``,
    or a single ``MediaUrl=``) with 422 "must be array" under the original
    spec. With the declared encoding it accepts them (it then validates only
    the last value). Label cassettes recorded against this variant as such.
    """
    src = Path(spec_path) if spec_path else TWILIO_SPEC
    spec = json.loads(src.read_text())
    variant = copy.deepcopy(spec)
    changed = 0
    for path, item in variant.get("paths", {}).items():
        if not path.endswith("/Messages.json"):
            continue
        post = item.get("post")
        if not post:
            continue
        media = post.get("requestBody", {}).get("content", {}).get("application/x-www-form-urlencoded")
        if media and "MediaUrl" in media.get("schema", {}).get("properties", {}):
            media.setdefault("encoding", {})["MediaUrl"] = {"style": "form", "explode": True}
            changed += 1
    if not changed:
        raise RuntimeError(f"media_variant_spec: no form MediaUrl property found in {src}")
    info = variant.setdefault("info", {})
    info["description"] = (
        "LOCAL TEST VARIANT (tests/support/peers media_variant_spec): declares form encoding "
        "style=form, explode=true for MediaUrl so repeated MediaUrl keys validate in Prism. "
        + str(info.get("description", ""))
    )
    dest = Path(dest_dir) / "twilio_api_v2010_messages.media_variant.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(variant, indent=1))
    return dest


class Prism(_Peer):
    """Stoplight Prism mock of an OpenAPI spec on 127.0.0.1.

    Runs ``tools/prism/node_modules/.bin/prism mock <spec> -h 127.0.0.1 -p N``
    directly (never via npx) in its own process group, and kills that group.
    Ready when ``GET /`` gets any HTTP answer (404 once up).
    """

    name = "prism"

    def __init__(
        self,
        spec_path: str | Path | None = None,
        port: int | None = None,
        *,
        prism_bin: str | Path | None = None,
        extra_args: Sequence[str] = (),
        startup_timeout: float = 30.0,
        workdir: str | Path | None = None,
        keep_workdir: bool = False,
    ) -> None:
        super().__init__(startup_timeout=startup_timeout, workdir=workdir, keep_workdir=keep_workdir)
        self.spec_path = Path(spec_path) if spec_path else TWILIO_SPEC
        self.prism_bin = Path(prism_bin) if prism_bin else PRISM_BIN
        self.extra_args = list(extra_args)
        self.port = port or free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"

    def _start(self) -> None:
        if not self.prism_bin.exists():
            raise PeerStartError(f"Prism: {self.prism_bin} not found; run .ci/install-peers")
        if not self.spec_path.exists():
            raise PeerStartError(f"Prism: spec {self.spec_path} not found")
        deadline = time.monotonic() + self.startup_timeout
        self._spawn(
            "prism",
            [str(self.prism_bin), "mock", str(self.spec_path), "-h", LOOPBACK, "-p", str(self.port), *self.extra_args],
            cwd=self.workdir,
            new_session=True,
        )

        def answers() -> bool:
            _http_get(self.url + "/", 1.0)  # any HTTP status means Prism is serving
            return True

        self._wait("prism HTTP answer on /", answers, deadline, interval=0.1)


# --------------------------------------------------------------------------
# Kannel: bearerbox + fakesmsc + smsbox
# --------------------------------------------------------------------------

_GOT_RE = re.compile(r"Got message (\d+): <(.*)>\s*$")


def _kannel_unquote(value: str) -> bytes:
    """Undo Kannel's octstr_url_encode (space -> '+', the rest %XX)."""
    return urllib.parse.unquote_to_bytes(value.replace("+", "%20"))


def _parse_fakesmsc_line(n: int, line: str) -> dict[str, Any]:
    """``<from> <to> <type> <payload>`` as printed by fakesmsc -> dict."""
    sender, receiver, mtype, rest = [*line.split(" ", 3), "", "", ""][:4]
    mt: dict[str, Any] = {"n": n, "from": sender, "to": receiver, "type": mtype, "raw": rest, "udh": None}
    if mtype == "text":
        mt["data"] = rest.encode("utf-8", "surrogateescape")
        mt["text"] = rest
        mt["coding"] = 0
    elif mtype == "ucs-2":
        data = _kannel_unquote(rest)
        mt["data"] = data
        mt["text"] = data.decode("utf-16-be", "replace")
        mt["coding"] = 2
    elif mtype == "data":
        data = _kannel_unquote(rest)
        mt["data"] = data
        mt["text"] = data.decode("latin-1")
        mt["coding"] = 1
    elif mtype == "udh":
        # "<udh-urlencoded> data <data-urlencoded>"
        udh, _, payload = rest.partition(" data ")
        data = _kannel_unquote(payload)
        mt["udh"] = _kannel_unquote(udh)
        mt["data"] = data
        mt["text"] = data.decode("latin-1")
        mt["coding"] = 1
    else:
        mt["data"] = rest.encode("utf-8", "surrogateescape")
        mt["text"] = rest
        mt["coding"] = None
    return mt


class Kannel(_Peer):
    """A real Kannel 1.4.5 on loopback: bearerbox, fakesmsc (fake SMSC client) and smsbox.

    - ``sendsms_url``: ``http://127.0.0.1:N/cgi-bin/sendsms`` (sendsms-user
      ``username``/``password``, concatenation on);
    - ``admin_url``: bearerbox admin (``admin_password``);
    - ``received_mts()``: every MT that reached the fake SMSC, decoded;
    - ``send_mo(sender, to, text)``: a mobile-originated message, delivered by
      smsbox to ``get_url`` (a Kannel URL template, e.g.
      ``"http://127.0.0.1:8080/mo?" + KANNEL_GET_URL_QUERY``).

    ``dlr=True`` writes ``dlr-storage = internal`` explicitly; Kannel 1.4.5
    defaults to internal storage anyway, so ``dlr=False`` only omits the line
    (DLRs still work: the fake SMSC produces them for any ``dlr-mask``).
    No ``store-type``/``store-file`` is configured: nothing is replayed
    between runs. Each instance uses a fresh temp dir and 4 free ports.

    fakesmsc runs in interactive mode (no message arguments, no ``-m``): it
    reads MO lines from stdin, which we keep open as a pipe. A small thread
    writes an empty line every ``poke_interval`` s: fakesmsc only reads the
    socket (and prints received MTs) after select() on stdin returns, which
    otherwise happens once per second.
    """

    name = "kannel"

    def __init__(
        self,
        get_url: str | None = None,
        dlr: bool = True,
        *,
        username: str = "gate",
        password: str = "secretpw",
        admin_password: str = "adminpw",
        concatenation: bool = True,
        max_messages: int = 10,
        log_level: int = 0,
        extra_core: str = "",
        extra_smsc: str = "",
        extra_smsbox: str = "",
        extra_sendsms_user: str = "",
        extra_sms_service: str = "",
        mo_interval: float = 0.1,
        poke_interval: float = 0.05,
        startup_timeout: float = 20.0,
        workdir: str | Path | None = None,
        keep_workdir: bool = False,
    ) -> None:
        super().__init__(startup_timeout=startup_timeout, workdir=workdir, keep_workdir=keep_workdir)
        self.get_url = get_url
        self.dlr = dlr
        self.username = username
        self.password = password
        self.admin_password = admin_password
        self.concatenation = concatenation
        self.max_messages = max_messages
        self.log_level = log_level
        self._extra = dict(
            core=extra_core, smsc=extra_smsc, smsbox=extra_smsbox, user=extra_sendsms_user, service=extra_sms_service
        )
        self.mo_interval = mo_interval
        self.poke_interval = poke_interval
        self.admin_port, self.smsbox_port, self.smsc_port, self.sendsms_port = free_ports(4)
        self.smsc_id = "fake1"
        self.admin_url = f"http://{LOOPBACK}:{self.admin_port}"
        self.status_url = f"{self.admin_url}/status.txt?password={urllib.parse.quote(admin_password)}"
        self.sendsms_url = f"http://{LOOPBACK}:{self.sendsms_port}/cgi-bin/sendsms"
        self.conf_path = self.workdir / "kannel.conf"
        self.bearerbox_log = self.workdir / "bearerbox.log"
        self.smsbox_log = self.workdir / "smsbox.log"
        self.fakesmsc_out = self.workdir / "fakesmsc.out"
        self._stdin_lock = threading.Lock()
        self._poke_stop = threading.Event()
        self._poker: threading.Thread | None = None
        self._fakesmsc: _Child | None = None

    # -- configuration --------------------------------------------------------
    @staticmethod
    def _q(value: str) -> str:
        if '"' in value or "\n" in value:
            raise ValueError(f"Kannel config value may not contain quotes or newlines: {value!r}")
        return f'"{value}"'

    def config_text(self) -> str:
        q = self._q
        lines = [
            "group = core",
            f"admin-port = {self.admin_port}",
            f"admin-password = {q(self.admin_password)}",
            f"admin-interface = {LOOPBACK}",
            f"smsbox-port = {self.smsbox_port}",
            f"smsbox-interface = {LOOPBACK}",
            f'box-allow-ip = "{LOOPBACK}"',
            f"log-file = {q(str(self.bearerbox_log))}",
            f"log-level = {self.log_level}",
        ]
        if self.dlr:
            lines.append("dlr-storage = internal")
        # No store-type / store-file: nothing is replayed between runs.
        lines += [self._extra["core"], ""]
        lines += [
            "group = smsc",
            "smsc = fake",
            f"smsc-id = {self.smsc_id}",
            f"host = {LOOPBACK}",
            f"port = {self.smsc_port}",
            # The fake SMSC listens on all interfaces; only let loopback in.
            f'connect-allow-ip = "{LOOPBACK}"',
            self._extra["smsc"],
            "",
            "group = smsbox",
            f"bearerbox-host = {LOOPBACK}",
            f"bearerbox-port = {self.smsbox_port}",
            f"sendsms-port = {self.sendsms_port}",
            f"sendsms-interface = {LOOPBACK}",
            f"log-file = {q(str(self.smsbox_log))}",
            f"log-level = {self.log_level}",
            self._extra["smsbox"],
            "",
            "group = sendsms-user",
            f"username = {q(self.username)}",
            f"password = {q(self.password)}",
            f"concatenation = {'true' if self.concatenation else 'false'}",
            f"max-messages = {self.max_messages}",
            self._extra["user"],
            "",
            "group = sms-service",
            "keyword = default",
            "catch-all = true",
            # Never text a reply back to the handset (avoids
            # "<Empty reply from service provider>" MTs).
            "max-messages = 0",
        ]
        if self.get_url:
            lines.append(f"get-url = {q(self.get_url)}")
        else:
            lines.append('text = "no get-url configured"')
        lines += [self._extra["service"], ""]
        return "\n".join(lines)

    # -- start ------------------------------------------------------------------
    def _log_files(self) -> Iterable[Path]:
        return [*(c.log_path for c in self.children), self.bearerbox_log, self.smsbox_log]

    def _start(self) -> None:
        for exe in (BEARERBOX, SMSBOX, FAKESMSC):
            if not os.access(exe, os.X_OK):
                raise PeerStartError(f"Kannel: {exe} not found or not executable; run .ci/install-peers")
        deadline = time.monotonic() + self.startup_timeout
        self.conf_path.write_text(self.config_text())

        # 1. bearerbox; wait (without connecting!) for the fake SMSC and smsbox ports.
        self._spawn("bearerbox", [BEARERBOX, "-v", "1", str(self.conf_path)], cwd=self.workdir)
        self._wait(
            f"bearerbox listening on smsc port {self.smsc_port} and smsbox port {self.smsbox_port}",
            lambda: {self.smsc_port, self.smsbox_port} <= listening_ports(),
            deadline,
        )

        # 2. fakesmsc in interactive mode: stdin is a pipe we keep open.
        self._fakesmsc = self._spawn(
            "fakesmsc",
            [FAKESMSC, "-H", LOOPBACK, "-r", str(self.smsc_port), "-i", str(self.mo_interval), "-v", "0"],
            cwd=self.workdir,
            stdin=subprocess.PIPE,
        )
        self._poker = threading.Thread(target=self._poke_loop, name="fakesmsc-poke", daemon=True)
        self._poker.start()

        # 3. smsbox, then wait for bearerbox to report SMSC online + smsbox connected.
        self._spawn("smsbox", [SMSBOX, "-v", "1", str(self.conf_path)], cwd=self.workdir)
        self._wait("bearerbox status: smsc online and smsbox connected", self._is_ready, deadline, interval=0.1)
        self._wait(
            f"smsbox sendsms port {self.sendsms_port} listening",
            lambda: self.sendsms_port in listening_ports(),
            deadline,
        )

    def status(self) -> str:
        """bearerbox's /status.txt."""
        code, body = _http_get(self.status_url, 2.0)
        if code != 200:
            raise RuntimeError(f"Kannel admin status returned {code}: {body[:200]!r}")
        return body.decode("utf-8", "replace")

    def _is_ready(self) -> bool:
        text = self.status()
        smsc_online = re.search(rf"^\s*{re.escape(self.smsc_id)}\[.*\(online \d", text, re.M) is not None
        box_connected = re.search(r"^\s*smsbox:.*\(on-line ", text, re.M) is not None
        return smsc_online and box_connected

    # -- fakesmsc stdin ------------------------------------------------------------
    def _write_stdin(self, data: bytes) -> None:
        child = self._fakesmsc
        if child is None or child.proc.stdin is None:
            raise RuntimeError("fakesmsc is not running")
        with self._stdin_lock:
            child.proc.stdin.write(data)
            child.proc.stdin.flush()

    def _poke_loop(self) -> None:
        while not self._poke_stop.wait(self.poke_interval):
            try:
                self._write_stdin(b"\n")  # an empty line: fakesmsc just reads the socket
            except (OSError, ValueError, RuntimeError):
                return

    def send_mo(self, sender: str, to: str, text: str | None = None, *, data: bytes | None = None) -> None:
        """Make the fake SMSC deliver a mobile-originated message.

        ``text``: sent as fakesmsc type ``text`` (coding 0; non-ASCII travels as
        UTF-8 bytes and reaches the get-url with ``charset=UTF-8``).
        ``data``: sent as type ``data`` (8-bit, url-encoded on the wire).
        Kannel 1.4.5's fake SMSC has no UCS-2 MO type. fakesmsc reads stdin
        in 256-byte lines, so one line must stay below 255 bytes.
        """
        if (text is None) == (data is None):
            raise ValueError("give exactly one of text= or data=")
        for field in (sender, to):
            if not field or any(c.isspace() for c in field):
                raise ValueError(f"sender/receiver must be non-empty without spaces: {field!r}")
        if text is not None:
            if "\n" in text or "\r" in text:
                raise ValueError("fakesmsc text MOs cannot contain newlines; use data=")
            line = f"{sender} {to} text {text}\n".encode()
        else:
            line = f"{sender} {to} data {urllib.parse.quote_from_bytes(data or b'', safe='')}\n".encode()
        if len(line) > 254:
            raise ValueError(f"fakesmsc reads at most 255 bytes per line; this MO line has {len(line)}")
        self._write_stdin(line)

    # -- MTs seen by the fake SMSC ---------------------------------------------------
    def received_mts(self) -> list[dict[str, Any]]:
        """Every MT fakesmsc printed so far, in order, as dicts:
        ``n, from, to, type ('text'|'ucs-2'|'data'|'udh'), text (decoded str),
        data (bytes), udh (bytes|None), coding, raw``."""
        try:
            content = self.fakesmsc_out.read_bytes().decode("utf-8", "surrogateescape")
        except FileNotFoundError:
            return []
        mts = []
        for line in content.splitlines():
            m = _GOT_RE.search(line)
            if m:
                mts.append(_parse_fakesmsc_line(int(m.group(1)), m.group(2)))
        return mts

    def wait_for_mt(
        self, predicate: Callable[[dict[str, Any]], bool] | None = None, timeout: float = 10.0
    ) -> dict[str, Any]:
        """First received MT matching ``predicate`` (default: any); TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            for mt in self.received_mts():
                if predicate is None or predicate(mt):
                    return mt
            if time.monotonic() > deadline:
                seen = self.received_mts()
                raise TimeoutError(f"no matching MT within {timeout}s; fakesmsc saw {len(seen)}: {seen[-5:]}")
            time.sleep(0.02)

    # -- stop -------------------------------------------------------------------------
    def stop(self, cleanup: bool | None = None) -> None:
        """smsbox, then fakesmsc, then bearerbox (reverse start order), each by PID."""
        self._poke_stop.set()
        if self._poker is not None:
            self._poker.join(2)
        super().stop(cleanup)


# --------------------------------------------------------------------------
# PostgreSQL (a throwaway cluster)
# --------------------------------------------------------------------------


class Postgres(_Peer):
    """A throwaway PostgreSQL 15 cluster on 127.0.0.1: `initdb`, then `postgres` itself as our child.

    `initdb` and `postgres` refuse to run as root, so as root both run as the `postgres` user (the work
    directory is handed to it). The server runs in the foreground as our child rather than through
    `pg_ctl start`, which detaches it: so the PID we stop (SIGINT, PostgreSQL's fast shutdown) is the
    postmaster's, and it is reaped. Ready when `pg_isready` says so. User `smsgate`, trust authentication.

    `durable=False` (the default, for tests) turns fsync off: a crash of the machine may lose the cluster,
    which a test throws away anyway. Benchmarks pass `durable=True` to pay for every commit as production
    does. `stop(keep=True)` then `start()` restarts the same cluster on the same port (a database outage).
    """

    name = "postgres"

    def __init__(
        self,
        port: int | None = None,
        *,
        durable: bool = False,
        settings: dict[str, str] | None = None,
        bin_dir: str | Path | None = None,
        startup_timeout: float = 60.0,
        workdir: str | Path | None = None,
        keep_workdir: bool = False,
    ) -> None:
        super().__init__(startup_timeout=startup_timeout, workdir=workdir, keep_workdir=keep_workdir)
        self.bin_dir = Path(bin_dir) if bin_dir else PG_BIN
        self.port = port or free_port()
        self.data_dir = self.workdir / "data"
        self.user = "smsgate"
        self.settings = {"listen_addresses": LOOPBACK, "max_connections": "300", "log_min_messages": "warning",
                         **({} if durable else {"fsync": "off", "synchronous_commit": "off",
                                                  "full_page_writes": "off"}),
                         **(settings or {})}
        self._server: _Child | None = None
        self._initialised = False
        self._databases = 0

    def url(self, database: str = "postgres") -> str:
        """A libpq URL of `database` on this cluster (no password: trust authentication)."""
        return f"postgresql://{self.user}@{LOOPBACK}:{self.port}/{database}"

    def _as_postgres(self) -> dict[str, Any]:
        """Popen arguments running a command as the `postgres` user when we are root."""
        if os.geteuid() != 0:
            return {}
        import pwd

        entry = pwd.getpwnam("postgres")
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}

    def _start(self) -> None:
        for exe in ("initdb", "postgres", "pg_isready", "psql"):
            if not os.access(self.bin_dir / exe, os.X_OK):
                raise PeerStartError(f"Postgres: {self.bin_dir / exe} not found; run .ci/install-peers")
        deadline = time.monotonic() + self.startup_timeout
        ids = self._as_postgres()
        if ids:
            os.chown(self.workdir, ids["user"], ids["group"])
        if not self._initialised:
            log = self.workdir / "initdb.out"
            with open(log, "wb") as out:
                code = subprocess.run(
                    [str(self.bin_dir / "initdb"), "-D", str(self.data_dir), "-A", "trust", "-U", self.user,
                     "--no-sync", "-E", "UTF8", "--locale=C.UTF-8"],
                    stdout=out, stderr=subprocess.STDOUT, cwd=self.workdir, timeout=self.startup_timeout,
                    **ids).returncode
            if code != 0:
                raise PeerStartError(f"Postgres: initdb exited with {code}\nworkdir: {self.workdir}\n{_tail(log)}")
            self._initialised = True
        argv = [str(self.bin_dir / "postgres"), "-D", str(self.data_dir), "-p", str(self.port),
                "-k", str(self.workdir)]
        for key, value in self.settings.items():
            argv += ["-c", f"{key}={value}"]
        log_path = self.workdir / "postgres.out"
        with open(log_path, "ab") as out:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    cwd=self.workdir, **ids)
        self._server = _Child.adopt("postgres", proc, log_path)
        self.children.append(self._server)
        self._wait("pg_isready", self._ready, deadline, interval=0.05)

    def _ready(self) -> bool:
        return subprocess.run([str(self.bin_dir / "pg_isready"), "-q", "-h", LOOPBACK, "-p", str(self.port),
                               "-U", self.user, "-d", "postgres"], timeout=10).returncode == 0

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run `sql` with psql on `database`; its output (raises with psql's error on failure)."""
        done = subprocess.run([str(self.bin_dir / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                               "-h", LOOPBACK, "-p", str(self.port), "-U", self.user, "-d", database, "-c", sql],
                              capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"psql failed: {done.stderr.strip()}")
        return done.stdout

    def create_database(self, name: str | None = None) -> str:
        """A new empty database (`name`, else the next of db1, db2, ...); its URL."""
        if name is None:
            self._databases += 1
            name = f"db{self._databases}"
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self, cleanup: bool | None = None, *, keep: bool = False) -> None:
        """Stop the server by PID (SIGINT: fast shutdown); with `keep`, keep the cluster to `start()` again."""
        if self._server is not None:
            self._server.stop(sig=signal.SIGINT)
            self.children.remove(self._server)
            self._server = None
        if keep:
            self._started = False
            return
        super().stop(cleanup)


# --------------------------------------------------------------------------
# Jasmin: redis + RabbitMQ (with its own epmd) + upstream SMSC + jasmind
# --------------------------------------------------------------------------

_JASMIN_CFG = """\
[smpp-server]
id = smpps_01
bind = 127.0.0.1
port = {smpp_port}
responseTimerSecs = {response_timer}
log_level = {log_level}
log_file = {logs}/default-smpps_01.log

[smpp-server-pb]
bind = 127.0.0.1
port = {smpps_pb_port}
authentication = False
log_file = {logs}/smpp-server-pb.log

[client-management]
store_path = {root}/etc/jasmin/store
bind = 127.0.0.1
port = {cm_port}
authentication = False
log_file = {logs}/smppclient-manager.log

[service-smppclient]
log_file = {logs}/service-smppclients.log

[sm-listener]
log_file = {logs}/messages.log

[dlr]
smpp_receipt_on_success_submit_sm_resp = False
log_file = {logs}/messages.log

[amqp-broker]
host = 127.0.0.1
port = {amqp_port}
log_file = {logs}/amqp-client.log

[http-api]
bind = 127.0.0.1
port = {http_port}
log_file = {logs}/http-api.log

[router]
store_path = {root}/etc/jasmin/store
bind = 127.0.0.1
port = {router_port}
authentication = False
log_file = {logs}/router.log

[deliversm-thrower]
retry_delay = {retry_delay}
max_retries = 50
log_file = {logs}/deliversm-thrower.log

[dlr-thrower]
retry_delay = {retry_delay}
max_retries = 50
log_file = {logs}/dlr-thrower.log

[redis-client]
host = 127.0.0.1
port = {redis_port}
log_file = {logs}/redis-client.log

[jcli]
bind = 127.0.0.1
port = {jcli_port}
authentication = False
log_file = {logs}/jcli.log
"""


class Jasmin(_Peer):
    """A real Jasmin 0.11.0 SMS gateway on loopback, relaying to Jasmin's own SMSC simulator.

    Five processes, each a child stopped by PID: ``redis-server``, ``epmd`` (started by us, so RabbitMQ's
    Erlang does not spawn a daemon we do not own), ``rabbitmq-server`` (run directly, not through the
    user-switching wrapper), the upstream SMSC (``tests/support/jasmin_upstream.py``: the sdist's
    ``ManualDeliveryReceiptHappySMSC`` plus a control port) and ``jasmind.py``. Everything listens on
    127.0.0.1 on free ports; state lives in the work dir.

    - ``smpp_port``: Jasmin's SMPP server for ESMEs; user ``system_id``/``password`` (group g1);
    - MT from the ESME → Jasmin → the upstream SMSC, which answers and sends a receipt ``dlr_delay``
      seconds later (``set_stat("UNDELIV")`` for failures), which Jasmin relays to the ESME;
    - ``send_mo(pdu_bytes)``: the upstream pushes that deliver_sm, Jasmin routes it to the ESME user;
    - ``submits()``: every submit_sm the upstream received (dicts of its fields);
    - ``stop_jasmind()`` / ``start_jasmind()``: restart Jasmin alone (RabbitMQ keeps its queues);
    - a deliver_sm the ESME does not answer within ``response_timer`` s (Jasmin's default: 60) is requeued and
      delivered again ``retry_delay`` s later.

    Ready when jCli provisioning is done and ``smppccm -l`` shows the upstream connector BOUND_TRX.
    """

    name = "jasmin"

    def __init__(
        self,
        *,
        system_id: str = "esme",
        password: str = "esmepwd",
        dlr_delay: float = 0.3,
        retry_delay: int = 1,
        response_timer: int = 5,
        log_level: str = "INFO",
        jasmin_dir: str | Path | None = None,
        startup_timeout: float = 90.0,
        workdir: str | Path | None = None,
        keep_workdir: bool = False,
    ) -> None:
        super().__init__(startup_timeout=startup_timeout, workdir=workdir, keep_workdir=keep_workdir)
        self.system_id = system_id
        self.password = password
        self.dlr_delay = dlr_delay
        self.retry_delay = retry_delay
        self.response_timer = response_timer
        self.log_level = log_level
        self.jasmin_dir = Path(jasmin_dir) if jasmin_dir else JASMIN_DIR
        self.python = self.jasmin_dir / "venv" / "bin" / "python"
        self.jasmind = self.jasmin_dir / "venv" / "bin" / "jasmind.py"
        self.sdist = self.jasmin_dir / "sdist" / "jasmin-0.11.0"
        (self.smpp_port, self.smpps_pb_port, self.cm_port, self.router_port, self.jcli_port, self.http_port,
         self.amqp_port, self.amqp_dist_port, self.epmd_port, self.redis_port, self.upstream_port,
         self.control_port) = free_ports(12)
        self.root = self.workdir / "root"
        self.log_dir = self.root / "var" / "log" / "jasmin"
        self.nodename = f"smsgate{self.amqp_port}@localhost"
        self.upstream_out = self.workdir / "upstream.out"
        self._jasmind: _Child | None = None

    # -- start ---------------------------------------------------------------------------
    def _rabbit_env(self) -> dict[str, str]:
        base = self.workdir / "rabbitmq"
        return dict(
            os.environ,
            HOME=str(base),
            RABBITMQ_MNESIA_BASE=str(base / "mnesia"),
            RABBITMQ_LOG_BASE=str(base / "log"),
            RABBITMQ_NODENAME=self.nodename,
            RABBITMQ_NODE_IP_ADDRESS=LOOPBACK,
            RABBITMQ_NODE_PORT=str(self.amqp_port),
            RABBITMQ_DIST_PORT=str(self.amqp_dist_port),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(base / "enabled_plugins"),
            RABBITMQ_CONF_ENV_FILE=str(base / "rabbitmq-env.conf"),
            RABBITMQ_CONFIG_FILE=str(base / "rabbitmq"),
            RABBITMQ_PID_FILE=str(base / "rabbit.pid"),
            ERL_EPMD_ADDRESS=LOOPBACK,
            ERL_EPMD_PORT=str(self.epmd_port),
        )

    def _start(self) -> None:
        missing = [str(p) for p in (self.python, self.jasmind, self.sdist / "tests" / "protocols" / "smpp",
                                    Path(REDIS_SERVER), RABBITMQ_BIN / "rabbitmq-server", Path(EPMD)) if not p.exists()]
        if missing:
            raise PeerStartError(f"Jasmin: missing {', '.join(missing)}; run .ci/install-peers")
        deadline = time.monotonic() + self.startup_timeout
        self._spawn("redis", [REDIS_SERVER, "--bind", LOOPBACK, "--port", str(self.redis_port), "--save", "",
                              "--appendonly", "no", "--dir", str(self.workdir)], cwd=self.workdir)
        self._spawn("epmd", [EPMD, "-port", str(self.epmd_port), "-address", LOOPBACK], cwd=self.workdir)
        env = self._rabbit_env()
        base = Path(env["HOME"])
        base.mkdir(parents=True, exist_ok=True)
        (base / "enabled_plugins").write_text("[].\n")
        (base / "rabbitmq-env.conf").write_text("")
        (base / "rabbitmq.conf").write_text("")
        self._spawn("rabbitmq", [str(RABBITMQ_BIN / "rabbitmq-server")], cwd=base, env=env)
        self._spawn("upstream", [str(self.python), "-u", str(Path(__file__).with_name("jasmin_upstream.py")),
                                 str(self.sdist / "tests" / "protocols" / "smpp"), str(self.upstream_port),
                                 str(self.control_port)], cwd=self.workdir)
        self._wait("redis and the upstream SMSC listening",
                   lambda: {self.redis_port, self.upstream_port, self.control_port} <= listening_ports(), deadline)
        self.control(f"DLR_DELAY {self.dlr_delay}")
        self._wait("RabbitMQ started", self._rabbit_ready, deadline, interval=0.5)
        self._write_config()
        self.start_jasmind(deadline)

    def _rabbit_ready(self) -> bool:
        if self.amqp_port not in listening_ports():
            return False
        out = subprocess.run([str(RABBITMQ_BIN / "rabbitmqctl"), "-n", self.nodename, "await_startup",
                              "--timeout", "20"], env=self._rabbit_env(), capture_output=True, text=True, timeout=60)
        return out.returncode == 0

    def _write_config(self) -> None:
        etc = self.root / "etc" / "jasmin"
        (etc / "resource").mkdir(parents=True, exist_ok=True)
        (etc / "store").mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy(self.sdist / "misc" / "config" / "resource" / "amqp0-9-1.xml", etc / "resource")
        (etc / "jasmin.cfg").write_text(_JASMIN_CFG.format(
            root=self.root, logs=self.log_dir, smpp_port=self.smpp_port, smpps_pb_port=self.smpps_pb_port,
            cm_port=self.cm_port, router_port=self.router_port, jcli_port=self.jcli_port, http_port=self.http_port,
            amqp_port=self.amqp_port, redis_port=self.redis_port, retry_delay=self.retry_delay,
            response_timer=self.response_timer,
            log_level=self.log_level))

    def start_jasmind(self, deadline: float | None = None) -> None:
        """Start jasmind (again) and provision it; returns once the upstream connector is bound."""
        if deadline is None:
            deadline = time.monotonic() + self.startup_timeout
        env = dict(os.environ, ROOT_PATH=str(self.root), PYTHONUNBUFFERED="1")
        self._jasmind = self._spawn("jasmind", [str(self.python), str(self.jasmind), "-c",
                                                str(self.root / "etc" / "jasmin" / "jasmin.cfg"),
                                                "--enable-dlr-lookup", "--enable-dlr-thrower", "--disable-http-api"],
                                    cwd=self.workdir, env=env)
        self._wait("jasmind listening (SMPP and jCli)",
                   lambda: {self.smpp_port, self.jcli_port} <= listening_ports(), deadline, interval=0.1)
        self.jcli([
            "group -a", "gid g1", "ok",
            "user -a", f"username {self.system_id}", f"password {self.password}", "gid g1", f"uid {self.system_id}",
            "ok",
            "smppccm -a", "cid upstream", "host 127.0.0.1", f"port {self.upstream_port}", "username jasmin",
            "password jasmin", "bind transceiver", "submit_throughput 0", "ok",
            "smppccm -1 upstream",
            "mtrouter -a", "type DefaultRoute", "connector smppc(upstream)", "rate 0.00", "ok",
            "morouter -a", "type DefaultRoute", f"connector smpps({self.system_id})", "ok",
        ])
        self._wait("upstream connector BOUND_TRX", lambda: "BOUND_TRX" in self.jcli(["smppccm -l"]), deadline,
                   interval=0.2)

    def stop_jasmind(self) -> None:
        """Stop jasmind alone (SIGTERM, then SIGKILL), keeping RabbitMQ, redis and the upstream running."""
        child = self._jasmind
        if child is not None:
            child.stop()
            self.children.remove(child)
            self._jasmind = None

    # -- talking to it --------------------------------------------------------------------
    def jcli(self, lines: Sequence[str], timeout: float = 20.0) -> str:
        """Run jCli commands (one session); returns everything jCli printed."""
        with socket.create_connection((LOOPBACK, self.jcli_port), timeout=timeout) as sock:
            out = b""

            def read_prompt() -> bytes:
                nonlocal out
                chunk = b""
                while not chunk.rstrip().endswith((b"jcli :", b">")):
                    data = sock.recv(65536)
                    if not data:
                        break
                    chunk += data
                out += chunk
                return chunk

            for line in [*lines, "quit"]:
                sock.sendall(line.encode() + b"\r\n")
                if line != "quit":
                    read_prompt()
        text = out.decode("utf-8", "replace")
        for marker in ("Unknown", "Error", "error", "Invalid"):
            if marker in text:
                raise RuntimeError(f"jCli refused a command:\n{text}")
        return text

    def control(self, command: str) -> None:
        """One command to the upstream SMSC's control port (see tests/support/jasmin_upstream.py)."""
        with socket.create_connection((LOOPBACK, self.control_port), timeout=10) as sock:
            sock.sendall(command.encode() + b"\n")
            answer = sock.makefile("rb").readline().decode().strip()
        if answer != "ok":
            raise RuntimeError(f"upstream SMSC: {command.split(' ')[0]}: {answer}")

    def send_mo(self, pdu: bytes) -> None:
        """Make the upstream SMSC push this deliver_sm PDU; Jasmin routes it to the ESME user."""
        self.control("MO " + pdu.hex())

    def set_stat(self, stat: str) -> None:
        """The `stat:` of receipts for submits from now on."""
        self.control(f"STAT {stat}")

    def submits(self) -> list[dict[str, Any]]:
        """Every submit_sm the upstream SMSC received, in order (its fields as strings, bytes as hex)."""
        log = self.workdir / "upstream.out"
        try:
            lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
        except FileNotFoundError:
            return []
        return [json.loads(line[len("SUBMIT "):]) for line in lines if line.startswith("SUBMIT ")]

    def logs(self) -> str:
        extra = [_tail(self.log_dir / name, 30) for name in ("default-smpps_01.log", "messages.log")]
        return super().logs() + "\n" + "\n".join(extra)
