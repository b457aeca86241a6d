"""The `infobip` adapter against our stand-in for Infobip's SMS and MMS APIs (tests/infobip_standin.py), recorded.

- `test_recorded` replays cassettes/infobip/ offline. Re-record them all with ONE command,
  `scripts/record-cassettes infobip` (starts the stand-in on 127.0.0.1, records with `--record-mode=rewrite`,
  stops it by PID, then replays them and scans them for secrets).
- `test_live` runs the same cases against a freshly started stand-in on every run of the suite.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from smsgate_infobip import InfobipAdapter

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from infobip_standin import (  # noqa: E402
    API_KEY,
    DND,
    NO_CREDIT,
    PASSWORD,
    RATE_LIMITED,
    SERVER_ERROR,
    SYSTEM_ERROR,
    USERNAME,
)

from tests.support.cassettes import StandInCassettes  # noqa: E402
from tests.support.standin import SendCase  # noqa: E402

SCRIPT = HERE / "infobip_standin.py"
MESSAGE_ID = "10a46fa0-8e4c-4b2b-9ee1-b8e1b2c8b7d1"
WRONG = "wrong-p4ss-0009"
CHANNEL = {"address": "InfoSMS", "country": "HR", "username": USERNAME, "password": PASSWORD}
TO = "+385900000100"
WEBHOOKS = {"delivery": {"url": "https://gateway.example/c/test/delivered", "intermediateReport": True},
            "contentType": "application/json"}
LONG = "Habari ya asubuhi, karibu kwenye kliniki. " * 40  # 1,720 bytes: two parts at 1,600


def sms(*texts: str, to: str = TO, **content: str) -> dict[str, Any]:
    return {"messages": [{"sender": "InfoSMS",
                          "destinations": [{"to": to.lstrip("+"), **({"messageId": MESSAGE_ID} if n == 0 else {})}],
                          "content": {"text": text, **content}, "webhooks": WEBHOOKS} for n, text in enumerate(texts)]}


def case(id: str, sent: list[Any], **fields: Any) -> SendCase:
    return SendCase(id, sent, **{"to": TO, **fields})


CASES = [
    case("text-basic-auth", [sms("Hello from smsgate")], paths=["/sms/3/messages"], external_ids=[MESSAGE_ID],
         segments=1),
    case("text-api-key", [sms("Hello from smsgate")], settings={"api_key": API_KEY, "username": "",
                                                                  "password": None}, external_ids=[MESSAGE_ID]),
    case("unicode", [sms("Habari ☺")], text="Habari ☺", segments=1),
    case("infobip-joins-a-long-text", [sms("a" * 700)], text="a" * 700, segments=5),
    case("multi-part", [sms(LONG[:1596].strip(), LONG[1596:].strip())], text=LONG, segments=12),
    case("transliteration", [sms("Merhaba dünya", transliteration="TURKISH")], text="Merhaba dünya",
         settings={"transliteration": "TURKISH"}),
    case("mms", [{"messages": [{"sender": "InfoSMS",
                                "destinations": [{"to": TO.lstrip("+"), "messageId": MESSAGE_ID}],
                                "content": {"title": "", "messageSegments": [
                                    {"type": "TEXT", "text": "Look at this"},
                                    {"type": "LINK", "contentUrl": "https://x.example/a.jpg",
                                     "contentType": "image/jpeg"}]}, "webhooks": WEBHOOKS}]}],
         text="Look at this", attachments=["image/jpeg:https://x.example/a.jpg"], paths=["/mms/2/messages"],
         external_ids=[MESSAGE_ID]),
    case("not-enough-credits", [sms("Hello from smsgate", to="+" + NO_CREDIT)], to="+" + NO_CREDIT, status="failed",
         error_code="REJECTED_NOT_ENOUGH_CREDITS"),
    case("do-not-disturb", [sms("Hello from smsgate", to="+" + DND)], to="+" + DND, status="failed",
         error_code="REJECTED_DND", opt_outs=["+" + DND]),
    case("system-error", [sms("Hello from smsgate", to="+" + SYSTEM_ERROR)], to="+" + SYSTEM_ERROR,
         status="errored", error_code="REJECTED_SYSTEM_ERROR"),
    case("wrong-password", [sms("Hello from smsgate")], settings={"password": WRONG}, status="failed",
         error_code="401", http_statuses=[401]),
    case("rate-limited", [sms("Hello from smsgate", to="+" + RATE_LIMITED)], to="+" + RATE_LIMITED,
         status="errored", error_code="429", http_statuses=[429]),
    case("server-error", [sms("Hello from smsgate", to="+" + SERVER_ERROR)], to="+" + SERVER_ERROR,
         status="errored", error_code="500", http_statuses=[500]),
]


class TestInfobipCassettes(StandInCassettes):
    """Infobip's cases; the kit's filters cover the Authorization header either scheme travels in."""

    name, script, adapter, cases = "infobip", SCRIPT, InfobipAdapter, CASES
    channel, secrets, message_id = CHANNEL, [API_KEY, PASSWORD, WRONG], MESSAGE_ID
