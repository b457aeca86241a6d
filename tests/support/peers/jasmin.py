"""A real Jasmin with its redis, RabbitMQ and upstream SMSC (jasmin_upstream.py): the smpp adapter's end-to-end
tests and cassettes, and bench/smpp_send.py."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .process import LOOPBACK, REPO_ROOT, Child, Peer, PeerStartError, free_ports, listening_ports, tail

__all__ = ["JASMIN_DIR", "Jasmin"]


# Jasmin 0.11.0 in its own venv, and the files of its sdist the wheel lacks (installed by .ci/install-peers)
JASMIN_DIR = Path(os.environ.get("SMSGATE_JASMIN_DIR", str(REPO_ROOT / "tools" / "jasmin")))
REDIS_SERVER = os.environ.get("SMSGATE_REDIS_SERVER", "/usr/bin/redis-server")
RABBITMQ_BIN = Path(os.environ.get("SMSGATE_RABBITMQ_BIN", "/usr/lib/rabbitmq/bin"))
EPMD = os.environ.get("SMSGATE_EPMD", "/usr/bin/epmd")
# jasmind refuses to start while another jasmind on the machine holds its own lock (/tmp/jasmind): Jasmins of
# parallel test workers (pytest -n) or of other checkouts take turns on this lock instead of failing
MACHINE_LOCK = Path(os.environ.get("SMSGATE_JASMIN_LOCK", "/tmp/smsgate-jasmin.lock"))

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


class Jasmin(Peer):
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
    - ``http_api=True``: Jasmin's HTTP API too, at ``send_url`` (``http://127.0.0.1:{http_port}/send``), for the same
      user; ``route_mo_http(url)`` sends MOs to one destination to an HTTP client connector calling ``url``;
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
        http_api: bool = False,
    ) -> None:
        super().__init__(startup_timeout=startup_timeout, workdir=workdir, keep_workdir=keep_workdir)
        self.http_api = http_api
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
        self._jasmind: Child | None = None
        self._lock_file: Any = None

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
        self._take_machine_lock()
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

    def _take_machine_lock(self, wait: float = 900.0) -> None:
        """Wait (up to `wait` seconds) until no other Jasmin of this machine runs; held until `stop`."""
        MACHINE_LOCK.touch(exist_ok=True)
        self._lock_file = MACHINE_LOCK.open("r")
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise self._fail(f"another Jasmin held {MACHINE_LOCK} for {wait:g} s") from None
                time.sleep(0.5)

    def stop(self, cleanup: bool | None = None) -> None:
        """Stop every child (by PID), then let the next Jasmin of this machine start."""
        try:
            super().stop(cleanup)
        finally:
            lock, self._lock_file = self._lock_file, None
            if lock is not None:
                lock.close()  # closing the file releases the flock

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
        flags = ["--enable-dlr-lookup", "--enable-dlr-thrower", *([] if self.http_api else ["--disable-http-api"])]
        self._jasmind = self._spawn("jasmind", [str(self.python), str(self.jasmind), "-c",
                                                str(self.root / "etc" / "jasmin" / "jasmin.cfg"), *flags],
                                    cwd=self.workdir, env=env)
        ports = {self.smpp_port, self.jcli_port, *([self.http_port] if self.http_api else [])}
        self._wait("jasmind listening (SMPP, jCli" + (", HTTP API)" if self.http_api else ")"),
                   lambda: ports <= listening_ports(), deadline, interval=0.1)
        # the user last: a client that binds the moment jasmind listens (smsgate rebinding after a restart) is
        # refused until the routes exist, as with a Jasmin that loads its configuration at start, instead of
        # being bound to a Jasmin that answers ESME_RINVDSTADR (no route) to its first submit_sm
        self.jcli([
            "group -a", "gid g1", "ok",
            "smppccm -a", "cid upstream", "host 127.0.0.1", f"port {self.upstream_port}", "username jasmin",
            "password jasmin", "bind transceiver", "submit_throughput 0", "ok",
            "smppccm -1 upstream",
            "mtrouter -a", "type DefaultRoute", "connector smppc(upstream)", "rate 0.00", "ok",
            "morouter -a", "type DefaultRoute", f"connector smpps({self.system_id})", "ok",
        ])
        self._wait("upstream connector BOUND_TRX", lambda: "BOUND_TRX" in self.jcli(["smppccm -l"]), deadline,
                   interval=0.2)
        self.jcli(["user -a", f"username {self.system_id}", f"password {self.password}", "gid g1",
                   f"uid {self.system_id}", "ok"])

    def stop_jasmind(self) -> None:
        """Stop jasmind alone (SIGTERM, then SIGKILL), keeping RabbitMQ, redis and the upstream running."""
        child = self._jasmind
        if child is not None:
            child.stop()
            self.children.remove(child)
            self._jasmind = None

    @property
    def send_url(self) -> str:
        """The HTTP API's /send (with ``http_api=True``)."""
        return f"http://{LOOPBACK}:{self.http_port}/send"

    def route_mo_http(self, url: str, destination: str = "2020") -> None:
        """Send MOs to `destination` to an HTTP client connector that POSTs them to `url`; every other MO still goes
        to the SMPP user. jCli keeps filters and connectors per session, so all three are made in one."""
        self.jcli([
            "filter -a", "fid to_http", "type DestinationAddrFilter", f"destination_addr ^{destination}$", "ok",
            "httpccm -a", "cid smsgate", f"url {url}", "method POST", "ok",
            "morouter -a", "type StaticMORoute", "order 10", "filters to_http", "connector http(smsgate)", "ok",
        ])

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
        extra = [tail(self.log_dir / name, 30) for name in ("default-smpps_01.log", "messages.log")]
        return super().logs() + "\n" + "\n".join(extra)
