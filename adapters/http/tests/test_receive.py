"""Incoming routes of the `http` adapter: receive (form, query, multipart, JSON, XML), status, stopped, auth.

Cases follow courier's handlers/external tests; smsgate answers with its own JSON envelope
("Message Accepted", "Status Update Accepted", "Event Accepted") and stores every event.
"""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from smsgate.testing import InboundCase, run_inbound_case
from smsgate_http import HttpAdapter, parse_rfc3339

BASE = {"adapter": "http", "address": "2020", "country": "US", "send_url": "http://example.com/send"}
R = "/c/ex/receive"
NUMBER = "+2349067554729"
SOAP = ('<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:com="com.hero">'
        "<soapenv:Header/><soapenv:Body><com:moRequest><source>2349067554729</source><content>Join</content>"
        "</com:moRequest></soapenv:Body></soapenv:Envelope>")
XML_REPLY = "<?xml version=“1.0”?><return>0</return>"


def harness(factory, **settings):
    return factory({"ex": {**BASE, **settings}}, adapters=[HttpAdapter])


def msg(text="Join", sender=NUMBER, **extra):
    return [{"from": sender, "text": text, "to": "2020", **extra}]


RECEIVE_CASES = [
    InboundCase("query string", R + "?sender=%2B2349067554729&text=Join", contains=["Message Accepted"],
                messages=msg()),
    InboundCase("GET", R + "?from=%2B2349067554729&text=Join", method="GET", messages=msg()),
    InboundCase("form body", R, data={"sender": NUMBER, "text": "Join"}, messages=msg()),
    InboundCase("from without plus on a US channel", R + "?from=2349067554729&text=Join", messages=msg()),
    InboundCase("trailing slash", R + "/?from=2349067554729&text=Join", messages=msg()),
    InboundCase("empty text is a message", R + "?from=%2B2349067554729", messages=msg(text="")),
    InboundCase("date with fraction", R + "?sender=%2B2349067554729&text=Join&date=2017-06-23T12:30:00.500Z",
                messages=msg(received_at="2017-06-23T12:30:00.500000+00:00")),
    InboundCase("time without fraction", R + "?sender=%2B2349067554729&text=Join&time=2017-06-23T12:30:00Z",
                messages=msg(received_at="2017-06-23T12:30:00.000000+00:00")),
    InboundCase("date with an offset, stored in UTC", R, data={"from": NUMBER, "date": "2017-06-23T14:30:00+02:00"},
                messages=msg(text="", received_at="2017-06-23T12:30:00.000000+00:00")),
    InboundCase("the seed's ISO-8601 example", R, data={"from": NUMBER, "text": "El amor es paciente.",
                                                        "date": "2012-04-23T18:25:43.511Z"},
                messages=msg(text="El amor es paciente.", received_at="2012-04-23T18:25:43.511000+00:00")),
    InboundCase("compact date", R + "?sender=%2B2349067554729&text=Join&time=20170623T123000Z", status=400,
                contains=["invalid date format, must be RFC 3339"], messages=[]),
    InboundCase("date without zone", R, data={"from": NUMBER, "date": "2017-06-23T12:30:00"}, status=400,
                contains=["invalid date format, must be RFC 3339"], messages=[]),
    InboundCase("impossible date", R, data={"from": NUMBER, "date": "2017-02-30T12:30:00Z"}, status=400,
                contains=["invalid date format"], messages=[]),
    InboundCase("unix timestamp is not RFC 3339", R, data={"from": NUMBER, "date": "1498221000"}, status=400,
                contains=["invalid date format"]),
    InboundCase("sender id is not a possible number", R + "?sender=MTN&text=Join", status=400,
                contains=["not a possible number"], messages=[]),
    InboundCase("no params", R, status=400, contains=["must have one of 'sender' or 'from' set"], messages=[]),
    InboundCase("no sender", R + "?text=Join", status=400, contains=["must have one of 'sender' or 'from' set"]),
    InboundCase("an empty from wins over a filled sender (key present)", R + "?from=&sender=%2B2349067554729",
                status=400, contains=["must have one of 'sender' or 'from' set"]),
    InboundCase("body value wins over the query string", R + "?text=query", data={"from": NUMBER, "text": "body"},
                messages=msg(text="body")),
    InboundCase("JSON body", R, json={"from": NUMBER, "text": "Join", "date": "2017-06-23T12:30:00Z"},
                messages=msg(received_at="2017-06-23T12:30:00.000000+00:00")),
    InboundCase("JSON number as sender", R, json={"from": 2349067554729, "text": "Join"}, messages=msg()),
    InboundCase("JSON body beats the query string", R + "?text=query", json={"from": NUMBER, "text": "json"},
                messages=msg(text="json")),
    InboundCase("JSON array", R, json=[NUMBER, "Join"], status=400, contains=["must be an object"]),
    InboundCase("invalid JSON", R, body=b'{"from": ', headers={"content-type": "application/json"}, status=400,
                contains=["not valid JSON"]),
    InboundCase("wrong method", R, method="PUT", status=405, contains=["GET or POST"]),
    InboundCase("unknown action is a 404", "/c/ex/wired?id=1", status=404, contains=["no route 'wired'"]),
]


@pytest.mark.parametrize("case", RECEIVE_CASES, ids=[c.label for c in RECEIVE_CASES])
def test_receive(smsgate_harness, case):
    run_inbound_case(harness(smsgate_harness), case)


def test_receive_multipart(smsgate_harness):
    h = harness(smsgate_harness)
    r = h.request("POST", R, data={"sender": "2349067554729", "text": "Join"}, files={"x": ("x.txt", b"ignored")})
    assert r.status_code == 200, r.text
    assert [(m.from_, m.text) for m in h.messages(direction="in")] == [(NUMBER, "Join")]


def test_receive_without_date_is_now(smsgate_harness):
    h = harness(smsgate_harness)
    run_inbound_case(h, InboundCase("now", R, data={"from": NUMBER, "text": "x"}))
    received = parse_rfc3339(h.messages(direction="in")[0].metadata["received_at"].replace("+00:00", "Z"))
    created = parse_rfc3339(h.messages(direction="in")[0].created_at.replace("+00:00", "Z"))
    assert abs((created - received).total_seconds()) < 5


GM_CASES = [InboundCase("Gambian number without plus", R + "?sender=2207222333&text=Join",
                        messages=msg(sender="+2207222333"))]

CUSTOM = {"mo_from_field": "from_number", "mo_date_field": "timestamp", "mo_text_field": "messageText"}
CUSTOM_CASES = [
    InboundCase("custom fields", R + "?from_number=12067799192&messageText=Join&timestamp=2017-06-23T12:30:00Z",
                messages=msg(sender="+12067799192", received_at="2017-06-23T12:30:00.000000+00:00")),
    InboundCase("custom field absent: not found under other names", R + "?sent_from=12067799192&messageText=Join",
                status=400, contains=["must have one of 'sender' or 'from' set"]),
    InboundCase("custom field absent: the defaults still apply", R + "?from=12067799192&text=Join",
                messages=msg(sender="+12067799192")),
    InboundCase("custom field wins over the default", R + "?from_number=12067799192&from=2349067554729&text=Join",
                messages=msg(sender="+12067799192")),
]


@pytest.mark.parametrize("case", GM_CASES, ids=[c.label for c in GM_CASES])
def test_receive_gambia(smsgate_harness, case):
    run_inbound_case(harness(smsgate_harness, country="GM"), case)


@pytest.mark.parametrize("case", CUSTOM_CASES, ids=[c.label for c in CUSTOM_CASES])
def test_receive_custom_fields(smsgate_harness, case):
    run_inbound_case(harness(smsgate_harness, **CUSTOM), case)


XML_MODE = {"text_xpath": "//content", "from_xpath": "//source", "mo_response": XML_REPLY,
            "mo_response_content_type": "text/xml"}
XML_HEADERS = {"content-type": "text/xml"}
XML_CASES = [
    InboundCase("SOAP", R, body=SOAP, headers=XML_HEADERS, contains=[XML_REPLY], messages=msg()),
    InboundCase("SOAP without the nodes", R, headers=XML_HEADERS, status=400, contains=["missing from at: //source"],
                body='<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
                     "<soapenv:Body></soapenv:Body></soapenv:Envelope>"),
    InboundCase("not XML", R, body="from=+2349067554729&text=hi", status=400,
                contains=["unable to parse request XML"], messages=[]),
    InboundCase("empty body", R, status=400, contains=["unable to parse request XML"]),
    InboundCase("inner text of nested nodes, entities decoded", R, headers=XML_HEADERS,
                body="<r><source> +2349067554729 </source><content>a <b>bold</b> &amp; <![CDATA[<raw>]]></content></r>",
                messages=msg(text="a bold & <raw>")),
    InboundCase("DOCTYPE refused (no entity expansion)", R, headers=XML_HEADERS, status=400,
                contains=["DOCTYPE and entity declarations are not allowed"], messages=[],
                body='<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
                     "<r><source>2349067554729</source><content>&b;</content></r>"),
    InboundCase("external entity refused", R, headers=XML_HEADERS, status=400, contains=["not allowed"],
                body='<!DOCTYPE r SYSTEM "file:///etc/passwd"><r><source>2349067554729</source><content>x</content></r>'),
    InboundCase("larger than 100 kB", R, headers=XML_HEADERS, status=413, contains=["larger than 100000 bytes"],
                body="<r><source>2349067554729</source><content>" + "x" * 100_000 + "</content></r>"),
    InboundCase("the first matching node wins", R, headers=XML_HEADERS,
                body="<r><m><source>2349067554729</source><content>one</content></m>"
                     "<m><source>12067799192</source><content>two</content></m></r>",
                messages=msg(text="one")),
    InboundCase("query parameters are ignored in XML mode", R + "?from=12067799192&text=q", headers=XML_HEADERS,
                body=SOAP, messages=msg()),
]


@pytest.mark.parametrize("case", XML_CASES, ids=[c.label for c in XML_CASES])
def test_receive_xml(smsgate_harness, case):
    run_inbound_case(harness(smsgate_harness, **XML_MODE), case)


@pytest.mark.parametrize(("from_xpath", "text_xpath"), [
    ("/soapenv:Envelope/soapenv:Body/com:moRequest/source", "/Envelope/Body/moRequest/content/text()"),
    ("//com:moRequest/source", "//moRequest/content"),
    ("Envelope/Body/moRequest/source", ".//content"),
    ("//*[content='Join']/source", "//content"),
])
def test_receive_xml_xpath_forms(smsgate_harness, from_xpath, text_xpath):
    h = harness(smsgate_harness, from_xpath=from_xpath, text_xpath=text_xpath)
    r = h.request("POST", R, content=SOAP, headers=XML_HEADERS)
    assert r.status_code == 200 and "Message Accepted" in r.text, r.text  # no mo_response: the JSON envelope
    assert [(m.from_, m.text) for m in h.messages(direction="in")] == [(NUMBER, "Join")]


def test_mo_response_is_literal_with_its_content_type(smsgate_harness):
    h = harness(smsgate_harness, **XML_MODE)
    r = h.request("POST", R, content=SOAP, headers=XML_HEADERS)
    assert r.status_code == 200 and r.text == XML_REPLY
    assert r.headers["content-type"].startswith("text/xml")
    bad = h.request("POST", R, content="<r/>", headers=XML_HEADERS)
    assert bad.status_code == 400 and bad.json()["message"] == "Error"  # errors keep the JSON envelope


def test_mo_response_in_form_mode_defaults_to_text_plain(smsgate_harness):
    h = harness(smsgate_harness, mo_response="OK")
    r = h.request("POST", R, data={"from": NUMBER, "text": "hi"})
    assert (r.status_code, r.text) == (200, "OK") and r.headers["content-type"].startswith("text/plain")


# -- status callbacks --------------------------------------------------------------------------------------------

SENT_ID = "10a46fa0-8e4c-4b2b-9ee1-b8e1b2c8b7d1"
OTHER_ID = "9d7ac0a5-64c6-4f2e-a0c8-3d5c5d1f3b21"
UNKNOWN_ID = "5f9c1a2b-0000-4000-8000-000000000001"
S = "/c/ex/"

STATUS_CASES = [
    InboundCase("sent", S + f"sent?id={SENT_ID}", method="GET", contains=['"status":"sent"', "Status Update Accepted"],
                statuses={SENT_ID: "sent"}),
    InboundCase("delivered by POST form", S + "delivered", data={"id": SENT_ID}, statuses={SENT_ID: "delivered"}),
    InboundCase("failed by uuid", S + f"failed?uuid={SENT_ID}", statuses={SENT_ID: "failed"},
                contains=['"status":"failed"']),
    InboundCase("trailing slash", S + f"delivered/?id={SENT_ID}", statuses={SENT_ID: "delivered"}),
    InboundCase("upper-case UUID", S + f"delivered?id={SENT_ID.upper()}", statuses={SENT_ID: "delivered"}),
    InboundCase("uuid wins over id", S + f"delivered?id={OTHER_ID}&uuid={SENT_ID}",
                statuses={SENT_ID: "delivered", OTHER_ID: "wired"}),
    InboundCase("an invalid uuid falls back to a valid id", S + f"delivered?id={SENT_ID}&uuid=asdf",
                statuses={SENT_ID: "delivered"}),
    InboundCase("no id", S + "sent", status=400, contains=["parameters id or uuid should not be empty"]),
    InboundCase("empty id", S + "sent?id=&uuid=", status=400, contains=["parameters id or uuid should not be empty"]),
    InboundCase("integer id (courier's old form)", S + "failed?id=12345", status=400,
                contains=["parsing failed: id '12345' and uuid '' are not valid UUIDs"], statuses={SENT_ID: "wired"}),
    InboundCase("unknown status path", S + f"wired?id={SENT_ID}", status=404, statuses={SENT_ID: "wired"}),
    InboundCase("unknown message: stored by the core, answered 200", S + f"delivered?id={UNKNOWN_ID}",
                contains=['"known_message":false']),
]


@pytest.mark.parametrize("case", STATUS_CASES, ids=[c.label for c in STATUS_CASES])
def test_status(smsgate_harness, case):
    h = harness(smsgate_harness)
    for message_id in (SENT_ID, OTHER_ID):
        assert h.send("ex", "+250788383383", "hi", id=message_id).message.status == "wired"
    run_inbound_case(h, case)


def test_late_sent_after_delivered_is_kept_but_not_applied(smsgate_harness):
    h = harness(smsgate_harness)
    h.send("ex", "+250788383383", "hi", id=SENT_ID)
    for action in ("delivered", "sent"):
        assert h.request("POST", f"/c/ex/{action}", data={"id": SENT_ID}).status_code == 200
    stored = h.message(SENT_ID)
    assert stored.status == "delivered"
    assert [s["status"] for s in stored.history] == ["queued", "wired", "delivered", "sent"]


# -- stopped -----------------------------------------------------------------------------------------------------

STOP_CASES = [
    InboundCase("stopped", S + "stopped?from=%2B2349067554729", contains=["Event Accepted", "stop_contact"],
                opt_outs=[NUMBER]),
    InboundCase("stopped by POST", S + "stopped", data={"from": NUMBER}, opt_outs=[NUMBER]),
    InboundCase("stopped by GET", S + "stopped?from=2349067554729", method="GET", opt_outs=[NUMBER]),
    InboundCase("invalid number", S + "stopped?from=MTN", status=400, contains=["not a possible number"], opt_outs=[]),
    InboundCase("no from", S + "stopped", status=400, contains=["field 'from' required"], opt_outs=[]),
    InboundCase("sender is not from", S + f"stopped?sender={NUMBER}", status=400, contains=["field 'from' required"]),
]


@pytest.mark.parametrize("case", STOP_CASES, ids=[c.label for c in STOP_CASES])
def test_stopped(smsgate_harness, case):
    run_inbound_case(harness(smsgate_harness), case)


# -- inbound authentication --------------------------------------------------------------------------------------

SECRET = "s3cret-shared-value"
PASSWORD = "pa55-word-value"


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


SECRET_ONLY = {"inbound_secret": SECRET}
BASIC_ONLY = {"inbound_username": "agg", "inbound_password": PASSWORD}
BOTH = {**SECRET_ONLY, **BASIC_ONLY, "inbound_secret_header": "X-Agg-Token"}
FORM = {"from": NUMBER, "text": "hi"}

AUTH_CASES = [
    ("off by default", {}, {}, 200, "Message Accepted"),
    ("secret: missing", SECRET_ONLY, {}, 401, "authentication required: send the X-Smsgate-Secret header"),
    ("secret: wrong", SECRET_ONLY, {"X-Smsgate-Secret": "nope"}, 401, "invalid credentials"),
    ("secret: a prefix is wrong", SECRET_ONLY, {"X-Smsgate-Secret": SECRET[:-1]}, 401, "invalid credentials"),
    ("secret: right", SECRET_ONLY, {"X-Smsgate-Secret": SECRET}, 200, "Message Accepted"),
    ("secret: header name is case-insensitive", SECRET_ONLY, {"x-smsgate-secret": SECRET}, 200, "Accepted"),
    ("secret: basic auth is not accepted", SECRET_ONLY, basic("agg", SECRET), 401, "authentication required"),
    ("basic: missing", BASIC_ONLY, {}, 401, "authentication required: send HTTP basic auth"),
    ("basic: right", BASIC_ONLY, basic("agg", PASSWORD), 200, "Accepted"),
    ("basic: wrong password", BASIC_ONLY, basic("agg", "nope"), 401, "invalid credentials in HTTP basic auth"),
    ("basic: wrong user", BASIC_ONLY, basic("other", PASSWORD), 401, "invalid credentials"),
    ("basic: garbage", BASIC_ONLY, {"Authorization": "Basic %%%"}, 401, "authentication required"),
    ("basic: bearer is not basic", BASIC_ONLY, {"Authorization": f"Bearer {PASSWORD}"}, 401, "required"),
    ("both: custom header", BOTH, {"X-Agg-Token": SECRET}, 200, "Accepted"),
    ("both: basic", BOTH, basic("agg", PASSWORD), 200, "Accepted"),
    ("both: default header name no longer used", BOTH, {"X-Smsgate-Secret": SECRET}, 401,
     "the X-Agg-Token header or HTTP basic auth"),
    ("both: wrong header, right basic", BOTH, {"X-Agg-Token": "nope", **basic("agg", PASSWORD)}, 200, "Accepted"),
]


@pytest.mark.parametrize(("label", "settings", "headers", "status", "contains"), AUTH_CASES,
                         ids=[c[0] for c in AUTH_CASES])
def test_inbound_auth(smsgate_harness, label, settings, headers, status, contains):
    h = harness(smsgate_harness, **settings)
    run_inbound_case(h, InboundCase(label, R, data=FORM, headers=headers, status=status, contains=[contains],
                                    messages=msg(text="hi") if status == 200 else []))


@pytest.mark.parametrize("path", [f"/c/ex/delivered?id={SENT_ID}", "/c/ex/stopped?from=%2B2349067554729",
                                  "/c/ex/sent", "/c/ex/receive"])
def test_inbound_auth_guards_every_route(smsgate_harness, path):
    h = harness(smsgate_harness, **SECRET_ONLY)
    h.send("ex", "+250788383383", "hi", id=SENT_ID)
    assert h.request("POST", path).status_code == 401
    assert h.message(SENT_ID).status == "wired" and h.opt_outs() == []
    assert h.request("POST", path, headers={"X-Smsgate-Secret": SECRET}).status_code != 401


def test_inbound_credentials_never_logged(smsgate_harness):
    h = harness(smsgate_harness, **BOTH)
    h.request("POST", R, data=FORM, headers={"X-Agg-Token": SECRET})
    h.request("POST", R, data=FORM, headers=basic("agg", PASSWORD))
    h.request("POST", R, data=FORM, headers=basic("agg", "wrong-one"))  # a rejected attempt is logged too
    logs = json.dumps(h.logs())
    assert len(h.logs()) == 3
    for value in (SECRET, PASSWORD, base64.b64encode(f"agg:{PASSWORD}".encode()).decode()):
        assert value not in logs


def test_callbacks_reach_the_store(smsgate_harness):
    """The issue's acceptance path: a send, then the aggregator's receive and delivered callbacks, all listed."""
    h = smsgate_harness({"ex": BASE}, adapters=[HttpAdapter], respond=lambda r: httpx.Response(200, text="ok"))
    h.send("ex", "+250788383383", "hello", id=SENT_ID)
    assert h.request("GET", f"/c/ex/delivered?id={SENT_ID}").status_code == 200
    assert h.request("POST", "/c/ex/receive", data={"from": "+250788383383", "text": "thanks"}).status_code == 200
    listed = {(m.direction, m.text, m.status) for m in h.messages()}
    assert listed == {("out", "hello", "delivered"), ("in", "thanks", "received")}
