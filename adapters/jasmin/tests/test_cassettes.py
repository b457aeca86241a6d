"""Sends against a local stand-in answering as Jasmin's HTTP API documents and a real Jasmin 0.11.0 answers
(jasmin_standin.py, ours), recorded as cassettes and replayed offline. (test_e2e_jasmin.py runs against a REAL
Jasmin: sends, receipts and MOs.)

- `test_recorded` replays cassettes/jasmin/. Re-record them all with ONE command,
  `scripts/record-cassettes jasmin`: the stand-in is started as a child process on 127.0.0.1, recorded with
  `--record-mode=rewrite` and stopped by PID, then the cassettes are replayed and scanned.
- `test_live` runs the same cases against a freshly started stand-in on every run of the suite, checking also
  that no accepted call needed more SMS parts than Jasmin keeps (5).

Recordings are deterministic: fixed message ids (so a fixed `dlr-url`), ids the stand-in derives from each
request. `username` and `password` are filtered from the recorded URLs (the kit's `vcr_defaults()`); the port is
not matched.
"""

from __future__ import annotations

import sys
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from smsgate.testing import Harness, assert_no_secrets

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from jasmin_standin import NO_ROUTE, PASSWORD, SERVER_ERROR, THROTTLED, USERNAME, parts  # noqa: E402

from tests.support.cassettes import StandInCassettes  # noqa: E402
from tests.support.standin import StandIn  # noqa: E402

SCRIPT = HERE / "jasmin_standin.py"
WRONG_PASSWORD = "not-the-js-pass"
TO = "+250788123123"


@dataclass
class Case:
    """One send against the stand-in: channel keys, what each /send must carry, what the message must become."""

    id: str
    text: str
    to: str = TO
    settings: dict[str, Any] = field(default_factory=dict)
    attachments: list[str] = field(default_factory=list)
    sent: list[dict[str, str]] | None = None  # each call's text parameters (default: content = the text)
    status: str = "wired"
    error_code: str | None = None
    http_status: int = 200
    said: str | None = None

    @property
    def message_id(self) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"smsgate-jasmin-cassette/{self.id}"))


def hexed(text: str) -> dict[str, str]:
    return {"coding": "8", "hex-content": text.encode("utf-16-be").hex()}


CASES = [
    Case("gsm7", "Hello from smsgate {1+1=2} €"),
    Case("smart-quotes", "Fancy “Smart” Quotes", sent=[{"coding": "0", "content": 'Fancy "Smart" Quotes'}]),
    Case("unicode", "Привет 👋 from smsgate", sent=[hexed("Привет 👋 from smsgate")]),
    Case("attachment", "My pic!", attachments=["image/jpeg:https://example.com/cat.jpg"],
         sent=[{"coding": "0", "content": "My pic!\nhttps://example.com/cat.jpg"}]),
    Case("long-gsm7-two-calls", "0123456789" * 100,
         sent=[{"coding": "0", "content": ("0123456789" * 100)[:765]},
               {"coding": "0", "content": ("0123456789" * 100)[765:]}]),
    Case("long-ucs2-two-calls", "Ж" * 400, sent=[hexed("Ж" * 335), hexed("Ж" * 65)]),
    Case("wrong-password", "Never sent", settings={"password": WRONG_PASSWORD}, status="failed", error_code="403",
         http_status=403, said=f"Authentication failure for username:{USERNAME}"),
    Case("throughput-exceeded", "Slow down", to="+" + THROTTLED, status="errored", error_code="throughput_exceeded",
         http_status=403, said="User throughput exceeded"),
    Case("no-route", "Nowhere", to="+" + NO_ROUTE, status="failed", error_code="412", http_status=412,
         said="No route found"),
    Case("server-error", "Retry me", to="+" + SERVER_ERROR, status="errored", error_code="500", http_status=500,
         said="Cannot send submit_sm"),
]


def run_case(factory: Any, case: Case, send_url: str) -> Harness:
    """Send `case` through the real pipeline over real HTTP and check what was sent and stored."""
    channel = {"adapter": "jasmin", "address": "2020", "country": "RW", "send_url": send_url, "username": USERNAME,
               "password": PASSWORD, "max_attempts": 1, "max_retry_wait": 0, **case.settings}
    harness = factory({"js": channel}, transport=httpx.AsyncHTTPTransport())
    outcome = harness.send("js", case.to, case.text, id=case.message_id, attachments=case.attachments)
    message = outcome.message
    assert (message.status, message.error_code) == (case.status, case.error_code), message.error_reason
    traces = [t for log in reversed(harness.logs(message_id=case.message_id)) for t in log["traces"]]
    expected = case.sent or [{"coding": "0", "content": case.text}]
    if case.status != "wired":
        expected = expected[:1]
    assert [t["status_code"] for t in traces] == [case.http_status] * len(expected)
    for trace, text in zip(traces, expected, strict=True):
        url = urllib.parse.urlsplit(trace["url"])
        assert f"{url.scheme}://{url.netloc}{url.path}" == send_url
        params = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        assert {k: v for k, v in params.items() if k not in ("username", "password")} == {
            "to": case.to.lstrip("+"), "from": "2020", "dlr": "yes", "dlr-level": "2", "dlr-method": "POST",
            "dlr-url": f"https://gateway.example/c/js/status?msg={case.message_id}", **text}
    if case.status == "wired":
        assert len(message.external_ids) == len(expected) and all(len(i) == 36 for i in message.external_ids)
    else:
        assert case.said is not None and case.said in (message.error_reason or "")
    assert_no_secrets(harness, [PASSWORD, WRONG_PASSWORD])
    return harness


class TestJasminCassettes(StandInCassettes):
    """Jasmin's cases, each checked by `run_case`, sent to the stand-in's /send; the kit filters
    `username` and `password` from the query."""

    name, script, cases = "jasmin", SCRIPT, CASES
    secrets, path = [PASSWORD, WRONG_PASSWORD], "/send"
    cassettes_say = ("password=REDACTED", "username=REDACTED")

    def send(self, factory: Any, case: Case, url: str) -> Harness:
        """Send `case` with `run_case`, its cases having their own shape."""
        return run_case(factory, case, url)

    @pytest.mark.peers
    def test_live(self, smsgate_harness: Any, live: StandIn, case: Case) -> None:
        """Each case live, and no accepted call needed more SMS parts than Jasmin keeps (5)."""
        before = len(live.received())
        super().test_live(smsgate_harness, live, case)
        accepted = [parts(r) for r in live.received()[before:] if r["status"] == 200]
        assert all(n <= 5 for n in accepted), accepted  # nothing Jasmin would drop
