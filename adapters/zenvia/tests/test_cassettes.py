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
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from smsgate.testing import Harness, assert_no_secrets, vcr_defaults

HERE = Path(__file__).resolve().parent
CASSETTES = HERE.parents[2] / "cassettes" / "zenvia"
sys.path.insert(0, str(HERE))

from zenvia_standin import ALIASES, RATE_LIMITED, SERVER_ERROR, TOKEN  # noqa: E402

from tests.support.standin import StandIn, recording_url  # noqa: E402

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


@pytest.fixture(scope="module")
def vcr_cassette_dir() -> str:
    """All zenvia cassettes live in cassettes/zenvia/."""
    return str(CASSETTES)


@pytest.fixture
def vcr_config() -> dict[str, Any]:
    """The kit's secret filters plus Zenvia's token header, minus the port (the stand-in starts on a free one)."""
    defaults = vcr_defaults()
    return {**defaults, "filter_headers": [*defaults["filter_headers"], ("x-api-token", "REDACTED")],
            "match_on": [m for m in defaults["match_on"] if m != "port"]}


@pytest.fixture(scope="module")
def recording(record_mode: str) -> Iterator[str]:
    """The stand-in while recording (`--record-mode` other than none), a URL never contacted while replaying."""
    yield from recording_url(record_mode, SCRIPT)


@pytest.mark.vcr
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_recorded(smsgate_harness, recording: str, case: Case) -> None:
    run_case(smsgate_harness, case, recording)


def test_cassettes_are_complete_and_clean() -> None:
    names = sorted(p.name for p in CASSETTES.glob("*.yaml"))
    assert names == sorted(f"test_recorded[{c.id}].yaml" for c in CASES)  # none missing, none stale
    assert_no_secrets(None, [TOKEN, WRONG_TOKEN], CASSETTES)
    for path in CASSETTES.glob("*.yaml"):
        text = path.read_text()
        assert "x-api-token:\n      - REDACTED" in text, path.name
        assert "smsgate-standin-zenvia" in text, f"{path.name} must say it came from our stand-in"


@pytest.fixture(scope="module")
def live_url() -> Iterator[str]:
    """A freshly started stand-in."""
    with StandIn(SCRIPT) as server:
        yield server.url


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_live(smsgate_harness, live_url: str, case: Case) -> None:
    run_case(smsgate_harness, case, live_url)
