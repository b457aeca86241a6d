"""PDU-level cassettes for the smpp adapter: recorded against the real Jasmin, replayed by a scripted SMSC.

A cassette (`cassettes/smpp/<scenario>.yaml`) is the ordered list of PDUs one scenario exchanged, each with its
direction (`out`: smsgate → SMSC, `in`: SMSC → smsgate), its hex bytes and its decoded fields. The bind
password is replaced by `REDACTED` (and the PDU re-encoded) before anything is written.

    python adapters/smpp/tests/smpp_cassettes.py record     # re-record every scenario against Jasmin
    (or: scripts/record-cassettes smpp)

Replaying (`test_recorded.py`) serves the cassette on a loopback port: each `out` PDU must arrive as recorded
(byte for byte, except its sequence number and the password), each `in` PDU is sent back in order (a response
carries the sequence number of the request it answers). The same scenario code runs in both modes.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from smsgate.host import Gateway, config_from_dict
from smsgate_smpp import SmppAdapter
from smsgate_smpp._pdu import decode, encode

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
CASSETTES = REPO / "cassettes" / "smpp"
MESSAGE_ID = "5b1a7a52-5a4f-4b8e-9c55-0e6f0d1b8a21"
MASK = "REDACTED"


@dataclass
class Scenario:
    """One recorded exchange: channel keys, what to send, whether serve's long-lived bind is used."""

    name: str
    text: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    serve: bool = False
    mo: bool = False
    password: str | None = None  # a wrong one


SCENARIOS = [  # the serve scenario first: Jasmin holds receipts of short-bind sends for the next receiver bind
    Scenario("serve-receipt-and-mo", "Receipt please", serve=True, mo=True),
    Scenario("send-gsm7", "Hello {world} from smsgate €"),
    Scenario("send-ucs2", "Привет 👋 from smsgate"),
    Scenario("send-long-udh", "A long message in parts. " * 12),
    Scenario("send-long-sar", "A long message in parts. " * 12, {"long_message": "sar"}),
    Scenario("send-long-payload", "A long message in parts. " * 12, {"long_message": "payload"}),
    Scenario("wrong-password", "hello", password="wrongpw"),
]

MO_PDU = encode("deliver_sm", 1, source_addr_ton=1, source_addr="250788123123", destination_addr="2020",
                data_coding=8, short_message="Привет from the phone".encode("utf-16-be"))


def masked(data: bytes) -> tuple[bytes, dict[str, Any]]:
    """A PDU with any bind password replaced by REDACTED, and its fields as YAML-ready values."""
    pdu = decode(data)
    if pdu.command.startswith("bind_") and not pdu.is_response:
        fields = {k: (v.decode("latin-1") if isinstance(v, bytes) else v) for k, v in pdu.fields.items()}
        fields["password"] = MASK
        data = encode(pdu.command, pdu.sequence, pdu.status, **fields)
        pdu = decode(data)
    shown = {k: (v.hex() if k in ("short_message", "message_payload") else
                 v.decode("latin-1") if isinstance(v, bytes) else v) for k, v in pdu.fields.items()}
    return data, {"command": pdu.command, "status": pdu.status, "sequence": pdu.sequence, "fields": shown}


async def run_scenario(scenario: Scenario, host: str, port: int, system_id: str, password: str, tmp: Path,
                       tap: Callable[[str, bytes], None] | None = None,
                       push_mo: Callable[[bytes], None] | None = None) -> dict[str, Any]:
    """Drive one scenario against the SMSC at host:port; returns what smsgate stored."""
    keys = {"adapter": "smpp", "address": "2020", "country": "RW", "host": host, "port": port,
            "system_id": system_id, "password": scenario.password or password, "timeout": 10,
            "enquire_link_interval": 120, "max_attempts": 1, **scenario.settings}
    config = config_from_dict({"gateway": {"database": str(tmp / f"{scenario.name}.sqlite3")},
                               "channels": {"sm": keys}}, {"smpp": SmppAdapter})
    gateway = Gateway(config)
    adapter = gateway.adapters["sm"]
    adapter.tap = tap
    try:
        if scenario.serve:
            await gateway.start_adapters()
            await _until(lambda: _true(adapter.health() is None), "bound")
        message = await gateway.prepare("sm", "+250788123123", scenario.text, id=MESSAGE_ID)
        outcome = await gateway.send(message)
        if scenario.serve:
            await _until(lambda: _status(gateway, "delivered"), "the receipt")
        if scenario.mo:
            if push_mo is not None:
                push_mo(MO_PDU)
            await _until(lambda: _incoming(gateway), "the MO")
        stored = await gateway.store.get_message(MESSAGE_ID)
        incoming = await gateway.store.list_messages(direction="in")
        return {"send": outcome, "message": stored, "incoming": incoming,
                "logs": await gateway.store.list_logs(limit=100)}
    finally:
        await gateway.close()


async def _true(value: bool) -> bool:
    return value


async def _status(gateway: Gateway, status: str) -> bool:
    record = await gateway.store.get_message(MESSAGE_ID)
    return record is not None and record.status == status


async def _incoming(gateway: Gateway) -> bool:
    return bool(await gateway.store.list_messages(direction="in"))


async def _until(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout}s")
        await asyncio.sleep(0.05)


def load(name: str) -> dict[str, Any]:
    """A cassette as written."""
    return dict(yaml.safe_load((CASSETTES / f"{name}.yaml").read_text(encoding="utf-8")))


# -- replaying ------------------------------------------------------------------------------------


class Replayer:
    """An SMSC on 127.0.0.1 that plays one cassette to one client and records what did not match."""

    def __init__(self, cassette: dict[str, Any]) -> None:
        self.steps = cassette["exchanges"]
        self.errors: list[str] = []
        self.done = asyncio.Event()
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        requests: dict[str, int] = {}  # command → sequence of its last request from the client
        try:
            for number, step in enumerate(self.steps):
                recorded = bytes.fromhex(step["hex"])
                if step["dir"] == "out":
                    head = await asyncio.wait_for(reader.readexactly(4), 10)
                    data = head + await reader.readexactly(int.from_bytes(head, "big") - 4)
                    got, shown = masked(data)
                    requests[shown["command"]] = shown["sequence"]
                    if got[:12] + got[16:] != recorded[:12] + recorded[16:]:
                        self.errors.append(f"step {number}: expected {step['command']} {step['fields']}, "
                                           f"got {shown['command']} {shown['fields']}")
                        return
                else:
                    sequence = int.from_bytes(recorded[12:16], "big")
                    if step["command"].endswith("_resp") or step["command"] == "generic_nack":
                        sequence = requests.get(step["command"].removesuffix("_resp"), sequence)
                    writer.write(recorded[:12] + sequence.to_bytes(4, "big") + recorded[16:])
                    await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError) as exc:
            self.errors.append(f"the client stopped early ({type(exc).__name__})")
        finally:
            self.done.set()
            writer.close()


# -- recording ------------------------------------------------------------------------------------


def record_all() -> None:
    """Start Jasmin, run every scenario against it and write each cassette."""
    import tempfile

    sys.path.insert(0, str(REPO))  # run as a script: the repository root, for tests.support
    from tests.support.peers import Jasmin

    CASSETTES.mkdir(parents=True, exist_ok=True)
    with Jasmin(dlr_delay=0.2) as jasmin, tempfile.TemporaryDirectory() as tmp:
        for scenario in SCENARIOS:
            exchanges: list[dict[str, Any]] = []

            def tap(direction: str, data: bytes, into: list[dict[str, Any]] = exchanges) -> None:
                clean, shown = masked(data)
                into.append({"dir": direction, **shown, "hex": clean.hex()})

            asyncio.run(run_scenario(scenario, "127.0.0.1", jasmin.smpp_port, jasmin.system_id, jasmin.password,
                                     Path(tmp), tap, jasmin.send_mo))
            text = yaml.safe_dump({"scenario": scenario.name, "recorded_against": "Jasmin 0.11.0 (tests/support/peers)",
                                   "exchanges": exchanges}, allow_unicode=True, sort_keys=False, width=120)
            (CASSETTES / f"{scenario.name}.yaml").write_text(
                "# PDU cassette: re-record with scripts/record-cassettes smpp (never edit by hand)\n" + text,
                encoding="utf-8")
            print(f"recorded cassettes/smpp/{scenario.name}.yaml ({len(exchanges)} PDUs)")


if __name__ == "__main__":
    if sys.argv[1:] != ["record"]:
        sys.exit("usage: smpp_cassettes.py record")
    record_all()
