"""Peers benchmark: smsgate against Kannel and Jasmin doing the same job on the same machine, same SMPP upstream.

    .venv/bin/python bench/peers.py [--only smsgate-sqlite,kannel-store,...] [--messages 5000] [--rounds 3]
                                    [--concurrency 1,8,32,128] [--receipts] [--receipt-delay 0.25]
                                    [--webhook-extra 'TOML'] [--window 100] [--warmup 300] [--json PATH]

The job: an application POSTs (or GETs) messages to a gateway's HTTP API and the gateway delivers them over SMPP
3.4. Every gateway binds, with a system_id of its own, to one upstream SMSC stub (bench/servers/smpp_stub.py),
whose own ceiling (a pipelined client at window 100) is measured and printed first, so it is visibly not the cap.
Needs the peers (.ci/install-peers). The gateways, each started on free 127.0.0.1 ports and stopped by PID at the
end (also on Ctrl-C or an error):
- smsgate-sqlite: `smsgate serve` with an `smpp` channel, SQLite (`synchronous = FULL`), POST /api/v1/messages;
- smsgate-pg:     the same on a throwaway PostgreSQL 15 cluster (fsync and synchronous commit on);
- kannel-store:   Kannel's bearerbox + smsbox, an `smsc = smpp` group, `store-type = file`, GET /cgi-bin/sendsms;
- kannel-nostore: the same without a store;
- jasmin:         Jasmin 0.11 (with its RabbitMQ and Redis), its HTTP API GET /send, provisioned over jCli.
Each runs with warnings-only logging and no access log. The SMPP window is the same for Kannel
(max-pending-submits) and smsgate (the channel's window): `--window`; Jasmin's connector has none to set.

For every round (default 3), every client concurrency (default 1,8,32,128) and every gateway, in that order (so
rounds interleave), the bench sends `--messages` requests from a light keep-alive HTTP/1.1 client (asyncio
protocols, every request built before timing, every answer checked 2xx) and waits until the stub has seen that
many submit_sm from the gateway (and with --receipts, until the application has that many receipts) and the
gateway's CPU has settled. It reports, as medians over rounds:
- accepted/s: requests / (first request sent -> last answer);
- delivered/s: submit_sm / (first -> last submit_sm the stub saw from that gateway);
- receipts/s (--receipts): delivery reports the application got / (first -> last): Kannel's dlr-url (dlr-mask 3),
  Jasmin's dlr-url (dlr-level 2), smsgate's `[[gateway.webhooks]]` (a POST per event: queued, wired and
  delivered; the `delivered` ones count; `--webhook-extra` adds TOML lines to that table, e.g. a filter), all
  to bench/servers/receipt_sink.py. The stub sends a DELIVRD receipt `--receipt-delay` s after each submit_sm
  that asks for one, and that deliberate wait is taken out of the rate (last receipt - first request - delay);
- CPU s / 1,000 messages: user + system time of the gateway's processes and all their descendants from /proc
  (smsgate serve; plus the PostgreSQL server; bearerbox + smsbox; jasmind + RabbitMQ + Redis + epmd) from the
  first request until the work settled; never the stub's, the sink's or the client's;
- memory: the proportional set size (PSS: shared pages split between the processes sharing them) of those
  processes at the end of the run, in MB.
Each gateway is shown at its best concurrency (by delivered/s, or receipts/s with --receipts), with the ratios
smsgate/Kannel+store, smsgate/Jasmin and PostgreSQL/SQLite. `--json PATH` writes every run's raw figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "bench" / "servers"))

from _common import process_cpu  # noqa: E402
from smpp_stub import ceiling  # noqa: E402

from tests.support.peers import Jasmin, Kannel, Postgres  # noqa: E402
from tests.support.peers.process import LOOPBACK, free_port, listening_ports  # noqa: E402
from tests.support.peers.process import Peer as _Peer  # noqa: E402
from tests.support.peers.process import http_get as _http_get  # noqa: E402

VENV_BIN = Path(sys.executable).parent
TEXT = "El amor es paciente. El amor es amable."
TO = "250788123123"
FROM = "2020"
TOKEN = "bench-peers-token-0123456789"
GATEWAYS = ["smsgate-sqlite", "smsgate-pg", "kannel-store", "kannel-nostore", "jasmin"]
DURABLE = {  # what a 2xx from the API means, restated from each gateway's documentation and strace
    "smsgate-sqlite": "committed and fsynced",
    "smsgate-pg": "committed (fsync on)",
    "kannel-store": "written to the store file, never fsynced",
    "kannel-nostore": "in memory only",
    "jasmin": "a non-persistent RabbitMQ message",
}
STALL = 90.0  # seconds without progress after which a run has failed


# -- helper servers ----------------------------------------------------------------------------------------

class Stub(_Peer):
    """bench/servers/smpp_stub.py in its own process: SMPP on `port`, its counters on `control_port`."""

    name = "smpp-stub"

    def __init__(self, receipt_delay: float) -> None:
        super().__init__(startup_timeout=20.0, workdir=None, keep_workdir=False)
        self.port, self.control_port = free_port(), free_port()
        self.receipt_delay = receipt_delay

    def _start(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        self._spawn("stub", [sys.executable, str(ROOT / "bench" / "servers" / "smpp_stub.py"), str(self.port),
                             str(self.control_port), "--receipt-delay", str(self.receipt_delay)], cwd=self.workdir)
        self._wait("the stub listening", lambda: {self.port, self.control_port} <= listening_ports(), deadline)

    def command(self, line: str) -> str:
        """One control command; its one-line answer."""
        with socket.create_connection((LOOPBACK, self.control_port), timeout=10) as sock:
            sock.sendall(line.encode() + b"\n")
            return sock.makefile("rb").readline().decode().strip()

    def stats(self, system_id: str) -> dict[str, Any]:
        """The counters of one system_id (zeros when it never bound)."""
        return json.loads(self.command("STATS")).get(system_id, {"submits": 0, "receipts": 0, "binds": 0,
                                                                  "largest_read": 0, "first": 0.0, "last": 0.0})

    def reset(self, system_id: str) -> None:
        """Zero one system_id's counters."""
        if self.command(f"RESET {system_id}") != "ok":
            raise RuntimeError("the stub refused RESET")


class Sink(_Peer):
    """bench/servers/receipt_sink.py in its own process: the application receiving delivery reports."""

    name = "receipt-sink"

    def __init__(self) -> None:
        super().__init__(startup_timeout=20.0, workdir=None, keep_workdir=False)
        self.port = free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"

    def _start(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        self._spawn("sink", [sys.executable, str(ROOT / "bench" / "servers" / "receipt_sink.py"), str(self.port)],
                    cwd=self.workdir)
        self._wait("the sink listening", lambda: self.port in listening_ports(), deadline)

    def stats(self, name: str) -> dict[str, Any]:
        """One gateway's callbacks: requests, receipts, first and last receipt time."""
        status, body = _http_get(f"{self.url}/_stats", 10)
        if status != 200:
            raise RuntimeError(f"the sink answered {status}")
        return json.loads(body).get(name, {"requests": 0, "receipts": 0, "first": 0.0, "last": 0.0})

    def reset(self, name: str) -> None:
        """Zero one gateway's counters."""
        _http_get(f"{self.url}/_reset/{name}", 10)


# -- the gateways ------------------------------------------------------------------------------------------

class Smsgate(_Peer):
    """`smsgate serve` with one `smpp` channel `up` bound to the stub; SQLite in its work dir, or `database`."""

    name = "smsgate"

    def __init__(self, stub: Stub, system_id: str, window: int, sink: Sink | None, database: str | None = None,
                 webhook_extra: str = "") -> None:
        super().__init__(startup_timeout=60.0, workdir=None, keep_workdir=False)
        self.stub, self.system_id, self.window, self.sink = stub, system_id, window, sink
        self.webhook_extra = webhook_extra
        self.database = database or str(self.workdir / "smsgate.sqlite3")
        self.port = free_port()
        self.config = self.workdir / "smsgate.toml"

    def _start(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        webhook = (f'[[gateway.webhooks]]\nurl = "{self.sink.url}/{self.system_id}"\nsecret = "bench-webhook-secret"\n'
                   f"{self.webhook_extra}\n" if self.sink else "")
        self.config.write_text(f"""\
[gateway]
host = "127.0.0.1"
port = {self.port}
database = "{self.database}"
synchronous = "FULL"
api_token = "{TOKEN}"

{webhook}
[channels.up]
adapter = "smpp"
address = "{FROM}"
country = "RW"
host = "127.0.0.1"
port = {self.stub.port}
system_id = "{self.system_id}"
password = "bench"
window = {self.window}
receipts = {"true" if self.sink else "false"}
""")
        smsgate = str(VENV_BIN / "smsgate")
        if self.database.startswith("postgresql://"):
            done = subprocess.run([smsgate, "db", "upgrade", "-c", str(self.config)], capture_output=True, text=True,
                                  timeout=120)
            if done.returncode:
                raise self._fail(f"smsgate db upgrade failed: {done.stdout}{done.stderr}")
        self._spawn("serve", [smsgate, "serve", "-c", str(self.config), "--log-level", "warning"], cwd=self.workdir)

        def ready() -> bool:
            status, body = _http_get(f"http://{LOOPBACK}:{self.port}/healthz", 2.0)
            return status == 200 and json.loads(body)["status"] == "ok" and \
                self.stub.stats(self.system_id)["binds"] > 0

        self._wait("/healthz ok and the smpp channel bound to the stub", ready, deadline, interval=0.1)

    def request(self, i: int, tag: str, receipts: bool) -> bytes:
        """POST /api/v1/messages for message `i` (receipts come from the channel's registered_delivery)."""
        body = json.dumps({"channel": "up", "to": "+" + TO, "text": f"{TEXT} {tag} {i}"}).encode()
        return (f"POST /api/v1/messages HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nAuthorization: Bearer {TOKEN}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


class BenchKannel(Kannel):
    """Kannel 1.4 (bearerbox + smsbox) with an `smsc = smpp` group bound to the stub, with or without a store file.
    tests/support/peers' Kannel machinery (children by PID, readiness on the admin status page), its own config."""

    def __init__(self, stub: Stub, system_id: str, window: int, store: bool) -> None:
        super().__init__(username="gate", password="gatepw", admin_password="adminpw", log_level=2)
        self.stub, self.system_id, self.window, self.store = stub, system_id, window, store
        self.smsc_id = "up"

    def config_text(self) -> str:
        """The configuration (restated from Kannel's user guide: one setting per line)."""
        store = (f'store-type = file\nstore-location = "{self.workdir / "kannel.store"}"\n' if self.store else "")
        return f"""\
group = core
admin-port = {self.admin_port}
admin-password = "{self.admin_password}"
admin-interface = {LOOPBACK}
smsbox-port = {self.smsbox_port}
smsbox-interface = {LOOPBACK}
box-allow-ip = "{LOOPBACK}"
dlr-storage = internal
log-file = "{self.bearerbox_log}"
log-level = {self.log_level}
{store}
group = smsc
smsc = smpp
smsc-id = {self.smsc_id}
host = {LOOPBACK}
port = {self.stub.port}
transceiver-mode = true
smsc-username = "{self.system_id}"
smsc-password = "bench"
system-type = ""
max-pending-submits = {self.window}
enquire-link-interval = 30

group = smsbox
bearerbox-host = {LOOPBACK}
bearerbox-port = {self.smsbox_port}
sendsms-port = {self.sendsms_port}
sendsms-interface = {LOOPBACK}
log-file = "{self.smsbox_log}"
log-level = {self.log_level}

group = sendsms-user
username = "{self.username}"
password = "{self.password}"
concatenation = true
max-messages = 10

group = sms-service
keyword = default
catch-all = true
max-messages = 0
text = "no"
"""

    def _start(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        self.conf_path.write_text(self.config_text())
        # smsbox exits at once when bearerbox is not listening yet: wait for its box port first
        self._spawn("bearerbox", ["/usr/sbin/bearerbox", "-v", str(self.log_level), str(self.conf_path)],
                    cwd=self.workdir)
        self._wait("bearerbox listening", lambda: self.smsbox_port in listening_ports(), deadline)
        self._spawn("smsbox", ["/usr/sbin/smsbox", "-v", str(self.log_level), str(self.conf_path)], cwd=self.workdir)
        self._wait("the smpp smsc online and smsbox connected (admin status)", self._is_ready, deadline, 0.1)
        self._wait("smsbox's sendsms port", lambda: self.sendsms_port in listening_ports(), deadline)

    @property
    def port(self) -> int:
        """The sendsms port."""
        return self.sendsms_port

    def request(self, i: int, tag: str, receipts: bool, sink: Sink | None) -> bytes:
        """GET /cgi-bin/sendsms for message `i`; with receipts, dlr-mask 3 (delivered or failed) to the sink."""
        params = {"username": self.username, "password": self.password, "from": FROM, "to": TO,
                  "text": f"{TEXT} {tag} {i}"}
        if receipts and sink is not None:
            params |= {"dlr-mask": "3", "dlr-url": f"{sink.url}/{self.system_id}?type=%d"}
        return (f"GET /cgi-bin/sendsms?{urllib.parse.urlencode(params)} HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{self.port}\r\n\r\n").encode()


class BenchJasmin(Jasmin):
    """Jasmin 0.11 with its HTTP API on, its SMPP client connector bound to the stub (not Jasmin's own simulator):
    tests/support/peers' Jasmin machinery (Redis, epmd, RabbitMQ, jasmind as children; jCli provisioning)."""

    def __init__(self, stub: Stub, system_id: str) -> None:
        super().__init__(system_id="httpuser", password="httppw", log_level="WARNING")
        self.stub, self.connector_id = stub, system_id
        self.upstream_port = stub.port

    @property
    def port(self) -> int:
        """The HTTP API port."""
        return self.http_port

    def _start(self) -> None:
        missing = [str(p) for p in (self.python, self.jasmind) if not p.exists()]
        if missing:
            raise self._fail(f"missing {', '.join(missing)}; run .ci/install-peers")
        deadline = time.monotonic() + self.startup_timeout
        import peers  # its paths to redis, epmd and RabbitMQ

        self._spawn("redis", [peers.REDIS_SERVER, "--bind", LOOPBACK, "--port", str(self.redis_port), "--save", "",
                              "--appendonly", "no", "--dir", str(self.workdir)], cwd=self.workdir)
        self._spawn("epmd", [peers.EPMD, "-port", str(self.epmd_port), "-address", LOOPBACK], cwd=self.workdir)
        env = self._rabbit_env()
        base = Path(env["HOME"])
        base.mkdir(parents=True, exist_ok=True)
        (base / "enabled_plugins").write_text("[].\n")
        (base / "rabbitmq-env.conf").write_text("")
        (base / "rabbitmq.conf").write_text("")
        self._spawn("rabbitmq", [str(peers.RABBITMQ_BIN / "rabbitmq-server")], cwd=base, env=env)
        self._wait("redis listening", lambda: self.redis_port in listening_ports(), deadline)
        self._wait("RabbitMQ started", self._rabbit_ready, deadline, interval=0.5)
        self._write_config()
        self.start_jasmind(deadline)

    def _write_config(self) -> None:
        super()._write_config()
        path = self.root / "etc" / "jasmin" / "jasmin.cfg"
        # warnings only, and no access log, as for the other gateways
        text = re.sub(r"^log_level = .*\n", "", path.read_text(), flags=re.M)
        text = re.sub(r"^(log_file = .*)$", r"\1\nlog_level = WARNING", text, flags=re.M)
        text = text.replace("[http-api]\n", "[http-api]\naccess_log = /dev/null\n")
        path.write_text(text)

    def start_jasmind(self, deadline: float | None = None) -> None:
        """jasmind with its HTTP API; provisioned with a group, the HTTP user, the connector and a default route."""
        if deadline is None:
            deadline = time.monotonic() + self.startup_timeout
        env = dict(os.environ, ROOT_PATH=str(self.root), PYTHONUNBUFFERED="1")
        self._jasmind = self._spawn("jasmind", [str(self.python), str(self.jasmind), "-c",
                                                str(self.root / "etc" / "jasmin" / "jasmin.cfg"),
                                                "--enable-dlr-lookup", "--enable-dlr-thrower"],
                                    cwd=self.workdir, env=env)
        self._wait("jasmind listening (HTTP API and jCli)",
                   lambda: {self.http_port, self.jcli_port} <= listening_ports(), deadline, interval=0.1)
        self.jcli([
            "group -a", "gid g1", "ok",
            "user -a", f"username {self.system_id}", f"password {self.password}", "gid g1", f"uid {self.system_id}",
            "ok",
            "smppccm -a", f"cid {self.connector_id}", "host 127.0.0.1", f"port {self.upstream_port}",
            f"username {self.connector_id}", "password bench", "bind transceiver", "submit_throughput 0", "ok",
            f"smppccm -1 {self.connector_id}",
            "mtrouter -a", "type DefaultRoute", f"connector smppc({self.connector_id})", "rate 0.00", "ok",
        ])
        self._wait("the connector BOUND_TRX", lambda: "BOUND_TRX" in self.jcli(["smppccm -l"]), deadline,
                   interval=0.2)

    def request(self, i: int, tag: str, receipts: bool, sink: Sink | None) -> bytes:
        """GET /send for message `i`; with receipts, dlr-level 2 (the handset's) to the sink by GET."""
        params = {"username": self.system_id, "password": self.password, "from": FROM, "to": TO,
                  "content": f"{TEXT} {tag} {i}"}
        if receipts and sink is not None:
            params |= {"dlr": "yes", "dlr-url": f"{sink.url}/{self.connector_id}", "dlr-level": "2",
                       "dlr-method": "GET"}
        return (f"GET /send?{urllib.parse.urlencode(params)} HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{self.port}\r\n\r\n").encode()


@dataclass
class Target:
    """A started gateway as the rounds see it."""

    name: str
    system_id: str  # its bind to the stub, and its first path segment at the sink
    port: int
    pids: Callable[[], list[int]]
    build: Callable[[int, str], bytes]


# -- the application: a light keep-alive HTTP/1.1 client ----------------------------------------------------

class _Connection(asyncio.Protocol):
    """One keep-alive connection taking requests from a shared iterator until it is empty."""

    def __init__(self, requests: Iterator[bytes], run: _Run) -> None:
        self.requests, self.run = requests, run
        self.buf = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.next()

    def next(self) -> None:
        """Write the next request, or close the connection when none is left."""
        request = next(self.requests, None)
        if request is None:
            assert self.transport is not None
            self.transport.close()
        else:
            assert self.transport is not None
            self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        """One answer (one request is in flight per connection): count it, then send the next request."""
        self.buf += data
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = self.buf[:end].lower()
        length = re.search(rb"\r\ncontent-length:\s*(\d+)", head)
        if length is not None:
            stop = end + 4 + int(length.group(1))
        elif b"transfer-encoding: chunked" in head:
            last = self.buf.find(b"0\r\n\r\n", end + 4)
            stop = last + 5 if last >= 0 else len(self.buf) + 1
        else:
            raise RuntimeError(f"an answer with neither Content-Length nor chunks: {head[:200]!r}")
        if len(self.buf) < stop:
            return
        status = int(self.buf[9:12])
        self.run.answered(status, self.buf[end + 4:stop])
        self.buf = self.buf[stop:]
        if b"\r\nconnection: close" in head:
            assert self.transport is not None
            self.transport.close()
            self.run.reconnect(self.requests)
        else:
            self.next()


class _Run:
    """Requests in flight from `concurrency` connections; when each answer came, and any that was not 2xx."""

    def __init__(self, port: int, total: int) -> None:
        self.port, self.total = port, total
        self.count = 0
        self.last = time.monotonic()
        self.errors: list[str] = []
        self.done = asyncio.get_running_loop().create_future()

    def answered(self, status: int, body: bytes) -> None:
        """Count one answer; keep the first few that were not 2xx."""
        self.count += 1
        self.last = time.monotonic()
        if not 200 <= status < 300 and len(self.errors) < 5:
            self.errors.append(f"HTTP {status}: {body[:200]!r}")
        if self.count == self.total and not self.done.done():
            self.done.set_result(None)

    def reconnect(self, requests: Iterator[bytes]) -> None:
        """The server closed a keep-alive connection: carry on with a new one."""
        asyncio.get_running_loop().create_task(self.connect(requests))

    async def connect(self, requests: Iterator[bytes]) -> None:
        """One more connection taking requests from `requests`."""
        loop = asyncio.get_running_loop()
        await loop.create_connection(lambda: _Connection(requests, self), LOOPBACK, self.port)


async def send_all(port: int, requests: list[bytes], concurrency: int) -> tuple[float, float]:
    """Send every request with `concurrency` connections; (started, last answer) in monotonic time."""
    run = _Run(port, len(requests))
    queue = iter(requests)
    started = time.monotonic()
    await asyncio.gather(*(run.connect(queue) for _ in range(min(concurrency, len(requests)))))
    while not run.done.done() and time.monotonic() - run.last < STALL:
        await asyncio.wait([run.done], timeout=1.0)
    if run.errors:
        raise RuntimeError(f"port {port}: answers not 2xx: {run.errors}")
    if run.count < len(requests):
        raise RuntimeError(f"port {port}: {run.count} of {len(requests)} requests answered")
    return started, run.last


# -- measuring ------------------------------------------------------------------------------------------------

def pss_mb(pids: list[int]) -> float:
    """The proportional set size of `pids` and all their descendants, in MB (shared pages split among sharers)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    children.setdefault(int(fh.read().rsplit(")", 1)[1].split()[1]), []).append(int(entry))
            except OSError:
                continue
    total, todo, seen = 0, list(pids), set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            with open(f"/proc/{pid}/smaps_rollup") as fh:
                total += next(int(line.split()[1]) for line in fh if line.startswith("Pss:"))
        except (OSError, StopIteration):
            pass
        todo.extend(children.get(pid, []))
    return total / 1024


def settle(pids: list[int], quiet: float = 0.02, interval: float = 0.25, limit: float = 10.0) -> float:
    """Wait until the processes use under `quiet` CPU seconds per `interval` (their tail of work is done); how
    long that took."""
    began = time.monotonic()
    before = process_cpu(pids)
    while time.monotonic() < began + limit:
        time.sleep(interval)
        now = process_cpu(pids)
        if now - before < quiet:
            break
        before = now
    return time.monotonic() - began


@dataclass
class Result:
    """One run: one gateway, one concurrency, one round."""

    gateway: str
    concurrency: int
    round: int
    messages: int
    accepted_per_s: float
    delivered_per_s: float
    receipts_per_s: float | None
    cpu_s_per_1000: float
    mem_mb: float
    all_out_s: float  # first request -> last submit_sm (or last receipt)
    submits: int
    receipts: int | None
    callbacks: int | None
    extra: dict[str, Any] = field(default_factory=dict)


def wait_for(what: str, progress: Callable[[], int], goal: int) -> int:
    """Poll `progress()` until it reaches `goal`; fail after STALL seconds without any progress."""
    last, changed = -1, time.monotonic()
    while True:
        now = progress()
        if now >= goal:
            return now
        if now != last:
            last, changed = now, time.monotonic()
        elif time.monotonic() - changed > STALL:
            raise RuntimeError(f"{what}: stuck at {now} of {goal} for {STALL:.0f}s")
        time.sleep(0.05)


def one_run(target: Target, stub: Stub, sink: Sink | None, n: int, concurrency: int, round_: int, tag: str
            ) -> Result:
    """Send `n` messages through `target` and measure until they are out (and their receipts are in)."""
    requests = [target.build(i, tag) for i in range(n)]
    stub.reset(target.system_id)
    if sink is not None:
        sink.reset(target.system_id)
    pids = target.pids()
    cpu, client_cpu = process_cpu(pids), time.process_time()
    started, answered = asyncio.run(send_all(target.port, requests, concurrency))
    client_cpu = time.process_time() - client_cpu
    wait_for(f"{target.name}: submit_sm at the stub", lambda: stub.stats(target.system_id)["submits"], n)
    if sink is not None:
        wait_for(f"{target.name}: receipts at the application", lambda: sink.stats(target.system_id)["receipts"], n)
    settled = settle(pids)
    cpu = process_cpu(pids) - cpu
    up = stub.stats(target.system_id)
    result = Result(target.name, concurrency, round_, n, n / (answered - started),
                    up["submits"] / (up["last"] - started), None, cpu / n * 1000, pss_mb(pids),
                    up["last"] - started, up["submits"], None, None,
                    {"smsc_span_per_s": up["submits"] / max(up["last"] - up["first"], 1e-6),
                     "client_cpu_us_per_request": client_cpu / n * 1e6, "settle_s": settled,
                     "largest_read": up["largest_read"]})
    if sink is not None:
        got = sink.stats(target.system_id)
        result.receipts, result.callbacks = got["receipts"], got["requests"]
        # the stub holds every receipt for receipt_delay on purpose: that wait is not the gateway's
        result.receipts_per_s = got["receipts"] / (got["last"] - started - stub.receipt_delay)
        result.all_out_s = max(result.all_out_s, got["last"] - started)
    return result


# -- the command ----------------------------------------------------------------------------------------------

def start_gateways(names: list[str], stack: contextlib.ExitStack, stub: Stub, sink: Sink | None, window: int,
                   receipts: bool, webhook_extra: str = "") -> list[Target]:
    """Start the named gateways (each waited for until ready); stopped by `stack`."""
    targets = []
    for name in names:
        print(f"  starting {name} ...", end="", flush=True)
        began = time.monotonic()
        if name.startswith("smsgate"):
            database = None
            extra: list[int] = []
            system_id = "sg" + name.removeprefix("smsgate-")
            if name == "smsgate-pg":
                cluster = stack.enter_context(Postgres(durable=True, settings={"shared_buffers": "256MB",
                                                                               "max_wal_size": "2GB"}))
                database = cluster.create_database("smsgate")
                extra = [cluster.children[0].pid]
            gate = stack.enter_context(Smsgate(stub, system_id, window, sink if receipts else None, database,
                                               webhook_extra))
            targets.append(Target(name, system_id, gate.port,
                                  lambda gate=gate, extra=extra: [gate.children[0].pid, *extra],
                                  lambda i, tag, gate=gate: gate.request(i, tag, receipts)))
        elif name.startswith("kannel"):
            system_id = "kn" + name.removeprefix("kannel-")
            kannel = stack.enter_context(BenchKannel(stub, system_id, window, store=name == "kannel-store"))
            targets.append(Target(name, system_id, kannel.port, lambda k=kannel: [c.pid for c in k.children],
                                  lambda i, tag, k=kannel: k.request(i, tag, receipts, sink)))
        else:
            jasmin = stack.enter_context(BenchJasmin(stub, "jasmin"))
            targets.append(Target(name, "jasmin", jasmin.port, lambda j=jasmin: [c.pid for c in j.children],
                                  lambda i, tag, j=jasmin: j.request(i, tag, receipts, sink)))
        print(f" ready in {time.monotonic() - began:.1f}s", flush=True)
    return targets


def summarize(results: list[Result], names: list[str], concurrencies: list[int], receipts: bool
              ) -> dict[str, dict[str, Any]]:
    """Medians per gateway and concurrency, and each gateway's best concurrency."""
    key = "receipts_per_s" if receipts else "delivered_per_s"
    table: dict[str, dict[str, Any]] = {}
    for name in names:
        by = {}
        for c in concurrencies:
            runs = [r for r in results if r.gateway == name and r.concurrency == c]
            if runs:
                by[c] = {f: statistics.median(getattr(r, f) for r in runs)
                         for f in ("accepted_per_s", "delivered_per_s", "cpu_s_per_1000", "mem_mb", "all_out_s",
                                   *(["receipts_per_s"] if receipts else []))}
                by[c]["rounds"] = [round(getattr(r, key)) for r in runs]
        if by:
            best = max(by, key=lambda c: by[c][key])
            table[name] = {"by_concurrency": by, "best": best, **by[best]}
    return table


def report(table: dict[str, dict[str, Any]], concurrencies: list[int], receipts: bool, ceiling_rate: float,
           args: argparse.Namespace) -> None:
    """Print the sweep, each gateway at its best, and the ratios."""
    key = "receipts_per_s" if receipts else "delivered_per_s"
    fastest = max((row["delivered_per_s"] for row in table.values()), default=0.0)
    print(f"\npeers: {args.messages} messages per run, concurrency {concurrencies}, median of {args.rounds} "
          f"interleaved rounds, receipts {'on (delay ' + str(args.receipt_delay) + ' s)' if receipts else 'off'}, "
          f"SMPP window {args.window} (Kannel max-pending-submits, smsgate window)")
    print(f"  upstream stub ceiling: {ceiling_rate:,.0f} submit_sm/s (one pipelined bind, window 100) = "
          f"{ceiling_rate / max(fastest, 1):.1f}x the fastest delivered rate here: not the cap")
    print(f"  {key.replace('_per_s', '/s')} by client concurrency, median (rounds):")
    rows = {name: [f"{row['by_concurrency'][c][key]:.0f} ({'/'.join(map(str, row['by_concurrency'][c]['rounds']))})"
                   if c in row["by_concurrency"] else "-" for c in concurrencies] for name, row in table.items()}
    width = max([len(cell) for cells in rows.values() for cell in cells] + [6])
    print("    gateway        " + "".join(f"  {c:>{width}d}" for c in concurrencies) + "   best")
    for name, cells in rows.items():
        print(f"    {name:15s}" + "".join(f"  {cell:>{width}s}" for cell in cells) +
              f"   {table[name][key]:.0f} at {table[name]['best']}")
    print("  each gateway at its best concurrency:")
    head = "    | gateway | concurrency | accepted/s | delivered/s |" + (" receipts/s |" if receipts else "") + \
        " CPU s / 1,000 msgs | memory (PSS) MB | durable when it answers |"
    print(head)
    print("    |" + "---|" * (head.count("|") - 1))
    for name, row in table.items():
        rec = f" {row['receipts_per_s']:,.0f} |" if receipts else ""
        print(f"    | {name} | {row['best']} | {row['accepted_per_s']:,.0f} | {row['delivered_per_s']:,.0f} |{rec} "
              f"{row['cpu_s_per_1000']:.2f} | {row['mem_mb']:.0f} | {DURABLE[name]} |")
    print("  ratios (each at its best concurrency):")

    def ratio(a: str, b: str, what: str, target: str = "", inverse: bool = False) -> None:
        if a in table and b in table:
            value = table[a][what] / table[b][what]
            label = {"accepted_per_s": "accepted/s", "delivered_per_s": "delivered/s", "receipts_per_s": "receipts/s",
                     "cpu_s_per_1000": "CPU per message"}[what]
            print(f"    {a} / {b}: {label} {value:.2f}" + (f"   (target {target})" if target else ""))

    for what, target in (("delivered_per_s", ">= 0.5"), ("accepted_per_s", ">= 0.7"), ("cpu_s_per_1000", "<= 2.5"),
                         *((("receipts_per_s", ">= 0.5"),) if receipts else ())):
        ratio("smsgate-sqlite", "kannel-store", what, target)
    for what in ("delivered_per_s", "accepted_per_s", "cpu_s_per_1000", *(("receipts_per_s",) if receipts else ())):
        ratio("smsgate-sqlite", "jasmin", what)
    ratio("smsgate-pg", "smsgate-sqlite", "delivered_per_s", ">= 0.8")
    ratio("smsgate-pg", "smsgate-sqlite", "accepted_per_s")
    ratio("kannel-store", "kannel-nostore", "delivered_per_s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(GATEWAYS), help=f"gateways to run, of {','.join(GATEWAYS)}")
    parser.add_argument("--messages", type=int, default=5000, help="messages per run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians are reported")
    parser.add_argument("--concurrency", default="1,8,32,128", help="client connections to sweep")
    parser.add_argument("--receipts", action="store_true", help="ask for a delivery receipt per message and count "
                                                                "those reaching the application")
    parser.add_argument("--receipt-delay", type=float, default=0.25, help="seconds between the stub's "
                                                                          "submit_sm_resp and its receipt")
    parser.add_argument("--window", type=int, default=100, help="SMPP window of smsgate's channel and Kannel's "
                                                                "max-pending-submits")
    parser.add_argument("--webhook-extra", default="", help="TOML lines added to smsgate's webhook table with "
                                                                 "--receipts (e.g. a filter), \\n between lines")
    parser.add_argument("--warmup", type=int, default=300, help="messages each gateway sends before the rounds")
    parser.add_argument("--json", type=Path, help="write every run's raw figures here")
    args = parser.parse_args()
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = set(names) - set(GATEWAYS)
    if unknown:
        parser.error(f"unknown gateway(s) {', '.join(sorted(unknown))}; choose from {', '.join(GATEWAYS)}")
    concurrencies = [int(c) for c in args.concurrency.split(",")]

    def interrupted(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # SIGTERM too stops every child by PID on the way out

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored (nohup, &)
    results: list[Result] = []
    with contextlib.ExitStack() as stack:
        print(f"peers: starting the stub{', the receipt sink' if args.receipts else ''} and {', '.join(names)}")
        stub = stack.enter_context(Stub(args.receipt_delay))
        sink = stack.enter_context(Sink()) if args.receipts else None
        ceilings = [asyncio.run(ceiling(stub.port, 100_000, 100)) for _ in range(3)]
        ceiling_rate = statistics.median(ceilings)
        print(f"  stub ceiling: {', '.join(f'{c:,.0f}' for c in ceilings)} submit_sm/s")
        targets = start_gateways(names, stack, stub, sink, args.window, args.receipts,
                                 args.webhook_extra.replace("\\n", "\n"))
        for target in targets:
            one_run(target, stub, sink, args.warmup, 8, 0, "warm")
        for round_ in range(1, args.rounds + 1):
            for c in concurrencies:
                for target in targets:
                    result = one_run(target, stub, sink, args.messages, c, round_, f"r{round_}c{c}")
                    results.append(result)
                    rec = f", {result.receipts_per_s:,.0f} receipts/s" if result.receipts_per_s is not None else ""
                    print(f"  round {round_} c={c:<3d} {target.name:15s} {result.accepted_per_s:7,.0f} accepted/s "
                          f"{result.delivered_per_s:7,.0f} delivered/s{rec}  {result.cpu_s_per_1000:.2f} CPU s/1k  "
                          f"{result.mem_mb:.0f} MB  (out in {result.all_out_s:.1f}s)", flush=True)
                    if result.submits != args.messages:
                        print(f"    ! the stub saw {result.submits} submit_sm for {args.messages} messages")
        table = summarize(results, names, concurrencies, args.receipts)
        report(table, concurrencies, args.receipts, ceiling_rate, args)
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                         "ceiling": ceilings, "summary": table,
                                         "runs": [asdict(r) for r in results]}, indent=1))
        print(f"  raw results: {args.json}")


if __name__ == "__main__":
    main()
