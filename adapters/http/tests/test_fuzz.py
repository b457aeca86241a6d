"""Properties: bad input never crashes an inbound route, and every body escaping round-trips to the text."""

from __future__ import annotations

import json
import urllib.parse
import xml.etree.ElementTree as ET

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from smsgate_http import HttpAdapter
from smsgate_http._render import escape_xml, escaper, quick_replies, render

ROUTES = ["receive", "sent", "delivered", "failed", "stopped"]
KEYS = st.sampled_from(["from", "sender", "text", "date", "time", "id", "uuid", "x"])
VALUES = st.one_of(st.text(max_size=40), st.sampled_from(["+2349067554729", "2017-06-23T12:30:00Z",
                                                          "5f9c1a2b-0000-4000-8000-000000000001", "MTN", ""]))
BODIES = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300).map(str.encode),
    st.sampled_from([b"<r><source>2349067554729</source><content>x</content></r>", b"<r>", b"<!DOCTYPE r><r/>",
                     b'{"from": "+2349067554729"}', b"[1, 2]", b"\xff\xfe<r/>", b'<?xml version="1.0" encoding="x"?>']),
)
TYPES = st.sampled_from(["application/x-www-form-urlencoded", "application/json", "text/xml", "multipart/form-data",
                         "multipart/form-data; boundary=xyz", "text/plain", ""])
MODES = st.sampled_from([{}, {"from_xpath": "//source", "text_xpath": "//content"},
                         {"mo_from_field": "x", "mo_date_field": "x"}, {"inbound_secret": "s3cret-value"}])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mode=MODES, action=st.sampled_from(ROUTES), method=st.sampled_from(["GET", "POST"]),
       params=st.dictionaries(KEYS, VALUES, max_size=4), body=BODIES, ctype=TYPES)
def test_inbound_never_crashes(smsgate_harness, mode, action, method, params, body, ctype):
    h = _harness(smsgate_harness, mode)
    headers = {"content-type": ctype} if ctype else {}
    r = h.request(method, f"/c/ex/{action}", params=params, content=body if method == "POST" else None,
                  headers=headers)
    assert r.status_code in (200, 400, 401, 413), (r.status_code, r.text)
    if r.status_code != 200:
        assert r.json()["data"][0]["error"]


def _harness(factory, mode):
    # one gateway per mode for the whole test (the factory closes them): one per example would dominate run time
    cache = factory.__dict__.setdefault("http_fuzz", {})
    key = repr(sorted(mode.items()))
    if key not in cache:
        cache[key] = factory({"ex": {"adapter": "http", "country": "US", "send_url": "http://example.com/s",
                                          **mode}}, adapters=[HttpAdapter])
    return cache[key]


# -- every escaping round-trips: what the aggregator decodes is exactly the text ----------------------------------

TEXTS = st.text(st.characters(blacklist_categories=["Cs"]), max_size=60)


@given(text=TEXTS, replies=st.lists(TEXTS, max_size=3))
def test_json_body_round_trips(text, replies):
    body = render('{"t": {{text}}, "q": {{quick_replies}}}',
                  {"text": escaper("json")(text), "quick_replies": quick_replies(replies, "POST", "json")})
    assert json.loads(body) == {"t": text, "q": replies}


@given(text=TEXTS, replies=st.lists(TEXTS, max_size=3))
def test_urlencoded_body_round_trips(text, replies):
    body = render("text={{text}}{{quick_replies}}",
                  {"text": escaper("urlencoded")(text), "quick_replies": quick_replies(replies, "POST", "urlencoded")})
    pairs = urllib.parse.parse_qsl(body, keep_blank_values=True)
    assert pairs == [("text", text), *(("quick_reply", r) for r in replies)]


@given(text=TEXTS)
def test_xml_body_round_trips(text):
    body = render("<m><t>{{text}}</t><q>{{quick_replies}}</q></m>",
                  {"text": escape_xml(text), "quick_replies": quick_replies([text], "POST", "xml")})
    root = ET.fromstring(body)
    expected = "".join(c if c in "\t\n\r" or _xml_char_ok(c) else "\ufffd" for c in text)
    assert root.findtext("t") == expected and root.findtext("q/item") == expected


def _xml_char_ok(char: str) -> bool:
    code = ord(char)
    return code >= 0x20 and not 0xD800 <= code <= 0xDFFF and code not in (0xFFFE, 0xFFFF)
