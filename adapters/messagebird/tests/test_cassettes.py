"""The adapter against our local stand-in for MessageBird's REST API (messagebird_standin.py), recorded and live.

- `test_recorded` replays cassettes/messagebird/ offline. Re-record them all with ONE command:
  `scripts/record-cassettes messagebird` (it runs this module with `--record-mode=rewrite`: the stand-in is started
  as a child process on a free 127.0.0.1 port and stopped by PID, then the cassettes are replayed and scanned).
- `test_live` runs the same cases against a freshly started stand-in on every run of the suite (marker `peers`).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from smsgate.testing import Harness, assert_no_secrets

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from messagebird_standin import ACCESS_KEY, NO_BALANCE, RATE_LIMITED, SERVER_ERROR  # noqa: E402

from tests.support.cassettes import StandInCassettes  # noqa: E402

SCRIPT = HERE / "messagebird_standin.py"
MESSAGE_ID = "7d3c5e1a-2b4f-4c6d-8e9f-0a1b2c3d4e5f"
REPORT_URL = "https://gateway.example/c/test/status"
WRONG_KEY = "wrong-messagebird-key-000"
IMAGE = "https://foo.bar/image.jpg"


@dataclass
class Case:
    """One send to the stand-in: the path and the extra JSON of each request, and what the message must become."""

    id: str
    sent: list[tuple[str, dict[str, Any]]]
    text: str = "Hello from smsgate"
    to: str = "+31600000001"
    attachments: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    status: str = "wired"
    error_code: str | None = None
    http_statuses: list[int] = field(default_factory=lambda: [201])


def sms(body: str, **extra: Any) -> tuple[str, dict[str, Any]]:
    return "/messages", {"body": body, **extra, "reportUrl": REPORT_URL}


CASES = [
    Case("plain", [sms("Hello from smsgate")]),
    Case("unicode", [sms("Habari ☺ ñandú", datacoding="unicode")], text="Habari ☺ ñandú"),
    Case("long-one-request", [sms("a" * 500)], text="a" * 500),
    Case("multipart", [sms("a" * 160), sms("a" * 140)], text="a" * 300, settings={"max_length": 160},
         http_statuses=[201, 201]),
    Case("mms", [("/mms", {"body": "Look", "mediaUrls": [IMAGE]})], text="Look", attachments=[f"image/jpeg:{IMAGE}"]),
    Case("wrong-key", [sms("Hello from smsgate")], settings={"auth_token": WRONG_KEY}, status="failed", error_code="2",
         http_statuses=[401]),
    Case("no-balance", [sms("Hello from smsgate")], to=NO_BALANCE, status="failed", error_code="25",
         http_statuses=[402]),
    Case("rate-limited", [sms("Hello from smsgate")], to=RATE_LIMITED, status="errored", error_code="429",
         http_statuses=[429]),
    Case("server-error", [sms("Hello from smsgate")], to=SERVER_ERROR, status="errored", error_code="99",
         http_statuses=[500]),
]


def run_case(factory: Any, case: Case, base_url: str) -> Harness:
    """Send `case` through the real pipeline over real HTTP and check what was sent and stored."""
    channel = {"adapter": "messagebird", "address": "31970000000", "country": "NL", "auth_token": ACCESS_KEY,
               "base_url": base_url, "max_attempts": 1, "max_retry_wait": 0, **case.settings}
    harness = factory({"test": channel}, transport=httpx.AsyncHTTPTransport())
    message = harness.send("test", case.to, case.text, id=MESSAGE_ID, attachments=case.attachments).message
    assert (message.status, message.error_code) == (case.status, case.error_code), message.error_reason
    traces = [t for log in reversed(harness.logs(message_id=MESSAGE_ID)) for t in log["traces"]]
    assert [t["status_code"] for t in traces] == case.http_statuses, case.id
    common = {"recipients": [case.to], "reference": MESSAGE_ID, "originator": "31970000000"}
    assert [(t["url"], json.loads(t["request_body"])) for t in traces] == [
        (base_url + path, {**common, **extra}) for path, extra in case.sent]
    if case.status == "wired":  # the stand-in derives each message's id from the request
        assert len(set(message.external_ids)) == len(case.sent)
    assert_no_secrets(harness, [ACCESS_KEY, WRONG_KEY])
    return harness


class TestMessagebirdCassettes(StandInCassettes):
    """MessageBird's cases, each checked by `run_case`; the AccessKey travels in Authorization."""

    name, script, cases = "messagebird", SCRIPT, CASES
    secrets = [ACCESS_KEY, WRONG_KEY]
    cassettes_say, cassettes_never_say = ("REDACTED",), ("AccessKey",)

    def send(self, factory: Any, case: Case, url: str) -> Harness:
        """Send `case` with `run_case`, its cases having their own shape."""
        return run_case(factory, case, url)
