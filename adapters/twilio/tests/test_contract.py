"""The adapter against Twilio's own OpenAPI contract (served by Stoplight Prism) and our error stand-in.

Two ways to run the same table of cases:
- `test_recorded`: replays cassettes from cassettes/twilio/ offline. Re-record them all with ONE command,
  `adapters/twilio/record-cassettes` (installs Prism if missing, starts Prism, the media-variant Prism and
  fake_twilio_errors.py on 127.0.0.1, records with `--record-mode=rewrite`, stops them).
- `test_live`: the same cases against freshly started peers, on every run of the suite (marked `peers`),
  so the contract is checked on every change and not only when recording.

Prism proves the wire format (it answers 422 to any request that breaks the contract); it checks shape, not
meaning, so each case also asserts what was sent, read back from the channel log. Prism 5 rejects Twilio's
real repeated `MediaUrl` form under the original spec, so media cases use
`media_variant_spec` (tests/support/peers/prism.py: declared form encoding for MediaUrl; Prism then checks only
the last value).
"""

from __future__ import annotations

import contextlib
import re
import sys
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from smsgate import OutgoingMessage
from smsgate.testing import Harness, assert_no_secrets, vcr_defaults
from smsgate_twilio import TwilioAdapter

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
CASSETTES = REPO / "cassettes" / "twilio"
sys.path.insert(0, str(HERE))

from fake_twilio_errors import (  # noqa: E402
    INVALID_NUMBER,
    NOT_MOBILE,
    OPTED_OUT,
    RATE_LIMITED,
    SERVER_ERROR,
    FakeTwilioErrors,
)
from twilio_testkit import ADDRESS, BASIC, MESSAGE_ID, SID, TOKEN  # noqa: E402

from tests.support.peers import Prism, media_variant_spec  # noqa: E402

PRISM_SID = "SM" + "a" * 32  # Prism always answers the spec's example message
MG = "MG" + "0123456789abcdef" * 2
CALLBACK = f"https://gateway.example/c/test/status?id={MESSAGE_ID}"
LONG = ("This is a longer message than 160 characters and will cause us to split it into two separate parts, "
        "isn't that right but it is even longer than before I say, I need to keep adding more things to make it work")
PART1 = ("This is a longer message than 160 characters and will cause us to split it into two separate parts, "
         "isn't that right but it is even longer than before I say,")
PART2 = "I need to keep adding more things to make it work"
WRONG_TOKEN = "wrong-auth-token-0000"
# never contacted while replaying; the port is not matched (see vcr_config), only host and path
NOMINAL = {"prism": "http://127.0.0.1:4010", "prism-media": "http://127.0.0.1:4011", "errors": "http://127.0.0.1:4012"}


class WithoutTo(TwilioAdapter):
    """A deliberately broken adapter that drops `To`, to see what a contract violation turns into."""

    name = "twilio-without-to"

    def build_form(self, message: OutgoingMessage, body: str, first: bool) -> dict[str, Any]:
        """The real form minus `To`."""
        form = super().build_form(message, body, first)
        del form["To"]
        return form


@dataclass
class ContractCase:
    """One send against a peer: what must be sent (per request) and what the message must become."""

    id: str
    peer: str
    sent: list[dict[str, Any]]
    text: str = "Hello from smsgate ☺ & friends"
    to: str = "+14155552345"
    attachments: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    adapter: str = "twilio"
    status: str = "wired"
    error_code: str | None = None
    http_statuses: list[int] = field(default_factory=lambda: [201])
    external_ids: list[str] | None = None
    opt_outs: list[str] = field(default_factory=list)


def form(to: str = "+14155552345", body: str = "Hello from smsgate ☺ & friends", **extra: Any) -> dict[str, Any]:
    return {"To": to, "From": ADDRESS, "Body": body, "StatusCallback": CALLBACK, **extra}


CASES = [
    # -- Prism: Twilio's contract --
    ContractCase("prism-text", "prism", [form()], external_ids=[PRISM_SID]),
    ContractCase("prism-split", "prism", [form(body=PART1), form(body=PART2)], text=LONG,
                 settings={"max_length": 160}, http_statuses=[201, 201], external_ids=[PRISM_SID, PRISM_SID]),
    ContractCase("prism-messaging-service", "prism",
                 [{"To": "+14155552345", "Body": "Hello from smsgate ☺ & friends", "StatusCallback": CALLBACK,
                   "MessagingServiceSid": MG, "ShortenUrls": "true"}],
                 settings={"address": "", "messaging_service_sid": MG, "link_shortening": True}),
    ContractCase("prism-media-variant", "prism-media",
                 [form(MediaUrl=["https://example.com/cat.jpg", "https://example.com/dog.png"])],
                 attachments=["image/jpeg:https://example.com/cat.jpg", "https://example.com/dog.png"]),
    ContractCase("prism-missing-to", "prism", [{k: v for k, v in form().items() if k != "To"}],
                 adapter="twilio-without-to", status="failed", error_code="422", http_statuses=[422]),
    # -- fake_twilio_errors.py: ours, for the answers Prism cannot give --
    ContractCase("errors-opted-out", "errors", [form(OPTED_OUT)], to=OPTED_OUT, status="failed",
                 error_code="21610", http_statuses=[400], opt_outs=[OPTED_OUT]),
    ContractCase("errors-invalid-number", "errors", [form(INVALID_NUMBER)], to=INVALID_NUMBER, status="failed",
                 error_code="21211", http_statuses=[400]),
    ContractCase("errors-not-mobile", "errors", [form(NOT_MOBILE)], to=NOT_MOBILE, status="failed",
                 error_code="21614", http_statuses=[400]),
    ContractCase("errors-wrong-token", "errors", [form()], settings={"auth_token": WRONG_TOKEN}, status="failed",
                 error_code="20003", http_statuses=[401]),
    ContractCase("errors-rate-limited", "errors", [form(RATE_LIMITED)], to=RATE_LIMITED, status="errored",
                 error_code="20429", http_statuses=[429]),
    ContractCase("errors-server-error", "errors", [form(SERVER_ERROR)], to=SERVER_ERROR, status="errored",
                 error_code="20500", http_statuses=[500]),
    ContractCase("errors-split-distinct-sids", "errors", [form(body=PART1), form(body=PART2)], text=LONG,
                 settings={"max_length": 160}, http_statuses=[201, 201]),
]


def _multi(body: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in urllib.parse.parse_qsl(body, keep_blank_values=True):
        out[key] = [*out[key], value] if isinstance(out.get(key), list) else [out[key], value] if key in out else value
    return out


def run_case(factory: Any, case: ContractCase, base_url: str) -> Harness:
    """Send `case` through the real pipeline over real HTTP and check what was sent and stored."""
    channel = {"adapter": case.adapter, "account_sid": SID, "auth_token": TOKEN, "address": ADDRESS,
               "base_url": base_url, "max_attempts": 1, "max_retry_wait": 0, **case.settings}
    harness = factory({"test": channel}, adapters=[TwilioAdapter, WithoutTo], transport=httpx.AsyncHTTPTransport())
    outcome = harness.send("test", case.to, case.text, id=MESSAGE_ID, attachments=case.attachments)
    message = outcome.message
    assert message.status == case.status, (case.id, message.error_code, message.error_reason)
    assert message.error_code == case.error_code, (case.id, message.error_reason)
    traces = [t for log in reversed(harness.logs(message_id=MESSAGE_ID)) for t in log["traces"]]
    assert [t["status_code"] for t in traces] == case.http_statuses, case.id
    assert [_multi(t["request_body"]) for t in traces] == case.sent, case.id
    assert all(t["url"] == f"{base_url}/2010-04-01/Accounts/{SID}/Messages.json" for t in traces)
    if case.external_ids is not None:
        assert message.external_ids == case.external_ids
    elif case.status == "wired":  # our stand-in derives a distinct sid from each part
        assert len(set(message.external_ids)) == len(case.sent)
        assert all(re.fullmatch(r"SM[0-9a-f]{32}", sid) for sid in message.external_ids)
    assert [o["address"] for o in harness.opt_outs()] == case.opt_outs
    if case.id == "errors-rate-limited":
        assert outcome.result is not None and outcome.result.retry_after == 2
    assert_no_secrets(harness, [TOKEN, WRONG_TOKEN, BASIC.split()[1]])
    return harness


# -- recorded ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vcr_cassette_dir() -> str:
    """All twilio cassettes live in cassettes/twilio/."""
    return str(CASSETTES)


def _mask_account_sids(response: dict[str, Any]) -> dict[str, Any]:
    # the core's filter masks the SID in request paths; Twilio-style answers carry it in the body too
    body = response.get("body", {}).get("string")
    if isinstance(body, bytes):
        response["body"]["string"] = re.sub(rb"AC[0-9a-fA-F]{32}", b"AC" + b"0" * 32, body)
    return response


@pytest.fixture
def vcr_config() -> dict[str, Any]:
    """The core's secret filters, minus the port (peers start on free ports), plus SID masking in answers."""
    defaults = vcr_defaults()
    return {**defaults, "match_on": [m for m in defaults["match_on"] if m != "port"],
            "before_record_response": _mask_account_sids}


@contextlib.contextmanager
def started_peers(tmp: Path) -> Iterator[dict[str, str]]:
    """Prism on the contract, Prism on the media variant, and our error stand-in, all on 127.0.0.1."""
    with Prism() as prism, Prism(media_variant_spec(tmp)) as media, FakeTwilioErrors(SID, TOKEN) as errors:
        yield {"prism": prism.url, "prism-media": media.url, "errors": errors.url}


@pytest.fixture(scope="module")
def recording_peers(request: pytest.FixtureRequest,
                    tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Real peers while recording (`--record-mode` other than none), nominal URLs while replaying."""
    if (request.config.getoption("--record-mode") or "none") == "none":
        yield NOMINAL
        return
    with started_peers(tmp_path_factory.mktemp("prism-record")) as urls:
        yield urls


@pytest.mark.vcr
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_recorded(smsgate_harness, recording_peers: dict[str, str], case: ContractCase) -> None:
    run_case(smsgate_harness, case, recording_peers[case.peer])


def test_cassettes_are_complete_and_clean() -> None:
    names = sorted(p.name for p in CASSETTES.glob("*.yaml"))
    assert names == sorted(f"test_recorded[{c.id}].yaml" for c in CASES)  # none missing, none stale
    assert_no_secrets(None, [TOKEN, WRONG_TOKEN, BASIC.split()[1], SID], CASSETTES)
    for path in CASSETTES.glob("*.yaml"):
        text = path.read_text()
        assert "REDACTED" in text and "Basic " not in text, path.name
        if path.name.startswith("test_recorded[errors-"):
            assert "smsgate-fake-twilio" in text, f"{path.name} must say it came from our stand-in"


# -- live -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def live_peers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Freshly started peers for the live run."""
    with started_peers(tmp_path_factory.mktemp("prism-live")) as urls:
        yield urls


@pytest.mark.peers
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_live(smsgate_harness, live_peers: dict[str, str], case: ContractCase) -> None:
    run_case(smsgate_harness, case, live_peers[case.peer])
