"""The `africastalking` adapter against our stand-in for Africa's Talking's SMS API
(tests/africastalking_standin.py), recorded.

- `test_recorded` replays cassettes/africastalking/ offline. Re-record them all with ONE command,
  `scripts/record-cassettes africastalking` (starts the stand-in on 127.0.0.1, records with
  `--record-mode=rewrite`, stops it by PID, then replays them and scans them for secrets).
- `test_live` runs the same cases against a freshly started stand-in on every run of the suite.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from smsgate_africastalking import AfricastalkingAdapter

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from africastalking_standin import (  # noqa: E402
    API_KEY,
    BLACKLISTED,
    DND,
    INTERNAL,
    INVALID,
    NO_BALANCE,
    SERVER_ERROR,
    USERNAME,
)

from tests.support.cassettes import StandInCassettes  # noqa: E402
from tests.support.standin import SendCase  # noqa: E402

SCRIPT = HERE / "africastalking_standin.py"
MESSAGE_ID = "10a46fa0-8e4c-4b2b-9ee1-b8e1b2c8b7d1"
WRONG = "wrong-k3y-0009"
CHANNEL = {"address": "21512", "country": "KE", "username": USERNAME, "api_key": API_KEY}
TO = "+254711000100"
LONG = "Habari ya asubuhi, karibu kwenye kliniki. " * 40  # 1,720 bytes: two requests at 1,600


def form(text: str, to: str = TO, shared: bool = False) -> dict[str, str]:
    return {"username": USERNAME, "to": to, "message": text, **({} if shared else {"from": "21512"})}


def case(id: str, sent: list[Any], **fields: Any) -> SendCase:
    return SendCase(id, sent, **{"to": TO, "http_statuses": [201] * len(sent), **fields})


CASES = [
    case("text", [form("Hello from smsgate")], paths=["/version1/messaging"], segments=1),
    case("unicode", [form("Habari ☺")], text="Habari ☺"),
    case("shared-short-code", [form("Hello from smsgate", shared=True)], settings={"is_shared": True}),
    case("at-splits-a-long-text", [form("a" * 500)], text="a" * 500, segments=4),
    case("multi-part", [form(LONG[:1596].strip()), form(LONG[1596:].strip())], text=LONG, segments=12),
    case("invalid-number", [form("Hello from smsgate", to=INVALID)], to=INVALID, status="failed", error_code="403"),
    case("insufficient-balance", [form("Hello from smsgate", to=NO_BALANCE)], to=NO_BALANCE, status="failed",
         error_code="405"),
    case("blacklisted", [form("Hello from smsgate", to=BLACKLISTED)], to=BLACKLISTED, status="failed",
         error_code="406", opt_outs=[BLACKLISTED]),
    case("do-not-disturb", [form("Hello from smsgate", to=DND)], to=DND, status="failed", error_code="409",
         http_statuses=[409]),
    case("internal-error", [form("Hello from smsgate", to=INTERNAL)], to=INTERNAL, status="errored",
         error_code="500"),
    case("wrong-key", [form("Hello from smsgate")], settings={"api_key": WRONG}, status="failed", error_code="401",
         http_statuses=[401]),
    case("server-error", [form("Hello from smsgate", to=SERVER_ERROR)], to=SERVER_ERROR, status="errored",
         error_code="503", http_statuses=[503]),
]


class TestAfricastalkingCassettes(StandInCassettes):
    """Africa's Talking's cases; the key travels in an `apiKey` header, filtered too."""

    name, script, adapter, cases = "africastalking", SCRIPT, AfricastalkingAdapter, CASES
    channel, secrets, message_id = CHANNEL, [API_KEY, WRONG], MESSAGE_ID
    filter_headers = ("apikey",)

    def check(self, harness: Any, case: SendCase) -> None:
        """One `ATXid_` id per request sent."""
        message = harness.message(MESSAGE_ID)
        if case.status == "wired":
            assert all(re.fullmatch(r"ATXid_[0-9a-f]{32}", i) for i in message.external_ids), message.external_ids
            assert len(message.external_ids) == len(case.sent)
