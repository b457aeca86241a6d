"""The adapter against our local stand-in for Clickatell's Platform HTTP API (clickatell_standin.py), recorded and live.

- `test_recorded` replays cassettes/clickatell/ offline. Re-record them all with ONE command:
  `scripts/record-cassettes clickatell` (it runs this module with `--record-mode=rewrite`: the stand-in is started
  as a child process on a free 127.0.0.1 port and stopped by PID, then the cassettes are replayed and scanned).
- `test_live` runs the same cases against a freshly started stand-in on every run of the suite (marker `peers`).

The API key travels in the query string: the recording filter replaces `apiKey` there, and matching uses the
filtered request too, so replays match whatever key a case uses.
"""

from __future__ import annotations

import sys
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from smsgate.testing import Harness, assert_no_secrets

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from clickatell_standin import (  # noqa: E402
    API_KEY,
    FROM,
    INVALID_RECIPIENT,
    NO_CREDIT,
    OPTED_OUT,
    RATE_LIMITED,
    RETRY_LATER,
)

from tests.support.cassettes import StandInCassettes  # noqa: E402

SCRIPT = HERE / "clickatell_standin.py"
MESSAGE_ID = "0e3f8a52-6d7b-4c39-8f0e-9b6a3c2d1e10"
WRONG_KEY = "wrong-clickatell-key-000"
PART1 = ("This is a longer message than 160 characters and will cause us to split it into two separate parts, "
         "isn't that right but it is even longer than before I say,")
PART2 = "I need to keep adding more things to make it work"


@dataclass
class Case:
    """One send to the stand-in: the contents each request must carry and what the message must become."""

    id: str
    contents: list[str]
    text: str = "Hello from smsgate"
    to: str = "+27999000001"
    settings: dict[str, Any] = field(default_factory=dict)
    status: str = "wired"
    error_code: str | None = None
    http_statuses: list[int] = field(default_factory=lambda: [202])
    opt_outs: list[str] = field(default_factory=list)


CASES = [
    Case("plain", ["Hello from smsgate"]),
    Case("unicode", ["Habari ☺ ñandú"], text="Habari ☺ ñandú"),
    Case("multipart", [PART1, PART2], text=f"{PART1} {PART2}", settings={"max_length": 160},
         http_statuses=[202, 202]),
    Case("wrong-key", ["Hello from smsgate"], settings={"api_key": WRONG_KEY}, status="failed", error_code="1",
         http_statuses=[401]),
    Case("wrong-from", ["Hello from smsgate"], settings={"address": "+15550001"}, status="failed", error_code="45",
         http_statuses=[400]),
    Case("invalid-recipient", ["Hello from smsgate"], to="+" + INVALID_RECIPIENT, status="failed", error_code="25",
         http_statuses=[400]),
    Case("opted-out", ["Hello from smsgate"], to="+" + OPTED_OUT, status="failed", error_code="26",
         http_statuses=[400], opt_outs=["+" + OPTED_OUT]),
    Case("out-of-credit", ["Hello from smsgate"], to="+" + NO_CREDIT, status="failed", error_code="20",
         http_statuses=[402]),
    Case("rate-limited", ["Hello from smsgate"], to="+" + RATE_LIMITED, status="errored", error_code="43",
         http_statuses=[429]),
    Case("retry-later", ["Hello from smsgate"], to="+" + RETRY_LATER, status="errored", error_code="19",
         http_statuses=[503]),
]


def run_case(factory: Any, case: Case, base_url: str) -> Harness:
    """Send `case` through the real pipeline over real HTTP and check what was sent and stored."""
    channel = {"adapter": "clickatell", "address": "+" + FROM, "country": "ZA", "api_key": API_KEY,
               "base_url": base_url, "max_attempts": 1, "max_retry_wait": 0, **case.settings}
    harness = factory({"test": channel}, transport=httpx.AsyncHTTPTransport())
    message = harness.send("test", case.to, case.text, id=MESSAGE_ID).message
    assert (message.status, message.error_code) == (case.status, case.error_code), message.error_reason
    traces = [t for log in reversed(harness.logs(message_id=MESSAGE_ID)) for t in log["traces"]]
    assert [t["status_code"] for t in traces] == case.http_statuses, case.id
    sent = [urllib.parse.urlsplit(t["url"]) for t in traces]
    assert all(f"{u.scheme}://{u.netloc}{u.path}" == f"{base_url}/messages/http/send" for u in sent)
    sender = channel["address"].lstrip("+")
    queries = [dict(urllib.parse.parse_qsl(u.query)) for u in sent]
    assert all(set(q.pop("apiKey")) == {"*"} for q in queries)  # the log shows the key masked
    assert queries == [{"content": text, "from": sender, "to": case.to.lstrip("+")} for text in case.contents]
    if case.status == "wired":  # the stand-in derives each part's id from the request
        assert len(set(message.external_ids)) == len(case.contents)
    assert [o["address"] for o in harness.opt_outs()] == case.opt_outs
    assert_no_secrets(harness, [API_KEY, WRONG_KEY])
    return harness


class TestClickatellCassettes(StandInCassettes):
    """Clickatell's cases, each checked by `run_case`; the key travels in the query, filtered there."""

    name, script, cases = "clickatell", SCRIPT, CASES
    secrets = [API_KEY, WRONG_KEY]
    filter_query = ("apiKey",)
    cassettes_say = ("apiKey=REDACTED",)

    def send(self, factory: Any, case: Case, url: str) -> Harness:
        """Send `case` with `run_case`, its cases having their own shape."""
        return run_case(factory, case, url)
