"""Sends against a local stand-in answering as Zenvia's API reference documents (zenvia_standin.py, ours),
recorded as cassettes and replayed offline.

- `test_recorded` replays cassettes/zenvia/. Re-record them all with ONE command,
  `scripts/record-cassettes zenvia`: the stand-in is started as a child process on 127.0.0.1, recorded with
  `--record-mode=rewrite` and stopped by PID, then the cassettes are replayed and scanned.
- `test_live` runs the same cases against a freshly started stand-in on every run of the suite.

Recordings are deterministic: fixed message ids (so a fixed `externalId`), ids the stand-in derives from each
body, a fixed `timestamp`. The `X-API-TOKEN` header is filtered out; the port is not matched.
"""

from __future__ import annotations

import json
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from smsgate.testing import Harness, assert_no_secrets

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from zenvia_standin import ALIASES, RATE_LIMITED, SERVER_ERROR, TOKEN  # noqa: E402

from tests.support.cassettes import StandInCassettes  # noqa: E402

SCRIPT = HERE / "zenvia_standin.py"
WRONG_TOKEN = "zv-wrong-token-000"
ALIAS = ALIASES[0]
TO = "+5511988887777"
LONG = ("This is a longer message than 160 characters and will cause us to split it into two separate parts, "
        "isn't that right but it is even longer than before I say, I need to keep adding more things to make it work")
PART1 = ("This is a longer message than 160 characters and will cause us to split it into two separate parts, "
         "isn't that right but it is even longer than before I say,")


@dataclass
class Case:
    """One send against the stand-in: channel keys, what must be sent, what the message must become."""

    id: str
    text: str
    to: str = TO
    settings: dict[str, Any] = field(default_factory=dict)
    attachments: list[str] = field(default_factory=list)
    contents: list[str] | None = None  # the texts of the request's contents (default: the whole text)
    status: str = "wired"
    error_code: str | None = None
    http_status: int = 200

    @property
    def message_id(self) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"smsgate-zenvia-cassette/{self.id}"))


CASES = [
    Case("gsm7", "Olá from smsgate {1+1=2} €"),
    Case("unicode", "Привет 👋 from smsgate"),
    Case("multipart-one-request", LONG, settings={"max_length": 160},
         contents=[PART1, "I need to keep adding more things to make it work"]),
    Case("attachment", "My pic!", attachments=["image/jpeg:https://example.com/cat.jpg"],
         contents=["My pic!\nhttps://example.com/cat.jpg"]),
    Case("wrong-token", "Never sent", settings={"api_key": WRONG_TOKEN}, status="failed",
         error_code="AUTHENTICATION_ERROR", http_status=401),
    Case("unknown-alias", "Never sent", settings={"address": "not-ours"}, status="failed",
         error_code="VALIDATION_ERROR", http_status=400),
    Case("over-1520-characters", "a" * 1600, settings={"max_length": 4096}, status="failed",
         error_code="VALIDATION_ERROR", http_status=400),
    Case("rate-limited", "Slow down", to="+" + RATE_LIMITED, status="errored", error_code="TOO_MANY_REQUESTS",
         http_status=429),
    Case("server-error", "Retry me", to="+" + SERVER_ERROR, status="errored", error_code="500", http_status=500),
]


def run_case(factory: Any, case: Case, base_url: str) -> Harness:
    """Send `case` through the real pipeline over real HTTP and check what was sent and stored."""
    channel = {"adapter": "zenvia", "address": ALIAS, "country": "BR", "api_key": TOKEN, "base_url": base_url,
               "max_attempts": 1, "max_retry_wait": 0, **case.settings}
    harness = factory({"zv": channel}, transport=httpx.AsyncHTTPTransport())
    outcome = harness.send("zv", case.to, case.text, id=case.message_id, attachments=case.attachments)
    message = outcome.message
    assert (message.status, message.error_code) == (case.status, case.error_code), message.error_reason
    [log] = harness.logs(message_id=case.message_id)
    [trace] = log["traces"]
    assert (trace["status_code"], trace["url"]) == (case.http_status, f"{base_url}/v2/channels/sms/messages")
    sent = json.loads(trace["request_body"])
    assert sent == {"from": channel["address"], "to": case.to.lstrip("+"), "externalId": case.message_id,
                    "contents": [{"type": "text", "text": t} for t in case.contents or [case.text]]}
    answer = json.loads(trace["response_body"])
    if case.status == "wired":
        assert message.external_ids == [answer["id"]] and answer["externalId"] == case.message_id
    else:
        assert answer["message"] in (message.error_reason or "")
    assert_no_secrets(harness, [TOKEN, WRONG_TOKEN])
    return harness


class TestZenviaCassettes(StandInCassettes):
    """Zenvia's cases, each checked by `run_case`; the token travels in `X-API-TOKEN`, filtered too."""

    name, script, cases = "zenvia", SCRIPT, CASES
    secrets = [TOKEN, WRONG_TOKEN]
    filter_headers = ("x-api-token",)
    cassettes_say = ("x-api-token:\n      - REDACTED",)

    def send(self, factory: Any, case: Case, url: str) -> Harness:
        """Send `case` with `run_case`, its cases having their own shape."""
        return run_case(factory, case, url)
