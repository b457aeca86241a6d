"""The `vonage` adapter against our stand-in for Vonage's SMS API (tests/vonage_standin.py), recorded.

- `test_recorded` replays cassettes/vonage/ offline. Re-record them all with ONE command,
  `scripts/record-cassettes vonage` (starts the stand-in on 127.0.0.1, records with `--record-mode=rewrite`,
  stops it by PID, then replays them and scans them for secrets).
- `test_live` runs the same cases against a freshly started stand-in on every run of the suite.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from smsgate_vonage import VonageAdapter

HERE = Path(__file__).resolve().parent
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

from tests.support.cassettes import StandInCassettes  # noqa: E402
from tests.support.standin import SendCase  # noqa: E402

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


class TestVonageCassettes(StandInCassettes):
    """Vonage's cases; `api_secret` travels in the form, so it is filtered there too."""

    name, script, adapter, cases = "vonage", SCRIPT, VonageAdapter, CASES
    channel, secrets, message_id = CHANNEL, [KEY, SECRET, WRONG], MESSAGE_ID
    filter_post_data = ("api_secret",)

    def check(self, harness: Any, case: SendCase) -> None:
        """One id per SMS Vonage sends, all kept."""
        message = harness.message(MESSAGE_ID)
        if case.status == "wired":
            assert len(message.external_ids) == case.segments and len(set(message.external_ids)) == case.segments
