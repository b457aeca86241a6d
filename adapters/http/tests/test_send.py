"""Outgoing requests of the `http` adapter, table-driven through the core's conformance kit.

Most cases restate courier's handlers/external tests (same texts, templates and expected wire bytes), plus the
variables courier never asserts ({{id}}, {{uuid}}, {{channel}}, {{from_no_plus}}, {{session_status}}).
"""

from __future__ import annotations

import json

import httpx
import pytest
from smsgate.testing import ExpectedRequest, OutboundCase, run_outbound_case
from smsgate_http import HttpAdapter

MSG_ID = "10a46fa0-8e4c-4b2b-9ee1-b8e1b2c8b7d1"
LONG = "This is a long message that will be longer than 30....... characters"
LONG_PARTS = ["This is a long message that", "will be longer than 30.......", "characters"]
FORM = "application/x-www-form-urlencoded"

GET = {"address": "2020", "country": "US", "method": "GET",
       "send_url": "http://example.com/send?to={{to}}&text={{text}}&from={{from}}{{quick_replies}}"}
POST = {"address": "2020", "country": "US", "send_url": "http://example.com/send",
        "body": "to={{to}}&text={{text}}&from={{from}}{{quick_replies}}"}
JSON = {"address": "2020", "country": "US", "send_url": "http://example.com/send", "content_type": "json",
        "send_authorization": "Token ABCDEF",
        "body": '{ "to":{{to}}, "text":{{text}}, "from":{{from}}, "quick_replies":{{quick_replies}} }'}
XML = {"address": "2020", "country": "US", "send_url": "http://example.com/send", "content_type": "xml",
       "body": "<msg><to>{{to}}</to><text>{{text}}</text><from>{{from}}</from>"
               "<quick_replies>{{quick_replies}}</quick_replies></msg>"}


def params(text: str, to: str = "+250788383383", **extra: object) -> dict[str, object]:
    return {"to": to, "text": text, "from": "2020", **extra}


def jbody(text: str, replies: str = "[]") -> str:
    literal = json.dumps(text, ensure_ascii=False)
    return f'{{ "to":"+250788383383", "text":{literal}, "from":"2020", "quick_replies":{replies} }}'


def xbody(text: str, replies: str = "") -> str:
    return (f"<msg><to>+250788383383</to><text>{text}</text><from>2020</from>"
            f"<quick_replies>{replies}</quick_replies></msg>")


FORM_HEADERS = {"Content-Type": FORM}
JSON_HEADERS = {"Authorization": "Token ABCDEF", "Content-Type": "application/json"}
XML_HEADERS = {"Content-Type": "text/xml; charset=utf-8"}

GET_CASES = [
    OutboundCase("plain", "Simple Message",
                 requests=[ExpectedRequest(method="GET", params=params("Simple Message"), headers=FORM_HEADERS)]),
    OutboundCase("unicode", "☺", requests=[ExpectedRequest(params=params("☺"))]),
    OutboundCase("attachment", "My pic!", attachments=["image/jpeg:https://foo.bar/image.jpg"],
                 requests=[ExpectedRequest(params=params("My pic!\nhttps://foo.bar/image.jpg"))]),
    OutboundCase("401 is failed", "Error Message", responses=[(401, "1: Unknown channel")], status="failed",
                 error_code="401", requests=[ExpectedRequest(params=params("Error Message"))]),
    OutboundCase("long text: three parts, quick replies on the last", LONG, quick_replies=["One"],
                 responses=[(200, "0: Accepted for delivery")],
                 requests=[ExpectedRequest(params=params(LONG_PARTS[0])), ExpectedRequest(params=params(LONG_PARTS[1])),
                           ExpectedRequest(params=params(LONG_PARTS[2], quick_reply="One"))],
                 settings={"max_length": 30}),
    OutboundCase("max_length as a numeric string", LONG, settings={"max_length": "30"},
                 requests=[ExpectedRequest(params=params(p)) for p in LONG_PARTS]),
    OutboundCase("smart encoding", "Fancy “Smart” Quotes", settings={"encoding": "S"},
                 requests=[ExpectedRequest(params=params('Fancy "Smart" Quotes'))]),
    OutboundCase("smart encoding keeps text that stays non-GSM", "“Smart” ☺", settings={"encoding": "S"},
                 requests=[ExpectedRequest(params=params("“Smart” ☺"))]),
    OutboundCase("default encoding leaves quotes", "Fancy “Smart” Quotes",
                 requests=[ExpectedRequest(params=params("Fancy “Smart” Quotes"))]),
    OutboundCase("use_national", "Simple Message", settings={"use_national": True},
                 requests=[ExpectedRequest(params=params("Simple Message", to="788383383"))]),
    OutboundCase("query escaping: space is +, reserved characters percent-encoded", "a b&c=d+e/f?g#h",
                 quick_replies=["Yes please", "No & stop"],
                 requests=[ExpectedRequest(url="http://example.com/send?to=%2B250788383383&text=a+b%26c%3Dd%2Be%2Ff"
                                               "%3Fg%23h&from=2020&quick_reply=Yes+please&quick_reply=No+%26+stop")]),
    OutboundCase("a value is never expanded as a template", "{{to}} {{quick_replies}}",
                 requests=[ExpectedRequest(params=params("{{to}} {{quick_replies}}"))]),
    OutboundCase("GET sends no body even when one is configured", "hi", settings={"body": "text={{text}}"},
                 requests=[ExpectedRequest(method="GET", body="", params=params("hi"), headers=FORM_HEADERS)]),
    OutboundCase("the other variables", "hi",
                 settings={"send_url": "http://example.com/s?id={{id}}&uuid={{uuid}}&channel={{channel}}"
                                       "&to_no_plus={{to_no_plus}}&from_no_plus={{from_no_plus}}"
                                       "&session={{session_status}}", "address": "+12065551212"},
                 requests=[ExpectedRequest(params={"id": MSG_ID, "uuid": MSG_ID, "channel": "test",
                                                   "to_no_plus": "250788383383", "from_no_plus": "12065551212",
                                                   "session": ""})]),
]

POST_CASES = [
    OutboundCase("plain", "Simple Message", requests=[
        ExpectedRequest(method="POST", url="http://example.com/send", form=params("Simple Message"),
                        headers=FORM_HEADERS)]),
    OutboundCase("unicode", "☺", requests=[ExpectedRequest(form=params("☺"))]),
    OutboundCase("attachment", "My pic!", attachments=["image/jpeg:https://foo.bar/image.jpg"],
                 requests=[ExpectedRequest(form=params("My pic!\nhttps://foo.bar/image.jpg"))]),
    OutboundCase("smart encoding", "Fancy “Smart” Quotes", settings={"encoding": "S"},
                 requests=[ExpectedRequest(form=params('Fancy "Smart" Quotes'))]),
    OutboundCase("quick replies", "Some message", quick_replies=["One", "Two & Three"],
                 requests=[ExpectedRequest(body="to=%2B250788383383&text=Some+message&from=2020"
                                                "&quick_reply=One&quick_reply=Two+%26+Three")]),
    OutboundCase("PUT uses the body too", "hi", settings={"method": "PUT"},
                 requests=[ExpectedRequest(method="PUT", form=params("hi"))]),
    OutboundCase("lower-case method", "hi", settings={"method": "put"}, requests=[ExpectedRequest(method="PUT")]),
    OutboundCase("literal content type: variables unescaped", "Simple Message",
                 settings={"content_type": "application/x-www-form-urlencoded; charset=utf-8",
                           "body": "to={{to_no_plus}}&text={{text}}&from={{from_no_plus}}{{quick_replies}}"},
                 requests=[ExpectedRequest(body="to=250788383383&text=Simple Message&from=2020",
                                           form=params("Simple Message", to="250788383383"),
                                           headers={"Content-Type": "application/x-www-form-urlencoded; "
                                                                    "charset=utf-8"})]),
    OutboundCase("literal content type: quick replies still query-escaped", "a&b <c>",
                 quick_replies=["Yes please"],
                 settings={"content_type": "text/plain", "body": "{{text}}|{{to}}{{quick_replies}}"},
                 requests=[ExpectedRequest(body="a&b <c>|+250788383383&quick_reply=Yes+please",
                                           headers={"Content-Type": "text/plain"})]),
    OutboundCase("URL variables are query-escaped even with a body", "a b",
                 settings={"send_url": "http://example.com/send/{{to}}?t={{text}}", "body": "{{text}}",
                           "content_type": "text/plain"},
                 requests=[ExpectedRequest(url="http://example.com/send/%2B250788383383?t=a+b", body="a b")]),
    OutboundCase("default urlencoded body: RapidPro's claim-form default", "Hi there",
                 settings={"body": None},
                 requests=[ExpectedRequest(form={"id": MSG_ID, "text": "Hi there", "to": "+250788383383",
                                                 "to_no_plus": "250788383383", "from": "2020",
                                                 "from_no_plus": "2020", "channel": "test"})]),
    OutboundCase("literal content type without body sends an empty body", "hi",
                 settings={"body": None, "content_type": "text/plain"}, requests=[ExpectedRequest(body="")]),
]

JSON_CASES = [
    OutboundCase("plain", "Simple Message",
                 requests=[ExpectedRequest(body=jbody("Simple Message"), headers=JSON_HEADERS)]),
    OutboundCase("unicode and quotes", '☺ "hi!"',
                 requests=[ExpectedRequest(body='{ "to":"+250788383383", "text":"☺ \\"hi!\\"", "from":"2020", '
                                                '"quick_replies":[] }')]),
    OutboundCase("attachment", "My pic!", attachments=["image/jpeg:https://foo.bar/image.jpg"],
                 requests=[ExpectedRequest(body='{ "to":"+250788383383", "text":"My pic!\\nhttps://foo.bar/image.jpg"'
                                                ', "from":"2020", "quick_replies":[] }')]),
    OutboundCase("quick replies", "Some message", quick_replies=["One", "Two", "Three"],
                 requests=[ExpectedRequest(body=jbody("Some message", '["One","Two","Three"]'))]),
    OutboundCase("long: quick replies on the last part only", LONG, quick_replies=["One", "Two", "Three"],
                 settings={"max_length": 30},
                 requests=[ExpectedRequest(body=jbody(LONG_PARTS[0])), ExpectedRequest(body=jbody(LONG_PARTS[1])),
                           ExpectedRequest(body=jbody(LONG_PARTS[2], '["One","Two","Three"]'))]),
    OutboundCase("401", "Error Message", responses=[(401, "1: Unknown channel")], status="failed",
                 error_code="401", requests=[ExpectedRequest(body=jbody("Error Message"))]),
    OutboundCase("headers map, as courier's test", "Simple Message",
                 settings={"send_authorization": None, "headers": {"Authorization": "Token ABCDEF", "foo": "bar"}},
                 requests=[ExpectedRequest(headers={**JSON_HEADERS, "foo": "bar"})]),
    OutboundCase("headers map overrides Authorization and Content-Type", "hi",
                 settings={"headers": {"authorization": "Bearer override-token-1", "content-type": "application/x+json",
                                       "X-Count": 3, "X-Flag": True}},
                 requests=[ExpectedRequest(headers={"Authorization": "Bearer override-token-1",
                                                    "Content-Type": "application/x+json", "X-Count": "3",
                                                    "X-Flag": "true"})]),
    OutboundCase("default JSON body is the seed's example", "Love is patient. Love is kind.",
                 settings={"body": None, "send_authorization": None, "address": "+5582999489287"},
                 requests=[ExpectedRequest(json={"id": MSG_ID, "text": "Love is patient. Love is kind.",
                                                 "to": "+250788383383", "to_no_plus": "250788383383",
                                                 "from": "+5582999489287", "from_no_plus": "5582999489287",
                                                 "channel": "test"})]),
]

XML_CASES = [
    OutboundCase("plain", "Simple Message",
                 requests=[ExpectedRequest(body=xbody("Simple Message"), headers=XML_HEADERS)]),
    OutboundCase("unicode", "☺", requests=[ExpectedRequest(body=xbody("☺"))]),
    OutboundCase("attachment: newline is &#xA;", "My pic!", attachments=["image/jpeg:https://foo.bar/image.jpg"],
                 requests=[ExpectedRequest(body=xbody("My pic!&#xA;https://foo.bar/image.jpg"))]),
    OutboundCase("markup characters escaped as Go does", "<b>&'\"\tx",
                 requests=[ExpectedRequest(body=xbody("&lt;b&gt;&amp;&#39;&#34;&#x9;x"))]),
    OutboundCase("quick replies as items", "Some message", quick_replies=["One", "Two", "A&B"],
                 requests=[ExpectedRequest(body=xbody("Some message",
                                                      "<item>One</item><item>Two</item><item>A&amp;B</item>"))]),
    OutboundCase("long: quick replies on the last part only", LONG, quick_replies=["One"], settings={"max_length": 30},
                 requests=[ExpectedRequest(body=xbody(LONG_PARTS[0])), ExpectedRequest(body=xbody(LONG_PARTS[1])),
                           ExpectedRequest(body=xbody(LONG_PARTS[2], "<item>One</item>"))]),
    OutboundCase("response check passes", "Simple Message", settings={"mt_response_check": "<return>0</return>"},
                 responses=[(200, "<return>0</return>")], requests=[ExpectedRequest(body=xbody("Simple Message"))]),
    OutboundCase("response check fails on a 200", "Error Message", settings={"mt_response_check": "<return>0</return>"},
                 responses=[(200, "<return>1</return>")], status="failed", error_code="response_content"),
    OutboundCase("a non-2xx fails on its status before the check", "Error Message",
                 settings={"mt_response_check": "<return>0</return>"}, responses=[(401, "<return>0</return>")],
                 status="failed", error_code="401"),
    OutboundCase("response check on every part: second part stops the send", LONG,
                 settings={"mt_response_check": "OK", "max_length": 30},
                 responses=[(200, "OK"), (200, "NOPE"), (200, "OK")], status="failed", error_code="response_content",
                 requests=[ExpectedRequest(body=xbody(LONG_PARTS[0])), ExpectedRequest(body=xbody(LONG_PARTS[1]))]),
]

ERROR_CASES = [
    OutboundCase("5xx is errored (retryable) after the channel's attempts", "hi", responses=[(500, "boom")],
                 status="errored", error_code="500", requests=[ExpectedRequest()] * 3),
    OutboundCase("503 then 200 on retry is wired", "hi", responses=[(503, ""), (200, "ok")],
                 requests=[ExpectedRequest()] * 2),
    OutboundCase("429 is errored (throttled)", "hi", responses=[(429, "slow down", {"Retry-After": "0"})],
                 status="errored", error_code="429", requests=[ExpectedRequest()] * 3),
    OutboundCase("404 is failed at once", "hi", responses=[(404, "")], status="failed", error_code="404",
                 requests=[ExpectedRequest()]),
    OutboundCase("201 counts as success", "hi", responses=[(201, "")], requests=[ExpectedRequest()]),
    OutboundCase("long whitespace-only text is invalid, nothing is sent", " " * 200, status="failed",
                 error_code="message_invalid", requests=[]),
    OutboundCase("2xx without the response check is failed", "hi", settings={"mt_response_check": "queued"},
                 responses=[(200, "rejected")], status="failed", error_code="response_content",
                 requests=[ExpectedRequest()]),
]


def _ids(cases: list[OutboundCase]) -> list[str]:
    return [c.label for c in cases]


@pytest.mark.parametrize("case", GET_CASES, ids=_ids(GET_CASES))
def test_get(smsgate_harness, case):
    run_outbound_case(smsgate_harness, "http", GET, case, adapters=[HttpAdapter])


@pytest.mark.parametrize("case", POST_CASES, ids=_ids(POST_CASES))
def test_post_urlencoded(smsgate_harness, case):
    run_outbound_case(smsgate_harness, "http", POST, case, adapters=[HttpAdapter])


@pytest.mark.parametrize("case", JSON_CASES, ids=_ids(JSON_CASES))
def test_post_json(smsgate_harness, case):
    run_outbound_case(smsgate_harness, "http", JSON, case, adapters=[HttpAdapter])


@pytest.mark.parametrize("case", XML_CASES, ids=_ids(XML_CASES))
def test_post_xml(smsgate_harness, case):
    run_outbound_case(smsgate_harness, "http", XML, case, adapters=[HttpAdapter])


@pytest.mark.parametrize("case", ERROR_CASES, ids=_ids(ERROR_CASES))
def test_error_classes(smsgate_harness, case):
    run_outbound_case(smsgate_harness, "http", POST, case, adapters=[HttpAdapter])


def test_throttled_send_keeps_retry_after(smsgate_harness):
    case = OutboundCase("429 with a wait longer than max_retry_wait: no retry", "hi",
                        responses=[(429, "", {"Retry-After": "120"})], status="errored", error_code="429",
                        requests=[ExpectedRequest()])
    outcome = run_outbound_case(smsgate_harness, "http", POST, case, adapters=[HttpAdapter])
    assert outcome.result is not None and outcome.result.retry_after == 120


def test_transport_error_is_errored(smsgate_harness):
    def refuse(request):
        raise httpx.ConnectError("connection refused", request=request)

    h = smsgate_harness({"c": {"adapter": "http", "max_retry_wait": 0, **POST}}, adapters=[HttpAdapter],
                        respond=refuse)
    outcome = h.send("c", "+250788383383", "hi", id=MSG_ID)
    assert outcome.message.status == "errored" and outcome.message.error_code == "connection_failed"
    assert len(h.requests) == 3


def test_secrets_never_reach_the_channel_log(smsgate_harness):
    settings = {**JSON, "headers": {"X-Api-Key": "key-0123456789", "X-Trace": "visible"}}
    h = smsgate_harness({"c": {"adapter": "http", **settings}}, adapters=[HttpAdapter],
                        respond=lambda r: httpx.Response(200, text=f"echo {r.headers['x-api-key']} "
                                                                   f"{r.headers['authorization']}"))
    h.send("c", "+250788383383", "hi", id=MSG_ID)
    log = json.dumps(h.logs(message_id=MSG_ID))
    assert h.requests[0].headers["x-api-key"] == "key-0123456789"
    for secret in ("key-0123456789", "Token ABCDEF", "ABCDEF"):
        assert secret not in log
    assert "visible" in log  # only credential-looking headers are masked


def test_channel_without_address_sends_empty_from(smsgate_harness):
    h = smsgate_harness({"c": {"adapter": "http", **{**GET, "address": ""}}}, adapters=[HttpAdapter])
    h.send("c", "+250788383383", "hi", id=MSG_ID)
    assert h.requests[0].url.params["from"] == ""
