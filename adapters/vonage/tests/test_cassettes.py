"""The `vonage` adapter against our stand-in for Vonage's SMS API (tests/vonage_standin.py), recorded.

- `test_recorded` replays cassettes/vonage/ offline. Re-record them all with ONE command,
  `scripts/record-cassettes vonage` (starts the stand-in on 127.0.0.1, records with `--record-mode=rewrite`,
  stops it by PID, then replays them and scans them for secrets).
- `test_live` runs the same cases against a freshly started stand-in on every run of the suite.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from smsgate.testing import assert_no_secrets, vcr_defaults
from smsgate_vonage import VonageAdapter

HERE = Path(__file__).resolve().parent
CASSETTES = HERE.parents[2] / "cassettes" / "vonage"
sys.path.insert(0, str(HERE))

from vonage_standin import (  # noqa: E402
    BARRED,
    INTERNAL,
    KEY,
    QUOTA,
    RATE_LIMITED,
    SECRET,
    SERVER_ERROR,
    THROTTLED,
)

from tests.support.standin import SendCase, StandIn, recording_url, run_send_case  # noqa: E402

SCRIPT = HERE / "vonage_standin.py"
MESSAGE_ID = "10a46fa0-8e4c-4b2b-9ee1-b8e1b2c8b7d1"
WRONG = "wrong-secret-0009"
CHANNEL = {"address": "2020", "country": "GB", "api_key": KEY, "api_secret": SECRET}
TO = "+447700900100"
MASK = "**********"
LONG = ("Your appointment at the district health centre is confirmed for Monday at nine. Please bring your card and "
        "arrive fifteen minutes early so the nurse can check you in. Reply STOP to stop these reminders.")
UNICODE_LONG = " ".join(["Habari ya asubuhi ☺"] * 5)  # 99 UCS-2 units: two SMS


def form(text: str, kind: str = "text", to: str = TO) -> dict[str, str]:
    return {"api_key": MASK, "api_secret": MASK, "from": "2020", "to": to.removeprefix("+"), "text": text,
            "type": kind, "status-report-req": "1", "callback": "https://gateway.example/c/test/status"}


def case(id: str, sent: list[Any], **fields: Any) -> SendCase:
    return SendCase(id, sent, **{"to": TO, **fields})


CASES = [
    case("text", [form("Hello from smsgate")], paths=["/sms/json"], segments=1),
    case("unicode", [form("Bonjour ☺", "unicode")], text="Bonjour ☺", segments=1),
    case("vonage-splits-one-request", [form(LONG)], text=LONG, segments=2),
    case("vonage-splits-unicode", [form(UNICODE_LONG, "unicode")], text=UNICODE_LONG, segments=2),
    case("multi-part", [form(LONG[:79]), form(LONG[80:158]), form(LONG[159:])], text=LONG,
             settings={"max_length": 80}, http_statuses=[200, 200, 200], segments=3),
    case("quota", [form("Hello from smsgate", to="+" + QUOTA)], to="+" + QUOTA, status="failed",
             error_code="send:9"),
    case("barred", [form("Hello from smsgate", to="+" + BARRED)], to="+" + BARRED, status="failed",
             error_code="send:7", opt_outs=["+" + BARRED]),
    case("throughput", [form("Hello from smsgate", to="+" + THROTTLED)], to="+" + THROTTLED, status="errored",
             error_code="send:1"),
    case("internal-error", [form("Hello from smsgate", to="+" + INTERNAL)], to="+" + INTERNAL, status="errored",
             error_code="send:5"),
    case("wrong-secret", [form("Hello from smsgate")], settings={"api_secret": WRONG}, status="failed",
             error_code="send:4"),
    case("server-error", [form("Hello from smsgate", to="+" + SERVER_ERROR)], to="+" + SERVER_ERROR,
             status="errored", error_code="500", http_statuses=[500]),
    case("rate-limited", [form("Hello from smsgate", to="+" + RATE_LIMITED)], to="+" + RATE_LIMITED,
             status="errored", error_code="429", http_statuses=[429]),
]


def run(factory: Any, case: SendCase, base_url: str) -> None:
    harness = run_send_case(factory, VonageAdapter, CHANNEL, case, base_url, [KEY, SECRET, WRONG], MESSAGE_ID)
    message = harness.message(MESSAGE_ID)
    if case.status == "wired":  # one id per SMS Vonage sends, all kept
        assert len(message.external_ids) == case.segments and len(set(message.external_ids)) == case.segments


@pytest.fixture(scope="module")
def vcr_cassette_dir() -> str:
    """Every vonage cassette lives in cassettes/vonage/."""
    return str(CASSETTES)


@pytest.fixture
def vcr_config() -> dict[str, Any]:
    """The kit's filters plus `api_secret`, matching without the port (the stand-in takes a free one)."""
    defaults = vcr_defaults()
    return {**defaults, "match_on": [m for m in defaults["match_on"] if m != "port"],
            "filter_post_data_parameters": [*defaults["filter_post_data_parameters"], ("api_secret", "REDACTED")]}


@pytest.fixture(scope="module")
def recording(record_mode: str) -> Iterator[str]:
    """The stand-in while recording, a URL never contacted while replaying."""
    yield from recording_url(record_mode, SCRIPT)


@pytest.mark.vcr
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_recorded(smsgate_harness, recording: str, case: SendCase) -> None:
    run(smsgate_harness, case, recording)


def test_cassettes_are_complete_and_clean() -> None:
    names = sorted(p.name for p in CASSETTES.glob("*.yaml"))
    assert names == sorted(f"test_recorded[{c.id}].yaml" for c in CASES)  # none missing, none stale
    assert_no_secrets(None, [KEY, SECRET, WRONG], CASSETTES)
    for path in CASSETTES.glob("*.yaml"):
        assert "smsgate-standin-vonage" in path.read_text(), f"{path.name} must say it came from our stand-in"


@pytest.fixture(scope="module")
def live() -> Iterator[StandIn]:
    """A freshly started stand-in for the live run."""
    with StandIn(SCRIPT) as standin:
        yield standin


@pytest.mark.peers
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_live(smsgate_harness, live: StandIn, case: SendCase) -> None:
    run(smsgate_harness, case, live.url)
