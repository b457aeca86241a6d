"""Sending through the real pipeline against a fake aggregator: courier-style table of cases."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx
import pytest
from smsgate.errors import ConfigError
from smsgate.host import config_from_dict
from smsgate.testing import ExpectedRequest, OutboundCase, assert_no_secrets, run_outbound_case

sys.path.insert(0, str(Path(__file__).resolve().parent))

from smsgate_twilio import TwilioAdapter
from twilio_testkit import ADDRESS, BASE, BASIC, MESSAGE_ID, SID, TOKEN

URL = f"https://api.twilio.com/2010-04-01/Accounts/{SID}/Messages.json"
CALLBACK = f"https://gateway.example/c/test/status?id={MESSAGE_ID}"
HEADERS = {"Accept": "application/json", "Authorization": BASIC,
           "Content-Type": "application/x-www-form-urlencoded"}
TO = "+250788383383"
LONG = ("This is a longer message than 160 characters and will cause us to split it into two separate parts, "
        "isn't that right but it is even longer than before I say, I need to keep adding more things to make it work")
PART1 = ("This is a longer message than 160 characters and will cause us to split it into two separate parts, "
         "isn't that right but it is even longer than before I say,")
PART2 = "I need to keep adding more things to make it work"
MG = "MG" + "ab12" * 8


def ok(sid: str, segments: int = 1) -> tuple[int, str]:
    """A 201 like Twilio's create answer (trimmed to what the adapter reads)."""
    return 201, json.dumps({"sid": sid, "status": "queued", "num_segments": str(segments)})


def err(status: int, code: int, message: str) -> tuple[int, str]:
    """Twilio's error body shape."""
    return status, json.dumps({"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
                               "status": status})


def form(body: str, **extra: object) -> dict[str, object]:
    return {"To": TO, "From": ADDRESS, "Body": body, "StatusCallback": CALLBACK, **extra}


CASES = [
    OutboundCase("plain text", "Simple Message ☺", responses=[ok("SM1")],
                 requests=[ExpectedRequest(method="POST", url=URL, form=form("Simple Message ☺"), headers=HEADERS)],
                 external_ids=["SM1"]),
    OutboundCase("long text split by bytes, one sid per part", LONG, settings={"max_length": 160},
                 responses=[ok("SM1"), ok("SM2")],
                 requests=[ExpectedRequest(url=URL, form=form(PART1)), ExpectedRequest(url=URL, form=form(PART2))],
                 external_ids=["SM1", "SM2"]),
    OutboundCase("max_length as a string", LONG, settings={"max_length": "160"}, responses=[ok("SM1"), ok("SM2")],
                 requests=[ExpectedRequest(form=form(PART1)), ExpectedRequest(form=form(PART2))]),
    OutboundCase("media on the first part only, mime prefix stripped", LONG, settings={"max_length": 160},
                 attachments=["image/jpeg:https://foo.bar/image.jpg", "https://foo.bar/doc.pdf"],
                 responses=[ok("SM1"), ok("SM2")],
                 requests=[ExpectedRequest(form=form(PART1, MediaUrl=["https://foo.bar/image.jpg",
                                                                      "https://foo.bar/doc.pdf"])),
                           ExpectedRequest(form=form(PART2))],
                 external_ids=["SM1", "SM2"]),
    OutboundCase("attachment only: empty Body, text not appended", "",
                 attachments=["image/jpeg:https://foo.bar/image.jpg"], responses=[ok("SM1")],
                 requests=[ExpectedRequest(form=form("", MediaUrl="https://foo.bar/image.jpg"))]),
    OutboundCase("messaging service without address: no From", "Hi", settings={
        "address": "", "messaging_service_sid": MG, "link_shortening": True}, responses=[ok("SM1")],
        requests=[ExpectedRequest(form={"To": TO, "Body": "Hi", "StatusCallback": CALLBACK,
                                        "MessagingServiceSid": MG, "ShortenUrls": "true"})]),
    OutboundCase("messaging service with address keeps From", "Hi", settings={"messaging_service_sid": MG},
                 responses=[ok("SM1")],
                 requests=[ExpectedRequest(form=form("Hi", MessagingServiceSid=MG))]),
    OutboundCase("link shortening needs a messaging service", "Hi", settings={"link_shortening": True},
                 responses=[ok("SM1")], requests=[ExpectedRequest(form=form("Hi"))]),
    OutboundCase("alphanumeric sender id as From", "Hi", settings={"address": "MyBrand"}, responses=[ok("SM1")],
                 requests=[ExpectedRequest(form={**form("Hi"), "From": "MyBrand"})]),
    OutboundCase("compatible provider base_url", "Hi", settings={"base_url": "https://example.signalwire.com/api/laml/"},
                 responses=[ok("SM1")],
                 requests=[ExpectedRequest(url=f"https://example.signalwire.com/api/laml/2010-04-01/Accounts/{SID}"
                                               "/Messages.json")]),
    OutboundCase("quick replies are not sent", "Pick one", quick_replies=["Yes", "No"], responses=[ok("SM1")],
                 requests=[ExpectedRequest(form=form("Pick one"))]),
    OutboundCase("21610 opted out: failed + opt-out", "Hi", responses=[err(400, 21610, "Attempt to send to "
                                                                              "unsubscribed recipient")],
                 status="failed", error_code="21610", opt_outs=[TO], external_ids=[]),
    OutboundCase("21211 invalid number: failed", "Hi", responses=[err(400, 21211, "The 'To' number is not a valid "
                                                                              "phone number.")],
                 status="failed", error_code="21211", opt_outs=[]),
    OutboundCase("20003 authentication: failed", "Hi", responses=[err(401, 20003, "Authenticate")],
                 status="failed", error_code="20003"),
    OutboundCase("other code: rejected with that code", "Hi", responses=[err(400, 21612, "cannot route")],
                 status="failed", error_code="21612"),
    OutboundCase("429 without body: errored", "Hi", responses=[(429, "", {"Retry-After": "7"})],
                 status="errored", error_code="429"),
    OutboundCase("code 20429: errored", "Hi", responses=[(429, json.dumps({"code": 20429, "message": "Too Many "
                                                                                              "Requests"}),
                                                          {"Retry-After": "3"})],
                 status="errored", error_code="20429"),
    OutboundCase("500: errored", "Hi", responses=[(500, "oops")], status="errored", error_code="500",
                 settings={"max_attempts": 1}),
    OutboundCase("503 with a Twilio code: errored with the code", "Hi", settings={"max_attempts": 1},
                 responses=[err(503, 20503, "Service unavailable")], status="errored", error_code="20503"),
    OutboundCase("non-2xx without code: response status", "Hi", responses=[(401, '{ "error": "out of credits" }')],
                 status="failed", error_code="401"),
    OutboundCase("non-JSON 4xx: response status", "Hi", responses=[(404, "<html>not found</html>")],
                 status="failed", error_code="404"),
    OutboundCase("2xx without sid: still wired", "Hi", responses=[(201, '{"status": "queued"}')], external_ids=[]),
    OutboundCase("retry on 500 then success", "Hi", settings={"max_attempts": 2},
                 responses=[(500, "oops"), ok("SM9")], external_ids=["SM9"],
                 requests=[ExpectedRequest(form=form("Hi")), ExpectedRequest(form=form("Hi"))]),
    OutboundCase("second part fails: whole send errored (courier)", LONG, settings={"max_length": 160,
                                                                                    "max_attempts": 1},
                 responses=[ok("SM1"), (500, "oops")], status="errored",
                 requests=[ExpectedRequest(form=form(PART1)), ExpectedRequest(form=form(PART2))]),
    OutboundCase("no address and no messaging service: config error, nothing sent", "Hi",
                 settings={"address": ""}, status="failed", error_code="channel_config", requests=[]),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
def test_send(smsgate_harness, case: OutboundCase) -> None:
    run_outbound_case(smsgate_harness, "twilio", BASE, case)


def test_segments_come_from_twilio_and_retry_after_is_kept(smsgate_harness) -> None:
    outcome = run_outbound_case(smsgate_harness, "twilio", BASE, OutboundCase(
        "segments", LONG, settings={"max_length": 160}, responses=[ok("SM1", 2), ok("SM2", 1)]))
    assert outcome.message.segments == 3
    throttled = run_outbound_case(smsgate_harness, "twilio", BASE, OutboundCase(
        "retry after", "Hi", responses=[(429, "", {"Retry-After": "7"})], status="errored"))
    assert throttled.result is not None and throttled.result.retry_after == 7


def test_twilio_message_and_code_logged_without_credentials(smsgate_harness) -> None:
    answers = iter([err(400, 21610, "Attempt to send to unsubscribed recipient")])

    def respond(request: httpx.Request) -> httpx.Response:
        status, body = next(answers)
        return httpx.Response(status, text=body)

    harness = smsgate_harness({"test": {"adapter": "twilio", **BASE}}, respond=respond)
    outcome = harness.send("test", TO, "Hi", id=MESSAGE_ID)
    assert outcome.message.status == "failed"
    assert outcome.message.error_reason is not None and "unsubscribed recipient" in outcome.message.error_reason
    logs = harness.logs(message_id=MESSAGE_ID)
    dumped = json.dumps(logs)
    assert "21610" in dumped and "unsubscribed recipient" in dumped
    assert logs[0]["traces"][0]["request_headers"]["authorization"] == "**********"
    assert_no_secrets(harness, [TOKEN, BASIC.split()[1]])
    assert harness.requests[0].headers["authorization"] == BASIC  # it was sent, only masked in the log


@pytest.mark.parametrize(("channel", "field"), [
    ({"account_sid": SID}, "auth_token"),
    ({**BASE, "auth_token": ""}, "auth_token"),
    ({**BASE, "account_sid": ""}, "account_sid"),
    ({**BASE, "base_url": "ftp://x"}, "base_url"),
    ({**BASE, "max_length": 0}, "max_length"),
    ({**BASE, "nope": 1}, "nope"),
])
def test_bad_settings_name_the_field(channel: dict[str, object], field: str) -> None:
    # config_from_dict directly: the harness factory cannot be called again after a config error
    with pytest.raises(ConfigError, match=field):
        config_from_dict({"channels": {"t": {"adapter": "twilio", **channel}}}, {"twilio": TwilioAdapter})
