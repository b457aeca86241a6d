"""Sends against a local stand-in answering as Bandwidth's API reference documents (bandwidth_standin.py, ours),
recorded as cassettes and replayed offline.

- `test_recorded` replays cassettes/bandwidth/. Re-record them all with ONE command,
  `scripts/record-cassettes bandwidth`: the stand-in is started as a child process on 127.0.0.1, recorded with
  `--record-mode=rewrite` and stopped by PID, then the cassettes are replayed and scanned.
- `test_live` runs the same cases against a freshly started stand-in on every run of the suite, so the adapter
  and the stand-in are checked together on every change, not only when recording.

Recordings are deterministic: fixed message ids (so a fixed `tag`), ids the stand-in derives from each body, a
fixed `time`. The basic-auth header is filtered by the kit's `vcr_defaults()`; the port is not matched.
"""

from __future__ import annotations

import base64
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

from bandwidth_standin import ACCOUNT, APPLICATION_ID, PASSWORD, QUEUE_FULL, SERVER_ERROR, USERNAME  # noqa: E402

from tests.support.cassettes import StandInCassettes  # noqa: E402

SCRIPT = HERE / "bandwidth_standin.py"
WRONG_PASSWORD = "not-the-bw-password"
TO, FROM = "+12067791234", "+12065550100"
LONG = ("This is a longer message than 160 characters and will cause us to split it into two separate parts, "
        "isn't that right but it is even longer than before I say, I need to keep adding more things to make it work")


@dataclass
class Case:
    """One send against the stand-in: channel keys, what must be sent, what the message must become."""

    id: str
    text: str
    to: str = TO
    settings: dict[str, Any] = field(default_factory=dict)
    attachments: list[str] = field(default_factory=list)
    parts: list[str] | None = None  # each request's text (default: the whole text in one)
    status: str = "wired"
    error_code: str | None = None
    http_statuses: list[int] = field(default_factory=lambda: [202])
    segments: int | None = None

    @property
    def message_id(self) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"smsgate-bandwidth-cassette/{self.id}"))


CASES = [
    Case("gsm7", "Hello from smsgate {1+1=2} €", segments=1),
    Case("unicode", "Привет 👋 from smsgate", segments=1),
    Case("multipart", LONG, settings={"max_length": 160}, http_statuses=[202, 202], parts=[
        "This is a longer message than 160 characters and will cause us to split it into two separate parts, "
        "isn't that right but it is even longer than before I say,",
        "I need to keep adding more things to make it work"]),
    Case("media", "My pic!", attachments=["image/jpeg:https://example.com/cat.jpg"]),
    Case("long-unicode-one-request", "Ж" * 300, segments=5),  # 600 bytes: under max_length, Bandwidth segments it
    Case("wrong-password", "Never sent", settings={"password": WRONG_PASSWORD}, status="failed",
         error_code="unauthorized", http_statuses=[401]),
    Case("wrong-account", "Never sent", settings={"account_id": "9900002"}, status="failed", error_code="forbidden",
         http_statuses=[403]),
    Case("unknown-application", "Never sent", settings={"messaging_application_id": "not-an-app"}, status="failed",
         error_code="request-validation", http_statuses=[400]),
    Case("text-over-2048-characters", "a" * 2100, settings={"max_length": 4096}, status="failed",
         error_code="request-validation", http_statuses=[400]),
    Case("queue-full", "Throttled", to=QUEUE_FULL, status="errored", error_code="max-message-queue-size-exceeded",
         http_statuses=[429]),
    Case("server-error", "Retry me", to=SERVER_ERROR, status="errored", error_code="503", http_statuses=[503]),
]


def run_case(factory: Any, case: Case, base_url: str) -> Harness:
    """Send `case` through the real pipeline over real HTTP and check what was sent and stored."""
    channel = {"adapter": "bandwidth", "address": FROM, "country": "US", "username": USERNAME, "password": PASSWORD,
               "account_id": ACCOUNT, "messaging_application_id": APPLICATION_ID, "base_url": base_url,
               "max_attempts": 1, "max_retry_wait": 0, **case.settings}
    harness = factory({"bw": channel}, transport=httpx.AsyncHTTPTransport())
    outcome = harness.send("bw", case.to, case.text, id=case.message_id, attachments=case.attachments)
    message = outcome.message
    assert (message.status, message.error_code) == (case.status, case.error_code), message.error_reason
    traces = [t for log in reversed(harness.logs(message_id=case.message_id)) for t in log["traces"]]
    assert [t["status_code"] for t in traces] == case.http_statuses
    account = channel["account_id"]
    assert all(t["url"] == f"{base_url}/api/v2/users/{account}/messages" for t in traces)
    sent = [json.loads(t["request_body"]) for t in traces]
    texts = case.parts or [case.text]
    assert [s["text"] for s in sent] == texts
    for index, body in enumerate(sent):
        assert body["to"] == [case.to] and body["from"] == FROM and body["tag"] == case.message_id
        assert body["applicationId"] == channel["messaging_application_id"]
        assert ("media" in body) == (index == 0 and bool(case.attachments))
    if case.status == "wired":
        answers = [json.loads(t["response_body"]) for t in traces]
        assert message.external_ids == [a["id"] for a in answers] and len(set(message.external_ids)) == len(texts)
        if case.segments is not None:
            assert message.segments == case.segments
    elif traces:
        said = json.loads(traces[-1]["response_body"])["description"]
        assert said in (message.error_reason or "")
    basic = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
    assert_no_secrets(harness, [PASSWORD, WRONG_PASSWORD, basic])
    return harness


class TestBandwidthCassettes(StandInCassettes):
    """Bandwidth's cases, each checked by `run_case`; basic auth is filtered by the kit."""

    name, script, cases = "bandwidth", SCRIPT, CASES
    secrets = [PASSWORD, WRONG_PASSWORD, base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()]
    cassettes_say, cassettes_never_say = ("REDACTED",), ("Basic ",)

    def send(self, factory: Any, case: Case, url: str) -> Harness:
        """Send `case` with `run_case`, its cases having their own shape."""
        return run_case(factory, case, url)
