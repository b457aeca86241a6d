"""End to end against a REAL Jasmin 0.11.0 (with RabbitMQ, Redis and the upstream SMSC from Jasmin's sdist, all from
tests/support/peers), no mock anywhere: `smsgate serve` takes Jasmin's callbacks, `smsgate send` calls its HTTP API.

- `smsgate send` → GET /send → `Success "<uuid>"` → submit_sm to the upstream → its receipt → Jasmin's DLR thrower
  POSTs the dlr-url → `delivered` (GSM-7 and UCS-2 with hex-content); an `UNDELIV` receipt → `failed`;
- a 1000-character text, which Jasmin would cut at 5 parts, goes as two /send calls: the upstream gets all seven
  parts, nothing lost;
- MOs pushed by the upstream to 2020 → Jasmin's MO router → an HTTP client connector → `/c/js/receive`: a GSM-7
  one and a UCS-2 one with an emoji (raw bytes in a form body) are stored once each with their text, answered
  `ACK/Jasmin`, so Jasmin does not throw them again.

jasmind takes a machine-wide lock (/tmp/jasmind): "Lock not acquired" means another checkout's Jasmin is running;
rerun once it is done. If the peers cannot start the fixture raises: these tests fail, never skip.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import gsm0338  # noqa: F401  (registers the "gsm03.38" codec)
import pytest

from tests.support.peers import Jasmin, free_port
from tests.support.served import Served
from tests.support.stored import StoreWatch

pytestmark = pytest.mark.peers

CLI = Path(sys.executable).with_name("smsgate")
CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("SMSGATE_")}
SHORTCODE = "2020"
UCS2_CODING = "DataCoding[scheme: DataCodingScheme.DEFAULT, schemeData: DataCodingDefault.UCS2]"


@dataclass
class Setup(StoreWatch):
    wait_timeout: ClassVar[float] = 30.0

    jasmin: Jasmin
    served: Served
    config: Path
    database: Path

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(CLI), "--config", str(self.config), *args], capture_output=True, text=True,
                              timeout=90, env=CLEAN_ENV)

    def logs(self) -> str:
        serve = self.served.log.read_text(errors="replace")[-3000:] if self.served.log.exists() else ""
        http = self.jasmin.log_dir / "http-api.log"
        throwers = [p.read_text(errors="replace")[-2000:] for p in (http, self.jasmin.log_dir / "dlr-thrower.log",
                                                                   self.jasmin.log_dir / "deliversm-thrower.log")
                    if p.exists()]
        return f"--- serve ---\n{serve}\n{self.jasmin.logs()}\n" + "\n".join(throwers)

    def thrown(self, jasmin_id: str, log: str) -> tuple[int, int]:
        """(how often Jasmin's thrower sent the MO or receipt `jasmin_id`, how often it found no ACK/Jasmin), once
        its log shows the first throw (it logs after reading our answer, which may be after we stored it)."""
        deadline = time.monotonic() + 10
        while True:
            lines = [line for line in (self.jasmin.log_dir / log).read_text(errors="replace").splitlines()
                     if jasmin_id in line]
            thrown = sum("Throwed" in line for line in lines)
            if thrown or time.monotonic() > deadline:
                return thrown, sum("did not acknowledge" in line for line in lines)
            time.sleep(0.1)

    def submits_after(self, before: int, count: int) -> list[dict[str, Any]]:
        deadline = time.monotonic() + 15
        while len(self.jasmin.submits()) < before + count and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.jasmin.submits()[before:]


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> Iterator[Setup]:
    tmp = tmp_path_factory.mktemp("jasmin-http-e2e")
    port = free_port()
    database = tmp / "smsgate.sqlite3"
    with Jasmin(dlr_delay=0.3, http_api=True) as jasmin:
        jasmin.route_mo_http(f"http://127.0.0.1:{port}/c/js/receive", SHORTCODE)
        config = tmp / "smsgate.toml"
        config.write_text(
            f'[gateway]\nhost = "127.0.0.1"\nport = {port}\ndatabase = "{database}"\nsynchronous = "NORMAL"\n'
            f'public_url = "http://127.0.0.1:{port}"\n\n'
            f'[channels.js]\nadapter = "jasmin"\naddress = "{SHORTCODE}"\ncountry = "RW"\n'
            f'send_url = "{jasmin.send_url}"\nusername = "{jasmin.system_id}"\npassword = "{jasmin.password}"\n'
            f'max_attempts = 1\n')
        served = Served(config, port, tmp / "serve.log")
        served.start()
        try:
            yield Setup(jasmin, served, config, database)
        finally:
            served.stop()


async def _status(store: Any, message_id: str, status: str) -> Any:
    record = await store.get_message(message_id)
    return record if record is not None and record.status == status else None


def _sent(setup: Setup, text: str) -> tuple[str, Any]:
    message_id = str(uuid.uuid4())
    done = setup.cli("send", text, "--channel", "js", "--to", "0788123123", "--id", message_id)
    assert done.returncode == 0, done.stdout + done.stderr + setup.logs()
    assert done.stdout.startswith(("wired", "sent", "delivered")), done.stdout
    return message_id, setup.store_call(lambda s: s.get_message(message_id))


@pytest.mark.parametrize(("text", "ucs2"), [("Hello from smsgate {1+1=2} €", False), ("Привет 👋 from smsgate", True)])
def test_sent_through_the_http_api_and_delivered_by_its_receipt(setup: Setup, text: str, ucs2: bool) -> None:
    before = len(setup.jasmin.submits())
    message_id, sent = _sent(setup, text)
    [jasmin_id] = sent.external_ids
    assert len(jasmin_id) == 36  # Jasmin's Success "<uuid>"
    record = setup.wait_for("delivered", lambda s: _status(s, message_id, "delivered"))
    assert {h["external_id"] for h in record.history if h["status"] == "delivered"} == {jasmin_id}
    assert setup.thrown(jasmin_id, "dlr-thrower.log") == (1, 0)  # the receipt was thrown once and acknowledged
    [submit] = setup.submits_after(before, 1)
    assert bytes.fromhex(submit["destination_addr"]).decode() == "250788123123"
    assert bytes.fromhex(submit["source_addr"]).decode() == SHORTCODE
    body = bytes.fromhex(submit["short_message"])
    if ucs2:
        assert submit["data_coding"] == UCS2_CODING and body.decode("utf-16-be") == text
    else:
        assert body.decode("gsm03.38") == text


def test_an_undelivered_receipt_fails_the_message(setup: Setup) -> None:
    setup.jasmin.set_stat("UNDELIV")
    try:
        message_id, _ = _sent(setup, "This one will not arrive")
        record = setup.wait_for("failed", lambda s: _status(s, message_id, "failed"))
    finally:
        setup.jasmin.set_stat("DELIVRD")
    assert record.error_code == "UNDELIV"


def test_a_text_past_jasmins_part_limit_arrives_whole(setup: Setup) -> None:
    text = "".join(f"{i:04d} " for i in range(200)).strip()  # 999 characters: 7 parts, Jasmin keeps 5 a call
    before = len(setup.jasmin.submits())
    message_id, sent = _sent(setup, text)
    assert len(sent.external_ids) == 2 and sent.segments == 7
    submits = setup.submits_after(before, 7)
    assert len(submits) == 7, submits
    pieces: dict[tuple[int, int], bytes] = {}
    for submit in submits:
        data = bytes.fromhex(submit["short_message"])
        assert data[:3] == b"\x05\x00\x03"  # a concatenation UDH: reference, total, index
        pieces[(data[3], data[5])] = data[6:]
    by_reference: dict[int, list[bytes]] = {}
    for (reference, _), data in sorted(pieces.items()):
        by_reference.setdefault(reference, []).append(data)
    calls = sorted((b"".join(parts).decode("gsm03.38") for parts in by_reference.values()), key=len, reverse=True)
    assert " ".join(calls) == text  # cut at a space between the two calls, every character delivered
    setup.wait_for("delivered", lambda s: _status(s, message_id, "delivered"))


def deliver_sm(source: str, destination: str, data: bytes, coding: int) -> bytes:
    """A deliver_sm PDU (SMPP 3.4 §4.6.1) from `source` to `destination` carrying `data`."""
    body = (b"\x00" + bytes([1, 1]) + source.encode() + b"\x00" + bytes([0, 0]) + destination.encode() + b"\x00"
            + bytes([0, 0, 0]) + b"\x00" + b"\x00" + bytes([0, 0, coding, 0, len(data)]) + data)
    return struct.pack(">LLLL", 16 + len(body), 0x00000005, 0, 1) + body


async def _incoming(store: Any, marker: str) -> list[Any]:
    return [m for m in await store.list_messages(direction="in", limit=500) if marker in m.text]


@pytest.mark.parametrize(("text", "coding"), [("Hola événement @ {x} ", 0), ("Привет 👋 ", 8)])
def test_an_mo_reaches_smsgate_through_jasmins_http_connector(setup: Setup, text: str, coding: int) -> None:
    marker = uuid.uuid4().hex[:8]
    sender = "250788" + str(int(marker, 16) % 1_000_000).zfill(6)
    data = (text + marker).encode("gsm03.38" if coding == 0 else "utf-16-be")
    setup.jasmin.send_mo(deliver_sm(sender, SHORTCODE, data, coding))
    found = setup.wait_for("the MO", lambda s: _incoming(s, marker))
    assert [(m.from_, m.to, m.text) for m in found] == [("+" + sender, SHORTCODE, text + marker)]
    [message] = found
    assert len(message.external_ids[0]) == 36  # Jasmin's MO id, the same on a redelivery
    time.sleep(2.5)  # Jasmin throws again after retry_delay (1 s) when it did not read ACK/Jasmin
    assert len(setup.store_call(lambda s: _incoming(s, marker))) == 1
    assert setup.thrown(message.external_ids[0], "deliversm-thrower.log") == (1, 0)  # once, acknowledged
