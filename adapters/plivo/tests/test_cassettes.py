"""The adapter against our local stand-in for Plivo's Message API (plivo_standin.py), recorded and live.

- `test_recorded` replays cassettes/plivo/ offline. Re-record them all with ONE command:
  `scripts/record-cassettes plivo` (it runs this module with `--record-mode=rewrite`: the stand-in is started as a
  child process on a free 127.0.0.1 port and stopped by PID, then the cassettes are replayed and scanned).
- `test_live` runs the same cases against a freshly started stand-in on every run of the suite (marker `peers`).

Each case asserts what the stand-in was sent, read back from the channel log, and what the message became.
"""

from __future__ import annotations

import base64
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from smsgate.testing import Harness, assert_no_secrets

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from plivo_standin import AUTH_ID, AUTH_TOKEN, INVALID_NUMBER, RATE_LIMITED, SERVER_ERROR  # noqa: E402

from tests.support.cassettes import StandInCassettes  # noqa: E402

SCRIPT = HERE / "plivo_standin.py"
MESSAGE_ID = "5b0c7c8e-31a4-4c1e-9a53-2f1d8f6e0a11"
CALLBACK = f"https://gateway.example/c/test/status?id={MESSAGE_ID}"
BASIC = base64.b64encode(f"{AUTH_ID}:{AUTH_TOKEN}".encode()).decode()
WRONG_TOKEN = "wrong-plivo-token-000"
PART1 = ("This is a longer message than 160 characters and will cause us to split it into two separate parts, "
         "isn't that right but it is even longer than before I say,")
PART2 = "I need to keep adding more things to make it work"


@dataclass
class Case:
    """One send to the stand-in: the texts each request must carry and what the message must become."""

    id: str
    texts: list[str]
    text: str = "Hello from smsgate"
    to: str = "+60124361111"
    settings: dict[str, Any] = field(default_factory=dict)
    status: str = "wired"
    error_code: str | None = None
    http_statuses: list[int] = field(default_factory=lambda: [202])


CASES = [
    Case("plain", ["Hello from smsgate"]),
    Case("unicode", ["Habari ☺ ñandú"], text="Habari ☺ ñandú"),
    Case("multipart", [PART1, PART2], text=f"{PART1} {PART2}", settings={"max_length": 160},
         http_statuses=[202, 202]),
    Case("unicode-over-737", ["ж" * 737, "ж" * 63], text="ж" * 800, http_statuses=[202, 202]),
    Case("wrong-token", ["Hello from smsgate"], settings={"auth_token": WRONG_TOKEN}, status="failed",
         error_code="401", http_statuses=[401]),
    Case("invalid-number", ["Hello from smsgate"], to="+" + INVALID_NUMBER, status="failed", error_code="400",
         http_statuses=[400]),
    Case("rate-limited", ["Hello from smsgate"], to="+" + RATE_LIMITED, status="errored", error_code="429",
         http_statuses=[429]),
    Case("server-error", ["Hello from smsgate"], to="+" + SERVER_ERROR, status="errored", error_code="500",
         http_statuses=[500]),
]


def run_case(factory: Any, case: Case, base_url: str) -> Harness:
    """Send `case` through the real pipeline over real HTTP and check what was sent and stored."""
    channel = {"adapter": "plivo", "address": "+2020", "country": "MY", "auth_id": AUTH_ID,
               "auth_token": AUTH_TOKEN, "app_id": "app-1", "base_url": base_url, "max_attempts": 1,
               "max_retry_wait": 0, **case.settings}
    harness = factory({"test": channel}, transport=httpx.AsyncHTTPTransport())
    message = harness.send("test", case.to, case.text, id=MESSAGE_ID).message
    assert (message.status, message.error_code) == (case.status, case.error_code), message.error_reason
    traces = [t for log in reversed(harness.logs(message_id=MESSAGE_ID)) for t in log["traces"]]
    assert [t["status_code"] for t in traces] == case.http_statuses, case.id
    assert all(t["url"] == f"{base_url}/v1/Account/{AUTH_ID}/Message/" for t in traces)
    sent = [json.loads(t["request_body"]) for t in traces]
    assert sent == [{"src": "2020", "dst": case.to.lstrip("+"), "text": text, "url": CALLBACK, "method": "POST"}
                    for text in case.texts]
    if case.status == "wired":  # the stand-in derives each part's uuid from the request
        assert len(message.external_ids) == len(case.texts) and all(len(i) == 36 for i in message.external_ids)
    assert_no_secrets(harness, [AUTH_TOKEN, WRONG_TOKEN, BASIC])
    return harness


class TestPlivoCassettes(StandInCassettes):
    """Plivo's cases, each checked by `run_case` (the JSON each request carries)."""

    name, script, cases = "plivo", SCRIPT, CASES
    secrets = [AUTH_TOKEN, WRONG_TOKEN, BASIC]
    cassettes_say = ("REDACTED",)

    def send(self, factory: Any, case: Case, url: str) -> Harness:
        """Send `case` with `run_case`, its cases having their own shape."""
        return run_case(factory, case, url)
