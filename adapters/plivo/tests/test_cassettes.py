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
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from smsgate.testing import Harness, assert_no_secrets, vcr_defaults

HERE = Path(__file__).resolve().parent
CASSETTES = HERE.parents[2] / "cassettes" / "plivo"
sys.path.insert(0, str(HERE))

from plivo_standin import AUTH_ID, AUTH_TOKEN, INVALID_NUMBER, RATE_LIMITED, SERVER_ERROR  # noqa: E402

from tests.support.standin import StandIn, recording_url  # noqa: E402

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


@pytest.fixture(scope="module")
def vcr_cassette_dir() -> str:
    """All plivo cassettes live in cassettes/plivo/."""
    return str(CASSETTES)


@pytest.fixture
def vcr_config() -> dict[str, Any]:
    """The kit's secret filters, minus the port (the stand-in starts on a free one)."""
    defaults = vcr_defaults()
    return {**defaults, "match_on": [m for m in defaults["match_on"] if m != "port"]}


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
    assert_no_secrets(None, [AUTH_TOKEN, WRONG_TOKEN, BASIC], CASSETTES)
    for path in CASSETTES.glob("*.yaml"):
        text = path.read_text()
        assert "REDACTED" in text and "smsgate-standin-plivo" in text, path.name


@pytest.fixture(scope="module")
def live_url() -> Iterator[str]:
    """A freshly started stand-in."""
    with StandIn(SCRIPT) as standin:
        yield standin.url


@pytest.mark.peers
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_live(smsgate_harness, live_url: str, case: Case) -> None:
    run_case(smsgate_harness, case, live_url)
