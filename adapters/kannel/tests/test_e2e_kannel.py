"""End to end against a REAL Kannel 1.4.5 (bearerbox + smsbox + fakesmsc, from tests/support/peers), no mock anywhere.

- `smsgate send` (the CLI) → smsbox's sendsms → bearerbox → the fake SMSC prints the text (ASCII, and unicode in
  both `unicode_form`s);
- the fake SMSC's delivery reports → Kannel calls the dlr-url → `smsgate serve` → the message ends `delivered`;
- a mobile-originated message typed into fakesmsc → Kannel's sms-service get-url → `smsgate serve` → stored;
- RapidPro (a local form-recording server) → `/b/rp/send` → Kannel → the SMSC, and back: `sent`, `delivered`
  and the phone's answer reach RapidPro's channel URL through the outbox.

Kannel runs with the sms-service group that `smsgate kannel-config` prints (so the documented kannel.conf text is
the tested one). If Kannel cannot start, the fixture raises `PeerStartError`: these tests fail, never skip.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from smsgate.store import SQLiteStore

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
sys.path.insert(0, str(HERE))

from fake_smpp import FakeSmppSmsc  # noqa: E402

from tests.support.peers import Kannel, free_port, free_ports, listening_ports  # noqa: E402
from tests.support.stored import StoreWatch  # noqa: E402

pytestmark = pytest.mark.peers

CLI = Path(sys.executable).with_name("smsgate")
# the developer's or CI's own SMSGATE_* settings must not leak into this config
CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("SMSGATE_")}
PHONE = "+250788123123"
SHORTCODE = "2020"


class PrintedServiceKannel(Kannel):
    """The Kannel of tests/support/peers/kannel.py, with its sms-service group replaced by the text `smsgate
    kannel-config` printed, and `extra_groups` (e.g. another smsc group) inserted before its smsbox group."""

    service_text = ""
    extra_groups = ""

    def config_text(self) -> str:
        """The peer's core/smsc/smsbox/sendsms-user groups, then our printed groups."""
        head, found, _ = super().config_text().partition("group = sms-service")
        assert found, "tests/support/peers no longer writes an sms-service group where expected"
        before, found, after = head.partition("group = smsbox")
        assert found, "tests/support/peers no longer writes an smsbox group where expected"
        return before + self.extra_groups + "\n\n" + found + after + self.service_text


@dataclass
class Setup(StoreWatch):
    kannel: Kannel
    config: Path
    database: Path
    url: str
    service_text: str

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(CLI), "--config", str(self.config), *args], capture_output=True, text=True,
                              timeout=60, env=CLEAN_ENV)

    def logs(self) -> str:
        return self.kannel.logs()


def _channel(kannel: Kannel, sendsms_url: str, **extra: str) -> str:
    keys = {"adapter": "kannel", "address": SHORTCODE, "country": "RW", "send_url": sendsms_url,
            "username": kannel.username, "password": kannel.password, "dlr_mask": 31, "max_attempts": 1, **extra}
    return "".join(f"{k} = {v}\n" if isinstance(v, int) else f'{k} = "{v}"\n' for k, v in keys.items())


@contextlib.contextmanager
def running(tmp: Path, channels: dict[str, dict[str, Any]], *, printed_for: str,
            extra_groups: Callable[[str], str] | None = None, extra_config: str = "",
            **kannel_options: Any) -> Iterator[Setup]:
    """A real Kannel running the sms-service `smsgate kannel-config --channel <printed_for>` prints, and
    `smsgate serve` for `channels` (name → extra channel keys); `extra_groups(printed)` adds kannel.conf groups,
    `extra_config` more smsgate TOML (e.g. a bridge)."""
    port = free_port()
    database = tmp / "smsgate.sqlite3"
    kannel = PrintedServiceKannel(**kannel_options)  # ports are chosen here; processes start below
    config = tmp / "smsgate.toml"
    text = (f'[gateway]\nhost = "127.0.0.1"\nport = {port}\npublic_url = "http://127.0.0.1:{port}"\n'
            f'database = "{database}"\nsynchronous = "NORMAL"\n')
    for name, extra in channels.items():
        text += f"\n[channels.{name}]\n" + _channel(kannel, kannel.sendsms_url, **extra)
    config.write_text(text + extra_config)
    printed = subprocess.run([str(CLI), "--config", str(config), "kannel-config", "--channel", printed_for],
                             capture_output=True, text=True, timeout=60, env=CLEAN_ENV)
    assert printed.returncode == 0, printed.stderr
    kannel.service_text = printed.stdout
    if extra_groups is not None:
        kannel.extra_groups = extra_groups(printed.stdout)
    serve_log = tmp / "serve.log"
    with kannel, serve_log.open("wb") as out:
        server = subprocess.Popen([str(CLI), "--config", str(config), "serve", "--log-level", "warning"],
                                  stdout=out, stderr=subprocess.STDOUT, env=CLEAN_ENV)
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                assert server.poll() is None, serve_log.read_text()
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, f"smsgate serve did not answer\n{serve_log.read_text()}"
                time.sleep(0.1)
            yield Setup(kannel, config, database, url, printed.stdout)
        finally:
            server.terminate()
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(5)


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> Iterator[Setup]:
    with running(tmp_path_factory.mktemp("kannel-e2e"), {"kn": {}, "kn8": {"unicode_form": "utf8"}},
                 printed_for="kn") as started:
        yield started


def test_kannel_runs_the_printed_sms_service(setup):
    conf = setup.kannel.conf_path.read_text()
    assert setup.service_text in conf
    assert f'get-url = "{setup.url}/c/kn/receive?sender=%p&to=%P&message=%a&ts=%T&id=%I&coding=%c&charset=%C"' in conf


@pytest.mark.parametrize(("channel", "text", "mt_type"), [
    ("kn", "Hello from smsgate 1+1=2 & 100% ?", "text"),
    ("kn", "Привет 👋 ☺ from smsgate", "ucs-2"),   # UTF-16BE bytes, coding=2
    ("kn8", "Привет 👋 ☺ from smsgate, utf8", "ucs-2"),  # UTF-8 with coding=2&charset=UTF-8
    ("kn", "Fancy “Smart” Quotes…", "text"),
])
def test_cli_send_reaches_the_smsc_and_dlrs_deliver_it(setup, channel, text, mt_type):
    message_id = str(uuid.uuid4())
    done = setup.cli("send", text, "--channel", channel, "--to", "0788123123", "--id", message_id)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith(("wired", "sent", "delivered")), done.stdout
    expected = text.replace("“", '"').replace("”", '"').replace("…", "...")
    mt = setup.kannel.wait_for_mt(lambda m: m["text"] == expected)
    assert (mt["type"], mt["from"], mt["to"]) == (mt_type, SHORTCODE, PHONE)
    # dlr-mask 31: the fake SMSC reports 8 (accepted by SMSC) then 1 (delivered), through smsgate serve
    record = setup.wait_for("delivered", lambda s: _with_status(s, message_id, "delivered"))
    assert record.error_code is None
    assert {"wired", "sent", "delivered"} <= {h["status"] for h in record.history}
    callbacks = setup.store_call(lambda s: s.list_logs(channel=channel, limit=1000))
    dlrs = [c for c in callbacks if c["kind"] == "status" and f"id={message_id}" in c["traces"][0]["url"]]
    assert {c["traces"][0]["url"].split("status=")[1][:1] for c in dlrs} == {"8", "1"}
    assert all("Kannel/" in c["traces"][0]["request_headers"].get("user-agent", "") for c in dlrs)


async def _with_status(store: SQLiteStore, message_id: str, status: str) -> Any:
    record = await store.get_message(message_id)
    return record if record is not None and record.status == status else None


@pytest.mark.parametrize("text", ["hello from the phone 1+1=2 & 100%", "Привет ☺ from the phone", ""])
def test_mo_reaches_serve_through_the_get_url(setup, text):
    marker = uuid.uuid4().hex[:8]
    sender = "+25078" + str(int(marker, 16) % 10_000_000).zfill(7)  # a fresh sender finds this MO
    before = time.time()
    setup.kannel.send_mo(sender, SHORTCODE, f"{text} {marker}" if text else marker)

    async def find(store: SQLiteStore) -> Any:
        return [m for m in await store.list_messages(direction="in", limit=1000) if m.from_ == sender]

    [message] = setup.wait_for("the MO", find)
    assert message.text == (f"{text} {marker}" if text else marker)
    assert (message.channel, message.to, message.status) == ("kn", SHORTCODE, "received")
    [external_id] = message.external_ids
    assert uuid.UUID(external_id)  # Kannel's %I
    raw = message.metadata["raw"]
    assert int(raw["ts"]) >= int(before) - 1 and raw["coding"] == "0" and raw["charset"] == "UTF-8"


def test_binary_mo_keeps_its_bytes(setup):
    payload = b"\x00\x01caf\xe9 " + uuid.uuid4().hex[:6].encode()
    setup.kannel.send_mo("+250788000042", SHORTCODE, data=payload)

    async def find(store: SQLiteStore) -> Any:
        return [m for m in await store.list_messages(direction="in", limit=1000)
                if m.metadata["raw"].get("message_hex") == payload.hex()]

    [message] = setup.wait_for("the binary MO", find)
    assert message.text.encode("latin-1") == payload
    assert message.metadata["raw"]["coding"] == "1"


def test_no_reply_is_texted_back_to_the_phone(setup):
    """max-messages = 0 in the printed sms-service: smsgate's JSON answer never becomes an SMS."""
    setup.kannel.send_mo("+250788000077", SHORTCODE, "no reply please")

    async def find(store: SQLiteStore) -> Any:
        return [m for m in await store.list_messages(direction="in", limit=1000) if m.from_ == "+250788000077"]

    setup.wait_for("the MO", find)
    time.sleep(0.5)
    assert not [m for m in setup.kannel.received_mts() if m["to"] == "+250788000077"]


def test_wrong_password_fails_with_kannels_reason(setup, tmp_path):
    config = tmp_path / "wrong.toml"
    config.write_text(setup.config.read_text().replace(f'password = "{setup.kannel.password}"',
                                                       'password = "wrong-password"'))
    message_id = str(uuid.uuid4())
    done = subprocess.run([str(CLI), "--config", str(config), "send", "x", "--channel", "kn", "--to", PHONE,
                           "--id", message_id], capture_output=True, text=True, timeout=60, env=CLEAN_ENV)
    assert done.returncode == 1 and done.stdout == ""
    [line] = done.stderr.splitlines()  # one line: what failed and how to send it again
    reason = "HTTP 403 from 127.0.0.1: Authorization failed for sendsms"  # the send URL's host, then Kannel's words
    assert line.startswith(f"error: failed, not retried: {reason}; "), line
    assert f"`{reason}`" in (REPO / "adapters/kannel/README.md").read_text()  # the README's example is the real one
    assert line.endswith(f"to send it again: smsgate resend {message_id}")
    logs = subprocess.run([str(CLI), "--config", str(config), "logs", "--message", message_id, "--json"],
                          capture_output=True, text=True, timeout=60, env=CLEAN_ENV)
    assert "Authorization failed for sendsms" in logs.stdout and "**********" in logs.stdout
    assert "wrong-password" not in logs.stdout + done.stdout + done.stderr


# -- RapidPro through the bridge, to a real Kannel and back ---------------------------------------------------


class FakeRapidPro:
    """RapidPro's side of an External API channel: records every form POST smsgate makes to its channel URL."""

    def __init__(self) -> None:
        import threading
        import urllib.parse
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.calls: list[tuple[str, dict[str, str], dict[str, str]]] = []  # (action, query, form)
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                with fake.lock:
                    fake.calls.append((url.path.rsplit("/", 1)[-1], dict(urllib.parse.parse_qsl(url.query)),
                                       dict(urllib.parse.parse_qsl(body, keep_blank_values=True))))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/c/ex/0bd8a2f4-2a5b-4c73-9d3c-1f5a2f0e9b77"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, what: str, predicate: Callable[[tuple[str, dict[str, str], dict[str, str]]], bool],
                 timeout: float = 20.0) -> tuple[str, dict[str, str], dict[str, str]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                found = [c for c in self.calls if predicate(c)]
            if found:
                return found[0]
            time.sleep(0.05)
        raise AssertionError(f"RapidPro never got {what}; it got {self.calls}")


BRIDGE_SECRET = "rapidpro-bridge-secret-01"


def test_rapidpro_bridge_to_a_real_kannel_and_back(tmp_path):
    """RapidPro posts the seed's JSON to /b/rp/send; Kannel delivers it; RapidPro hears sent, delivered and an MO."""
    rapidpro = FakeRapidPro()
    bridge = (f'\n[bridges.rp]\nplatform = "rapidpro"\nchannel = "kn"\nreceive_url = "{rapidpro.url}"\n'
              f'secret = "{BRIDGE_SECRET}"\n')
    try:
        with running(tmp_path, {"kn": {}}, printed_for="kn", extra_config=bridge) as setup:
            rp_id = str(uuid.uuid4())
            body = {"id": rp_id, "text": "El amor es paciente. El amor es amable.", "to": PHONE,
                    "to_no_plus": PHONE[1:], "from": SHORTCODE, "from_no_plus": SHORTCODE, "channel": "0bd8a2f4"}
            answer = httpx.post(f"{setup.url}/b/rp/send", json=body,
                                headers={"Authorization": f"Bearer {BRIDGE_SECRET}"}, timeout=10)
            assert answer.status_code == 200 and answer.json()["status"] == "queued", answer.text
            # the serve worker sends it through Kannel to the SMSC
            mt = setup.kannel.wait_for_mt(lambda m: m["text"] == body["text"])
            assert (mt["from"], mt["to"]) == (SHORTCODE, PHONE)
            # Kannel's DLRs come back to smsgate, which tells RapidPro with its own id
            rapidpro.wait_for("sent", lambda c: c[0] == "sent" and c[1] == {"id": rp_id})
            rapidpro.wait_for("delivered", lambda c: c[0] == "delivered" and c[1] == {"id": rp_id})
            # a phone answers: Kannel's get-url → smsgate → RapidPro's receive, with an ISO-8601 date
            marker = uuid.uuid4().hex[:8]
            setup.kannel.send_mo(PHONE, SHORTCODE, f"gracias {marker}")
            _, _, form = rapidpro.wait_for("the MO", lambda c: c[0] == "receive" and marker in c[2].get("text", ""))
            assert form["from"] == PHONE and form["text"] == f"gracias {marker}"
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", form["date"]), form
            sent_order = [c[0] for c in rapidpro.calls if c[1].get("id") == rp_id]
            assert sent_order == ["sent", "delivered"]  # per message, in order, each once
    finally:
        rapidpro.server.shutdown()


# -- SMPP: the smsc group `smsgate kannel-config` prints, against a minimal SMPP 3.4 SMSC --------------------

SMPP_USER, SMPP_PASSWORD = "smsgate01", "smpp-pw"  # SMPP 3.4: Kannel cuts a password to 8 characters


def uncommented_smpp_group(printed: str, port: int) -> str:
    """The printed, commented SMPP example with the operator's edits: uncommented, pointed at our SMSC."""
    block = printed[printed.index("#group = smsc"):]
    lines = [line.removeprefix("#") for line in block.splitlines() if line.startswith("#")]
    values = {"host": "127.0.0.1", "port": str(port), "smsc-username": f'"{SMPP_USER}"',
              "smsc-password": f'"{SMPP_PASSWORD}"'}
    out = []
    for line in lines:
        key = line.split("=", 1)[0].strip()
        out.append(f"{key} = {values[key]}" if key in values else line)
    return "\n".join(out)


@pytest.fixture(scope="module")
def smpp(tmp_path_factory) -> Iterator[tuple[Setup, FakeSmppSmsc]]:
    with FakeSmppSmsc(SMPP_USER, SMPP_PASSWORD) as smsc:
        channels = {"smpp": {"smsc": "aggregator"}, "smpp8": {"smsc": "aggregator", "unicode_form": "utf8"}}
        with running(tmp_path_factory.mktemp("kannel-smpp"), channels, printed_for="smpp",
                     extra_groups=lambda printed: uncommented_smpp_group(printed, smsc.port)) as started:
            # the printed example routes the channel's smsc= to the SMPP connection only (never to fakesmsc)
            assert ("\nsmsc-id = aggregator\nallowed-smsc-id = aggregator\npreferred-smsc-id = aggregator\n"
                    in started.kannel.conf_path.read_text())
            smsc.wait(lambda: smsc.binds)
            deadline = time.monotonic() + 15
            while not re.search(r"^\s*aggregator\[.*\(online", started.kannel.status(), re.M):
                assert time.monotonic() < deadline, started.kannel.status()
                time.sleep(0.1)
            yield started, smsc


def test_smpp_example_binds_with_the_operators_credentials(smpp):
    _, smsc = smpp
    assert smsc.binds[0] == {"system_id": SMPP_USER, "password": SMPP_PASSWORD, "system_type": "",
                             "interface_version": 0x34}


@pytest.mark.parametrize(("channel", "text", "data_coding"), [
    ("smpp", "Hello over SMPP 1+1=2", 0),
    ("smpp", "Привет 👋 over SMPP", 8),
    ("smpp8", "Привет ☺ over SMPP, utf8", 8),
])
def test_send_over_smpp_and_the_receipt_delivers(smpp, channel, text, data_coding):
    setup, smsc = smpp
    message_id = str(uuid.uuid4())
    done = setup.cli("send", text, "--channel", channel, "--to", PHONE, "--id", message_id)
    assert done.returncode == 0, done.stdout + done.stderr
    submit = smsc.wait(lambda: next((s for s in smsc.submits if s.text == text), None))
    assert submit.destination.lstrip("+") == PHONE.lstrip("+") and submit.source == SHORTCODE
    assert submit.data_coding == data_coding
    assert submit.registered_delivery & 1  # dlr-mask 31 asks the SMSC for a receipt
    assert not [m for m in setup.kannel.received_mts() if m["text"] == text]  # routed to the SMPP connection only
    smsc.receipt(submit)
    record = setup.wait_for("delivered", lambda s: _with_status(s, message_id, "delivered"))
    assert {"sent", "delivered"} <= {h["status"] for h in record.history}


def test_smpp_receipt_of_failure_fails_the_message(smpp):
    setup, smsc = smpp
    message_id = str(uuid.uuid4())
    assert setup.cli("send", "Doomed", "--channel", "smpp", "--to", PHONE, "--id", message_id).returncode == 0
    submit = smsc.wait(lambda: next((s for s in smsc.submits if s.text == "Doomed"), None))
    smsc.receipt(submit, stat="UNDELIV", err="001")
    record = setup.wait_for("failed", lambda s: _with_status(s, message_id, "failed"))
    assert record.error_code == "dlr:2" and record.error_reason.startswith("not delivered to the phone")


@pytest.mark.parametrize(("text", "data_coding", "payload"), [
    ("Muraho from SMPP", 0, b"Muraho from SMPP"),
    ("Привет 👋 UCS-2 from SMPP", 8, "Привет 👋 UCS-2 from SMPP".encode("utf-16-be")),
])
def test_smpp_mo_reaches_serve(smpp, text, data_coding, payload):
    setup, smsc = smpp
    sender = "25078" + str(uuid.uuid4().int % 10_000_000).zfill(7)
    smsc.deliver(sender, SHORTCODE, payload, data_coding=data_coding)

    async def find(store: SQLiteStore) -> Any:
        return [m for m in await store.list_messages(direction="in", limit=1000) if m.from_ == "+" + sender]

    [message] = setup.wait_for("the SMPP MO", find)
    assert (message.text, message.channel, message.to) == (text, "smpp", SHORTCODE)
    raw = message.metadata["raw"]
    assert raw["coding"] == ("2" if data_coding == 8 else "0")
    if data_coding == 8:
        assert raw["charset"] == "UTF-16BE"  # Kannel hands UCS-2 over as UTF-16BE bytes: decoded by the adapter


# -- the README's complete kannel.conf ------------------------------------------------------------------------


def readme_kannel_conf() -> str:
    """The README's complete kannel.conf example (the fenced block that starts with `group = core`)."""
    readme = (HERE.parent / "README.md").read_text()
    blocks = re.findall(r"```\n(group = core\n.*?)```", readme, re.S)
    assert len(blocks) == 1, "README.md must hold exactly one complete kannel.conf example"
    return blocks[0]


def test_readme_kannel_conf_runs(tmp_path):
    """The README's kannel.conf, with only ports, log paths, the SMSC host and the SMPP credentials filled in
    for this machine, starts bearerbox and smsbox, binds over SMPP and routes a send to it."""
    admin, box, sendsms = free_ports(3)
    with FakeSmppSmsc(SMPP_USER, SMPP_PASSWORD) as smsc:
        conf = (readme_kannel_conf()
                .replace('"<system_id>"', f'"{SMPP_USER}"')
                .replace('"<smpp password>"', f'"{SMPP_PASSWORD}"')
                .replace("admin-port = 13000", f"admin-port = {admin}")
                .replace("13001", str(box))
                .replace("sendsms-port = 13013", f"sendsms-port = {sendsms}")
                .replace("/var/log/kannel/", f"{tmp_path}/")
                .replace("host = smpp.aggregator.example", "host = 127.0.0.1")
                .replace("port = 2775", f"port = {smsc.port}"))
        assert conf.count(str(box)) == 2 and "smpp.aggregator.example" not in conf
        path = tmp_path / "kannel.conf"
        path.write_text(conf)
        children: list[subprocess.Popen[bytes]] = []
        try:
            children.append(subprocess.Popen(["/usr/sbin/bearerbox", "-v", "1", str(path)], cwd=tmp_path,
                                             stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT))
            status = f"http://127.0.0.1:{admin}/status.txt?password=change-me"

            def until(what: str, ready: Callable[[], bool]) -> None:
                deadline = time.monotonic() + 20
                while not ready():
                    assert all(c.poll() is None for c in children), f"Kannel exited while waiting for {what}"
                    assert time.monotonic() < deadline, f"timed out waiting for {what}"
                    time.sleep(0.1)

            def status_has(pattern: str) -> bool:
                try:
                    return re.search(pattern, httpx.get(status, timeout=2).text, re.M) is not None
                except httpx.TransportError:
                    return False

            until("bearerbox's smsbox port", lambda: box in listening_ports())
            children.append(subprocess.Popen(["/usr/sbin/smsbox", "-v", "1", str(path)], cwd=tmp_path,
                                             stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT))
            until("the SMPP connection online", lambda: status_has(r"^\s*aggregator\[.*\(online"))
            until("smsbox connected", lambda: status_has(r"^\s*smsbox:.*\(on-line "))
            until("the sendsms port", lambda: sendsms in listening_ports())
            answer = httpx.get(f"http://127.0.0.1:{sendsms}/cgi-bin/sendsms", timeout=10, params={
                "username": "gate", "password": "secret", "from": SHORTCODE, "to": PHONE, "text": "README",
                "smsc": "aggregator"})
            assert answer.status_code == 202, answer.text
            assert smsc.wait(lambda: [s for s in smsc.submits if s.text == "README"])
            assert smsc.binds[0]["system_id"] == SMPP_USER
        finally:
            for child in reversed(children):  # smsbox first, then bearerbox; each by its own PID
                child.terminate()
                try:
                    child.wait(10)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait(5)
