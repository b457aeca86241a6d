"""End to end against a REAL Jasmin 0.11.0 (with RabbitMQ, Redis and the upstream SMSC from Jasmin's sdist, all
from tests/support/peers), no mock anywhere: `smsgate serve` holds the long-lived bind, `smsgate send` binds briefly.

- `smsgate send` → submit_sm → submit_sm_resp (Jasmin's UUID) → the upstream's receipt → `delivered`;
  UCS-2 and a long (UDH) message likewise;
- an MO pushed by the upstream → stored once; a two-part MO → one message;
- a wrong password → `smsgate send` fails with one line naming ESME_RINVPASWD;
- Jasmin stopped while messages are queued → /healthz and the channel's link state say the bind is down, nothing
  is attempted; Jasmin restarted → serve rebinds (the link is up again) and sends them;
- serve SIGKILLed after storing an MO but before its deliver_sm_resp → Jasmin redelivers to the restarted serve,
  and the MO is stored once.

Jasmin and its helpers start once for the module (about 6 s). If they cannot start, the fixture raises
PeerStartError: these tests fail, never skip.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from smsgate.store import SQLiteStore
from smsgate_smpp._pdu import encode

from tests.support.peers import Jasmin, free_port
from tests.support.stored import StoreWatch

pytestmark = pytest.mark.peers

CLI = Path(sys.executable).with_name("smsgate")
CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("SMSGATE_")}
TOKEN = "e2e-token-0123456789"
SHORTCODE = "2020"
# how the upstream (Twisted smpp.pdu) prints a submit_sm's data_coding
CODING = {"0": "DataCoding[scheme: DataCodingScheme.DEFAULT, schemeData: DataCodingDefault.SMSC_DEFAULT_ALPHABET]",
          "8": "DataCoding[scheme: DataCodingScheme.DEFAULT, schemeData: DataCodingDefault.UCS2]"}

# serve with a plugin that, once enabled by a flag file, stops the event loop right after an MO is committed
# (the message_received hook runs after the commit, before the sink returns): SIGKILL lands exactly between
# the commit and the deliver_sm_resp
HOLDING_SERVE = """
import os, sys, time
import smsgate
from smsgate.plugins import pm

class Hold:
    @smsgate.hookimpl
    def smsgate_message_received(self, message, channel):
        flag = os.environ["HOLD_FLAG"]
        if os.path.exists(flag):
            with open(flag + ".held", "w") as fh:
                fh.write(message.text)
            time.sleep(120)

pm.register(Hold(), name="hold")
from smsgate_cli.main import main
sys.argv = ["smsgate", *sys.argv[1:]]
main()
"""


@dataclass
class Setup(StoreWatch):
    wait_timeout: ClassVar[float] = 30.0

    jasmin: Jasmin
    tmp: Path
    config: Path
    bad_config: Path
    database: Path
    port: int
    server: subprocess.Popen[bytes] | None = None
    serve_log: Path | None = None
    serve_logs: list[Path] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str, config: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(CLI), "--config", str(config or self.config), *args], capture_output=True,
                              text=True, timeout=90, env=CLEAN_ENV)

    def logs(self) -> str:
        serve = "\n".join(p.read_text(errors="replace")[-3000:] for p in self.serve_logs if p.exists())
        return f"--- serve ---\n{serve}\n{self.jasmin.logs()}"

    def health(self) -> dict[str, Any]:
        return dict(httpx.get(f"{self.url}/healthz", timeout=2, headers={"Authorization": f"Bearer {TOKEN}"}).json())

    def start_serve(self, *, holding: Path | None = None) -> None:
        log_path = self.tmp / f"serve{len(self.serve_logs)}.log"
        self.serve_logs.append(log_path)
        if holding is None:
            argv = [str(CLI), "--config", str(self.config), "serve", "--log-level", "warning"]
            env = CLEAN_ENV
        else:
            script = self.tmp / "holding_serve.py"
            script.write_text(HOLDING_SERVE)
            argv = [sys.executable, str(script), "--config", str(self.config), "serve", "--log-level", "warning"]
            env = {**CLEAN_ENV, "HOLD_FLAG": str(holding)}
        with log_path.open("wb") as out:
            self.server = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
        self.wait_bound()

    def wait_bound(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            assert self.server is not None and self.server.poll() is None, self.logs()
            with contextlib.suppress(httpx.TransportError, ValueError):
                if self.health().get("status") == "ok":
                    return
            assert time.monotonic() < deadline, f"smsgate serve did not bind\n{self.logs()}"
            time.sleep(0.1)

    def stop_serve(self, sig: int = signal.SIGTERM) -> None:
        server, self.server = self.server, None
        if server is None:
            return
        server.send_signal(sig)
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)


def _config(path: Path, port: int, database: Path, jasmin: Jasmin, password: str) -> Path:
    path.write_text(
        f'[gateway]\nhost = "127.0.0.1"\nport = {port}\ndatabase = "{database}"\nsynchronous = "NORMAL"\n'
        f'api_token = "{TOKEN}"\nsend_retry_base = 1\n\n'
        f'[channels.sm]\nadapter = "smpp"\naddress = "{SHORTCODE}"\ncountry = "RW"\nhost = "127.0.0.1"\n'
        f'port = {jasmin.smpp_port}\nsystem_id = "{jasmin.system_id}"\npassword = "{password}"\n'
        f'enquire_link_interval = 5\nreconnect_max = 2\ntimeout = 10\n')
    return path


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> Iterator[Setup]:
    tmp = tmp_path_factory.mktemp("smpp-e2e")
    database = tmp / "smsgate.sqlite3"
    port = free_port()
    with Jasmin(dlr_delay=0.5) as jasmin:
        s = Setup(jasmin, tmp, _config(tmp / "smsgate.toml", port, database, jasmin, jasmin.password),
                  _config(tmp / "bad.toml", port, database, jasmin, "wrongpw"), database, port)
        s.start_serve()
        try:
            yield s
        finally:
            s.stop_serve()


async def _link(store: SQLiteStore, state: str) -> Any:
    link = (await store.links()).get("sm")
    return link if link is not None and link.state == state else None


async def _status(store: SQLiteStore, message_id: str, status: str) -> Any:
    record = await store.get_message(message_id)
    return record if record is not None and record.status == status else None


@pytest.mark.parametrize(("text", "coding", "parts"), [
    ("Hello from smsgate {1+1=2} €", "0", 1),
    ("Привет 👋 from smsgate", "8", 1),
    ("A long one. " * 20, "0", 2),
])
def test_cli_send_is_answered_and_its_receipts_deliver_it(setup, text, coding, parts):
    message_id = str(uuid.uuid4())
    before = len(setup.jasmin.submits())
    done = setup.cli("send", text, "--channel", "sm", "--to", "0788123123", "--id", message_id)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith(("wired", "sent", "delivered")), done.stdout
    sent = setup.store_call(lambda s: s.get_message(message_id))
    assert sent.segments == parts and len(sent.external_ids) == parts
    assert all(len(ext) == 36 for ext in sent.external_ids)  # Jasmin's submit_sm_resp message_id: a UUID
    record = setup.wait_for("delivered", lambda s: _status(s, message_id, "delivered"))
    assert record.error_code is None
    # the upstream SMSC got the message in as many submit_sm, in the coding core's text module chose
    deadline = time.monotonic() + 10
    while len(setup.jasmin.submits()) < before + parts and time.monotonic() < deadline:
        time.sleep(0.1)
    got = setup.jasmin.submits()[before:]
    assert len(got) == parts, got
    assert {bytes.fromhex(g["destination_addr"]).decode() for g in got} == {"250788123123"}
    assert {g["data_coding"] for g in got} == {CODING[coding]}
    if parts > 1:
        assert {h["external_id"] for h in record.history if h["status"] == "delivered"} == set(sent.external_ids)


def test_mo_is_stored_once(setup):
    marker = uuid.uuid4().hex[:8]
    sender = "250788" + str(int(marker, 16) % 1_000_000).zfill(6)
    pdu = encode("deliver_sm", 1, source_addr_ton=1, source_addr=sender, destination_addr=SHORTCODE,
                 data_coding=8, short_message=f"Привет {marker}".encode("utf-16-be"))
    setup.jasmin.send_mo(pdu)
    found = setup.wait_for("the MO", lambda s: _incoming(s, marker))
    assert [(m.from_, m.to, m.text) for m in found] == [("+" + sender, SHORTCODE, f"Привет {marker}")]
    time.sleep(1.5)
    assert len(setup.store_call(lambda s: _incoming(s, marker))) == 1


def test_two_part_mo_is_joined(setup):
    marker = uuid.uuid4().hex[:8]
    text = f"part one {marker} " * 6 + "and part two"
    data = text.encode("gsm03.38")
    halves = [data[:120], data[120:]]
    for index, half in enumerate(halves, start=1):
        setup.jasmin.send_mo(encode("deliver_sm", 1, source_addr_ton=1, source_addr="250788555000",
                                    destination_addr=SHORTCODE, esm_class=0x40, data_coding=0,
                                    short_message=bytes([5, 0, 3, 77, 2, index]) + half))
    found = setup.wait_for("the joined MO", lambda s: _incoming(s, marker))
    assert [m.text for m in found] == [text]


async def _incoming(store: SQLiteStore, marker: str) -> list[Any]:
    return [m for m in await store.list_messages(direction="in", limit=500) if marker in m.text]


def test_wrong_password_is_one_line_naming_the_bind_status(setup):
    done = setup.cli("send", "hello", "--channel", "sm", "--to", "0788123123", config=setup.bad_config)
    assert done.returncode == 1
    errors = done.stderr.strip().splitlines()
    assert len(errors) == 1, done.stderr
    assert "ESME_RINVPASWD" in errors[0] and "bind_transmitter" in errors[0], errors
    assert "wrongpw" not in done.stdout + done.stderr
    check = setup.cli("check", config=setup.bad_config)
    assert check.returncode == 1 and "ESME_RINVPASWD" in check.stdout, check.stdout + check.stderr


def _post(setup: Setup, text: str) -> str:
    message_id = str(uuid.uuid4())
    answer = httpx.post(f"{setup.url}/api/v1/messages", headers={"Authorization": f"Bearer {TOKEN}"},
                        json={"channel": "sm", "to": "0788123123", "text": text, "id": message_id}, timeout=10)
    assert answer.status_code == 202, answer.text
    return message_id


def test_jasmin_restart_while_messages_are_queued(setup):
    setup.jasmin.stop_jasmind()
    try:
        deadline = time.monotonic() + 30
        while setup.health()["status"] == "ok":
            assert time.monotonic() < deadline, "serve did not notice the bind went down"
            time.sleep(0.1)
        assert "sm" in setup.health()["down"]
        # the link state every instance and `smsgate status` read: down the moment the bind dropped
        down = setup.wait_for("the link recorded down", lambda s: _link(s, "down"))
        assert down.reason.startswith("bind down"), down
        ids = [_post(setup, f"queued while down {i}") for i in range(3)]
        time.sleep(2)
        held = setup.store_call(lambda s: asyncio.gather(*(s.get_message(i) for i in ids)))
        assert [(m.status, m.attempts) for m in held] == [("queued", 0)] * 3  # not attempted while down
    finally:
        setup.jasmin.start_jasmind()
    setup.wait_bound(60)
    up = setup.wait_for("the link recorded up", lambda s: _link(s, "up"))
    assert up.reason.startswith("bound transceiver to ") and up.since > down.since, up
    for message_id in ids:
        setup.wait_for(f"{message_id} delivered after the restart", lambda s, i=message_id: _status(s, i, "delivered"),
                       timeout=60)
    logs = setup.store_call(lambda s: s.list_logs(channel="sm", limit=200))
    binds = [log for log in logs if log["kind"] == "bind"]
    assert any(log["errors"] and "bind down" in log["errors"][0] for log in binds)


def test_sigkill_between_commit_and_deliver_sm_resp_stores_the_mo_once(setup):
    flag = setup.tmp / "hold.flag"
    setup.stop_serve()
    setup.start_serve(holding=flag)
    flag.write_text("on")
    marker = uuid.uuid4().hex[:8]
    setup.jasmin.send_mo(encode("deliver_sm", 1, source_addr_ton=1, source_addr="250788777000",
                                destination_addr=SHORTCODE, data_coding=0,
                                short_message=f"crash test {marker}".encode("gsm03.38")))
    held = Path(str(flag) + ".held")
    deadline = time.monotonic() + 30
    while not held.exists():
        assert time.monotonic() < deadline, f"the MO never reached serve\n{setup.logs()}"
        time.sleep(0.05)
    assert len(setup.store_call(lambda s: _incoming(s, marker))) == 1  # committed, not yet answered
    setup.stop_serve(signal.SIGKILL)
    flag.unlink()
    setup.start_serve()
    # Jasmin saw the connection drop without a deliver_sm_resp: it delivers the MO again to the new bind
    deadline = time.monotonic() + 30
    redelivered = False
    while time.monotonic() < deadline and not redelivered:
        logs = setup.store_call(lambda s: s.list_logs(channel="sm", limit=100))
        redelivered = sum(1 for log in logs if log["kind"] == "deliver_sm" and marker.encode().hex() in
                          log["traces"][0]["request_body"]) >= 2
        time.sleep(0.2)
    assert redelivered, f"Jasmin did not redeliver the MO\n{setup.logs()}"
    assert len(setup.store_call(lambda s: _incoming(s, marker))) == 1
