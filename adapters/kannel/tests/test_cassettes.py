"""Sends recorded against a REAL Kannel 1.4.5 (bearerbox + smsbox + fakesmsc, from tests/support/peers), replayed
offline.

Re-record every cassette with ONE command (starts Kannel on 127.0.0.1 free ports, stops it by PID):

    adapters/kannel/record-cassettes

While recording, each case also checks what the fake SMSC received. Replaying (pytest-recording's default
record mode "none") touches no network: the sendsms URL comes from cassettes/kannel/kannel.json, since a cassette
only matches requests to the same host, port and query. Recordings are deterministic: fixed message ids (so a
fixed dlr-url) and the harness's fixed public URL; username and password are filtered (core `vcr_config`).
"""

from __future__ import annotations

import json
import re
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from smsgate.testing import RecordingTransport, assert_no_secrets, vcr_defaults
from smsgate_kannel import KannelAdapter

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
CASSETTES = REPO / "cassettes" / "kannel"
RECORDING = CASSETTES / "kannel.json"

TO = "+250788123123"
FROM = "2020"
PASSWORD = "secretpw"  # the sendsms-user of tests/support/peers/kannel.py; filtered out of the cassettes
UNROUTABLE = "nosuch"


@dataclass
class Case:
    """One send against the real Kannel: channel keys, what must happen, what the fake SMSC must get."""

    id: str
    text: str
    settings: dict[str, Any] = field(default_factory=dict)
    attachments: list[str] = field(default_factory=list)
    status: str = "wired"
    http_status: int = 202
    body: str = "0: Accepted for delivery"
    error_code: str | None = None
    mt: dict[str, Any] | None = None  # fields of the MT fakesmsc must print (checked while recording)

    @property
    def message_id(self) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"smsgate-kannel-cassette/{self.id}"))


CASES = [
    Case("ascii", "Hello from smsgate 1+1=2 & 100%", mt={"type": "text", "text": "Hello from smsgate 1+1=2 & 100%"}),
    Case("smart-quotes", "Fancy “Smart” Quotes", mt={"type": "text", "text": 'Fancy "Smart" Quotes'}),
    Case("unicode-utf16be", "Привет 👋 ☺ a+b", mt={"type": "ucs-2", "text": "Привет 👋 ☺ a+b"}),
    Case("unicode-utf8", "Привет 👋 ☺ a+b", settings={"unicode_form": "utf8"},
         mt={"type": "ucs-2", "text": "Привет 👋 ☺ a+b"}),
    Case("encoding-u", "Plain ASCII", settings={"encoding": "U"}, mt={"type": "ucs-2", "text": "Plain ASCII"}),
    Case("use-national", "National", settings={"use_national": True, "country": "RW"},
         mt={"type": "text", "text": "National", "to": "788123123"}),
    Case("fixed-param-smsc", "Routed by a fixed param", settings={"send_url": "{sendsms}?smsc=fake1"},
         mt={"type": "text", "text": "Routed by a fixed param"}),
    Case("smsc-and-priority", "Routed and prioritised", settings={"smsc": "fake1", "priority": 1},
         mt={"type": "text", "text": "Routed and prioritised"}),
    Case("attachment", "My pic!", attachments=["image/jpeg:https://foo.bar/image.jpg"]),
    Case("wrong-password", "Never sent", settings={"password": "wrong-password"}, status="failed",
         http_status=403, body="Authorization failed for sendsms", error_code="403"),
    Case("unroutable-smsc", "Never sent", settings={"smsc": UNROUTABLE}, status="failed", http_status=403,
         body="Not routable. Do not try again.", error_code="403"),
    Case("no-sender", "Never sent", settings={"address": ""}, status="failed", http_status=400,
         error_code="400", body="Sender missing and no global set, rejected"),
]


_CREDENTIAL = re.compile(r"(?<=[?&])(username|password)=[^&]*")


def _mask_credentials(request: Any) -> Any:
    # vcrpy's filter_query_parameters re-encodes the whole query as UTF-8 text, which mangles UTF-16BE `text`
    # bytes (an emoji's surrogates become U+FFFD): mask the two values in place and leave every other byte alone
    request.uri = _CREDENTIAL.sub(r"\1=REDACTED", request.uri)
    return request


@pytest.fixture
def vcr_config() -> dict[str, Any]:
    """The core's settings with byte-exact credential masking, matching the exact URI (Kannel's is GET only)."""
    return {**vcr_defaults(), "filter_query_parameters": [], "before_record_request": _mask_credentials,
            "match_on": ["method", "uri"]}


@pytest.fixture(scope="module")
def vcr_cassette_dir() -> str:
    """Cassettes live at the repository root, one folder per adapter."""
    return str(CASSETTES)


@pytest.fixture(scope="module")
def kannel(request):
    """(the running Kannel or None when replaying, its sendsms URL)."""
    if (request.config.getoption("--record-mode") or "none") == "none":
        yield None, json.loads(RECORDING.read_text())["sendsms_url"]
        return
    from tests.support.peers import Kannel

    # Kannel 1.4.5 routes an unknown smsc= to its only SMSC unless the smsc group lists ids: deny one on purpose
    with Kannel(extra_smsc=f"denied-smsc-id = {UNROUTABLE}") as k:
        CASSETTES.mkdir(parents=True, exist_ok=True)
        RECORDING.write_text(json.dumps({
            "sendsms_url": k.sendsms_url,
            "server": "Kannel 1.4.5 (Debian bookworm packages kannel + kannel-extras) started by tests/support/peers, "
                      f"smsc group with denied-smsc-id = {UNROUTABLE}",
            "recorded_by": "adapters/kannel/record-cassettes",
        }, indent=2) + "\n")
        yield k, k.sendsms_url



@pytest.mark.vcr
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_recorded(smsgate_harness, kannel, case):
    peer, sendsms = kannel
    keys = {"address": FROM, "send_url": sendsms, "username": "gate", "password": PASSWORD, "max_attempts": 1,
            **case.settings}
    keys["send_url"] = keys["send_url"].format(sendsms=sendsms)
    h = smsgate_harness({"kannel": {"adapter": "kannel", **keys}}, adapters=[KannelAdapter],
                        transport=RecordingTransport())
    outcome = h.send("kannel", TO, case.text, id=case.message_id, attachments=case.attachments)
    assert (outcome.message.status, outcome.message.error_code) == (case.status, case.error_code), (
        outcome.message.error_reason)
    [log] = h.logs(message_id=case.message_id)
    [trace] = log["traces"]
    assert (trace["status_code"], trace["response_body"]) == (case.http_status, case.body)
    assert f"dlr-url=https%3A%2F%2Fgateway.example%2Fc%2Fkannel%2Fstatus%3Fid%3D{case.message_id}" in trace["url"]
    if case.status != "wired":
        assert case.body in outcome.message.error_reason
    assert_no_secrets(h, [PASSWORD, "wrong-password"])
    if peer is not None and case.mt is not None:  # recording: the real SMSC side got exactly this
        mt = peer.wait_for_mt(lambda m: m["text"] == case.mt["text"] and m["to"] == case.mt.get("to", TO))
        expected = {"to": TO, **case.mt}
        assert {k: mt[k] for k in expected} == expected
        assert mt["from"] == FROM


def test_cassettes_are_complete_filtered_and_from_one_recording():
    """One cassette per case, none stale, all against the one recorded Kannel, no credential left in them."""
    sendsms = json.loads(RECORDING.read_text())["sendsms_url"]
    found = {p.stem: p for p in CASSETTES.glob("*.yaml")}
    assert set(found) == {f"test_recorded[{c.id}]" for c in CASES}
    assert_no_secrets(None, [PASSWORD, "wrong-password"], CASSETTES)
    for name, path in found.items():
        [interaction] = yaml.safe_load(path.read_text())["interactions"]
        uri = interaction["request"]["uri"]
        assert uri.startswith(sendsms + "?"), f"{name} was recorded against another Kannel: re-record all"
        assert "password=REDACTED" in uri and "username=REDACTED" in uri, uri
        case = next(c for c in CASES if name == f"test_recorded[{c.id}]")
        assert f"id%3D{case.message_id}%26status%3D%25d%26smsc_reply%3D%25A&" in uri, uri
        if case.id == "unicode-utf16be":  # the recorded request is the exact bytes sent, emoji surrogates included
            assert "&text=" + urllib.parse.quote_plus(case.text.encode("utf-16-be"), safe="") + "&" in uri
        headers = {k.lower(): v for k, v in interaction["response"]["headers"].items()}
        assert headers["server"][0].startswith("Kannel/"), name
