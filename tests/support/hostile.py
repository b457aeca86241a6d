"""Hostile inbound requests for every route of every installed adapter, and what the gateway must answer.

Shared by `tests/system/test_hostile_input.py` (a modest run inside the suite) and `fuzz/run.py` (10,000 examples
per route). Requests go straight into the gateway's ASGI app as raw ASGI messages, so nothing a client library
would normalise (methods, raw paths and query bytes, header bytes, bodies in several chunks, lying
Content-Length headers) is lost on the way. The properties, checked for every request:

- the app never raises and never answers 5xx;
- a 4xx carries a non-empty reason, and leaves the messages, status history, opt-outs and outbox unchanged;
- a body over `max_body_bytes` is answered 413;
- a 2xx only for an allowed method, with valid credentials (http `inbound_secret` / basic auth, Twilio
  signature) and the fields the route needs, and what it stored matches what was sent.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import json
import re
import traceback
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from hypothesis import strategies as st
from pydantic import SecretStr
from smsgate.host import config_from_dict, installed_adapters
from smsgate.plugins import get_adapters
from smsgate.testing import Harness
from starlette.datastructures import Headers
from starlette.formparsers import MultiPartParser

__all__ = [
    "CHANNEL",
    "GATEWAY",
    "KNOWN_BUGS",
    "KNOWN_ID",
    "Outcome",
    "Profile",
    "Spec",
    "check",
    "fingerprint",
    "profiles",
    "reason",
    "requests",
    "setup_harness",
    "valid_example",
    "api_harness",
    "api_requests",
    "bridge_requests",
    "check_platform",
    "check_twilio",
    "twilio_front_harness",
    "twilio_front_requests",
]

CHANNEL = "ch"
PUBLIC_URL = "https://gateway.example"
MAX_BODY = 1024 * 1024
# a webhook target, so every stored event also plans outbox rows (a rejected request must add none)
GATEWAY = {"public_url": PUBLIC_URL, "max_body_bytes": MAX_BODY,
           "webhooks": [{"url": "https://hooks.example/in", "secret": "hook-secret-fuzz-0001"}]}
ALL_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
KNOWN_ID = "7d3c1f52-9a0e-4c8b-b1d2-3e4f5a6b7c8d"  # an outgoing message every harness starts with
KNOWN_SID = "SMknown00000000000000000000000001"  # its Twilio sid
TWILIO_TOKEN = "fuzz-auth-token-7b2e"
HTTP_SECRET = "fuzz-inbound-secret-91c4"
HTTP_USER, HTTP_PASSWORD = "agg", "fuzz-inbound-password-5d0a"
TWILIO_SID = "AC" + "f" * 32


# -- profiles: one channel configuration per adapter mode ------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    """One channel configuration of an adapter, and the credentials a valid request must carry."""

    label: str
    adapter: str
    settings: dict[str, Any]
    twilio_token: str | None = None  # sign some requests with this auth token
    secret_header: tuple[str, str] | None = None  # http inbound_secret: (header, value)
    basic_auth: tuple[str, str] | None = None  # http inbound basic auth: (user, password)

    def routes(self) -> dict[str, Any]:
        """The adapter's routes by action."""
        return _routes(self.adapter)


@functools.cache
def _routes(adapter: str) -> dict[str, Any]:
    return dict(get_adapters()[adapter].adapter.routes)


def _generic_settings(adapter_cls: type[Any]) -> dict[str, Any]:
    """Values for every required key of an adapter we know nothing about (URLs, secrets, strings, numbers)."""
    out: dict[str, Any] = {}
    for name, info in adapter_cls.settings_model.model_fields.items():
        if name == "adapter" or not info.is_required():
            continue
        kind = info.annotation
        if "url" in name:
            out[name] = "http://aggregator.invalid/send"
        elif kind is SecretStr or "secret" in name or "password" in name or "token" in name:
            out[name] = f"fuzz-{name}-value-3f9a"
        elif kind is bool:
            out[name] = False
        elif kind in (int, float):
            out[name] = 1
        else:
            out[name] = f"fuzz{name}"
    return out


def _valid(adapter: str, settings: dict[str, Any]) -> bool:
    try:
        config_from_dict({"channels": {CHANNEL: {"adapter": adapter, **settings}}}, installed_adapters())
    except Exception:
        return False
    return True


def profiles() -> list[Profile]:
    """A minimal valid channel per installed adapter, plus the modes that change what a route accepts."""
    found: list[Profile] = []
    for name, info in get_adapters().items():
        if name == "http":
            base = {"country": "US", "address": "+12025550100", "send_url": "http://aggregator.invalid/send"}
            found += [
                Profile("http", name, base),
                Profile("http-xml", name, {**base, "from_xpath": "//from", "text_xpath": "//text"}),
                Profile("http-auth", name, {**base, "inbound_secret": HTTP_SECRET, "inbound_username": HTTP_USER,
                                            "inbound_password": HTTP_PASSWORD},
                        secret_header=("x-smsgate-secret", HTTP_SECRET), basic_auth=(HTTP_USER, HTTP_PASSWORD)),
            ]
        elif name == "twilio":
            base = {"account_sid": TWILIO_SID, "auth_token": TWILIO_TOKEN, "address": "+12025550100",
                    "country": "US"}
            found += [
                Profile("twilio-signed", name, {**base, "validate_signatures": True}, twilio_token=TWILIO_TOKEN),
                Profile("twilio-unsigned", name, {**base, "validate_signatures": False}),
            ]
        elif name in ("plivo", "messagebird"):  # unsigned too, so requests reach the parsers behind the check
            base = {"address": "2020", "country": "US", "auth_id": "MAFUZZ", "auth_token": f"fuzz-{name}-token-1",
                    "app_id": "app"} if name == "plivo" else \
                {"address": "2020", "country": "US", "auth_token": "fuzz-mb-key-1", "secret": "fuzz-mb-signing-1"}
            found += [Profile(f"{name}-signed", name, base),
                      Profile(f"{name}-unsigned", name, {**base, "validate_signatures": False})]
        elif name == "clickatell":
            found.append(Profile(name, name, {"address": "2020", "country": "US", "api_key": "fuzz-clickatell-1"}))
        else:
            guesses = []
            if name == "kannel":  # tests/support/peers/kannel.py's set-up (tests/PEERS.md)
                guesses.append({"send_url": "http://127.0.0.1:13013/cgi-bin/sendsms", "username": "gate",
                                "password": "fuzz-kannel-password-1", "address": "2020", "country": "RW"})
            if name == "vonage":
                guesses.append({"api_key": "fuzz-vonage-key-1", "api_secret": "fuzz-vonage-secret-1",
                                "address": "2020", "country": "US"})
            if name == "infobip":  # needs api_key or username + password, which no generic guess gives
                guesses.append({"api_key": "fuzz-infobip-key-1", "address": "2020", "country": "US"})
            if name == "africastalking":
                guesses.append({"username": "fuzzapp", "api_key": "fuzz-at-key-1", "address": "2020",
                                "country": "KE"})
            if name == "smpp":  # no HTTP routes; a closed loopback port: the seed send fails fast, nothing leaves
                guesses.append({"host": "127.0.0.1", "port": 9, "system_id": "fuzz", "password": "fuzzpw1",
                                "country": "RW", "address": "2020", "timeout": 2})
            guesses += [{"country": "RW", **_generic_settings(info.adapter)}, _generic_settings(info.adapter)]
            settings = next((g for g in guesses if _valid(name, g)), None)
            if settings is not None:
                found.append(Profile(name, name, settings))
    return found


def setup_harness(make: Callable[..., Harness], profile: Profile) -> Harness:
    """A harness for `profile` (through `make`, e.g. the `smsgate_harness` fixture) with one sent message."""

    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(201, json={"sid": KNOWN_SID, "num_segments": "1", "status": "queued"})

    harness = make({CHANNEL: {"adapter": profile.adapter, "max_retry_wait": 0, **profile.settings}},
                   gateway=GATEWAY, respond=respond)
    try:  # a message to report statuses on; an adapter that cannot send is fuzzed without one
        harness.send(CHANNEL, "+12025550123", "seed", id=KNOWN_ID)
    except Exception:
        pass
    return harness


# -- the request strategy ------------------------------------------------------------------------------------

FIELD_NAMES = ["from", "sender", "text", "date", "time", "id", "uuid", "to", "message", "status", "ts", "coding",
               "charset", "MessageSid", "SmsSid", "AccountSid", "From", "To", "Body", "NumMedia", "MediaUrl0",
               "MediaUrl1", "FromCountry", "ToCountry", "MessageStatus", "ErrorCode", "bodySHA256", "secret",
               "password", "x", "msisdn", "messageId", "err-code", "message-timestamp", "sig", "concat", "results",
               "receivedAt", "messageCount", "phoneNumber", "failureReason", "senderId", "linkId"]
NUMBERS = ["+12025550123", "2025550123", "+250788383383", "0788383383", "1234", "+1", "MTN", "", " ", "+",
           "00", "+99999999999999999999", "tel:+12025550123", "+1 (202) 555-0199"]
STATUSES = ["sent", "delivered", "failed", "queued", "read", "undelivered", "accepted", "sending", "1", "2", "4",
            "8", "16", "DELIVERED", "x", ""]
DATES = ["2017-06-23T12:30:00.500Z", "2017-06-23T12:30:00+02:00", "2017-06-23", "9999-99-99T99:99:99Z",
         "2017-02-30T00:00:00Z", "2017-06-23T12:30:00+99:00", ""]
NUMERALS = ["0", "1", "3", "10", "-1", "1.5", "\u00b2", "\u0661\u0662", "9" * 30, "9" * 4400, " 2 "]
UUIDS = [KNOWN_ID, KNOWN_ID.upper(), " " + KNOWN_ID, "not-a-uuid", str(uuid.UUID(int=0)), KNOWN_ID[:-1]]
SIDS = [KNOWN_SID, "SM" + "a" * 32, TWILIO_SID, "AC1", ""]
TEXT = st.text(st.characters(blacklist_categories=["Cs"]), max_size=40)

VALUES = st.one_of(
    st.sampled_from(NUMBERS), st.sampled_from(STATUSES), st.sampled_from(DATES), st.sampled_from(NUMERALS),
    st.sampled_from(UUIDS), st.sampled_from(SIDS), st.uuids().map(str), TEXT,
    st.text(st.characters(blacklist_categories=["Cs"]), min_size=60, max_size=120).map(
        lambda t: base64.b64encode(t.encode()).decode()),  # Twilio's "possible base64" bodies
)
KEYS = st.one_of(st.sampled_from(FIELD_NAMES), TEXT)
PAIRS = st.lists(st.tuples(KEYS, VALUES), max_size=8)
EXTRA_PAIRS = st.lists(st.tuples(KEYS, VALUES), max_size=2)
BOOL = st.booleans()
DIGIT = st.integers(0, 9)
TWENTY = st.integers(0, 19)



def _mostly(valid: Any, other: Any) -> Any:
    """`valid` seven times in ten, else `other` (valid values get requests past the first check)."""
    return DIGIT.flatmap(lambda n: valid if n < 7 else other)


# the fields each route reads, with values that are mostly valid
_FIELD_VALUES: dict[str, Any] = {
    "number": _mostly(st.sampled_from(NUMBERS[:5]), st.one_of(st.sampled_from(NUMBERS), VALUES)),
    "text": _mostly(TEXT, VALUES),
    "date": _mostly(st.sampled_from(DATES[:2]), st.sampled_from(DATES)),
    "uuid": _mostly(st.one_of(st.just(KNOWN_ID), st.uuids().map(str)), st.sampled_from(UUIDS)),
    "status": st.sampled_from(STATUSES),
    "sid": _mostly(st.text("0123456789abcdef", min_size=1, max_size=3).map(lambda t: "SM" + t),
                   st.sampled_from(SIDS)),
    "account": _mostly(st.just(TWILIO_SID), st.sampled_from(["AC1", "", " "])),
    "numeral": st.sampled_from(NUMERALS),
    "url": st.sampled_from(["https://media.example/a.jpg", "", "javascript:alert(1)", "x" * 300]),
    "error_code": st.sampled_from(["", "0", "21610", "30006", "x" * 40]),
    "ts": _mostly(st.integers(1, 2_000_000_000).map(str),
                  st.sampled_from(["0", "-5", "9" * 30, "abc", "1.5", "\u00b2", "253402300800", "", " 7 "])),
    "coding": st.sampled_from(["", "0", "1", "2", "x"]),
    "charset": st.sampled_from(["", "utf-8", "UTF-16BE", "latin-1", "idna", "punycode", "x-unknown", "rot13"]),
    "dlr": st.sampled_from(["1", "2", "4", "8", "16", "0", "3", "x", "\u00b2", "9" * 5000, " 1 "]),
}
ROUTE_FIELDS: dict[tuple[str, str], list[tuple[str, str]]] = {
    ("http", "receive"): [("from", "number"), ("text", "text"), ("date", "date")],
    ("http", "sent"): [("id", "uuid")],
    ("http", "delivered"): [("uuid", "uuid")],
    ("http", "failed"): [("id", "uuid")],
    ("http", "stopped"): [("from", "number")],
    ("twilio", "receive"): [("MessageSid", "sid"), ("AccountSid", "account"), ("From", "number"),
                            ("To", "number"), ("Body", "text"), ("NumMedia", "numeral"), ("MediaUrl0", "url")],
    ("twilio", "status"): [("MessageSid", "sid"), ("MessageStatus", "status"), ("ErrorCode", "error_code"),
                           ("To", "number")],
    ("kannel", "receive"): [("sender", "number"), ("id", "sid"), ("ts", "ts"), ("message", "text"),
                            ("coding", "coding"), ("charset", "charset"), ("to", "number")],
    ("kannel", "status"): [("id", "uuid"), ("status", "dlr"), ("smsc_reply", "text")],
    ("vonage", "receive"): [("msisdn", "number"), ("to", "number"), ("text", "text"), ("messageId", "sid"),
                            ("message-timestamp", "date")],
    ("vonage", "status"): [("messageId", "sid"), ("status", "status"), ("err-code", "error_code")],
    ("africastalking", "receive"): [("id", "sid"), ("from", "number"), ("to", "number"), ("text", "text"),
                                    ("date", "date")],
    ("africastalking", "callback"): [("id", "sid"), ("from", "number"), ("text", "text"), ("date", "date")],
    ("africastalking", "status"): [("id", "sid"), ("status", "status"), ("failureReason", "text"),
                                   ("phoneNumber", "number")],
    ("africastalking", "delivery"): [("id", "sid"), ("status", "status")],
    ("africastalking", "optout"): [("senderId", "text"), ("phoneNumber", "number")],
    ("plivo", "receive"): [("From", "number"), ("To", "number"), ("MessageUUID", "sid"), ("Text", "text"),
                           ("Body", "text"), ("MediaCount", "numeral"), ("Media1", "url")],
    ("plivo", "status"): [("From", "number"), ("To", "number"), ("MessageUUID", "sid"), ("Status", "status"),
                          ("ParentMessageUUID", "sid"), ("ErrorCode", "error_code")],
    ("clickatell", "receive"): [("messageId", "sid"), ("replyMessageId", "sid"), ("fromNumber", "number"),
                                ("text", "text"), ("timestamp", "ts"), ("charset", "charset")],
    ("clickatell", "status"): [("messageId", "sid"), ("statusCode", "numeral"), ("statusDescription", "text")],
    ("messagebird", "receive"): [("originator", "number"), ("body", "text"), ("id", "sid"),
                                 ("createdDatetime", "date"), ("mediaUrls", "url"), ("shortcode", "numeral"),
                                 ("message", "text"), ("mid", "sid"), ("receive_datetime", "ts")],
    ("messagebird", "status"): [("id", "sid"), ("reference", "uuid"), ("status", "status"), ("recipient", "number"),
                                ("statusErrorCode", "numeral"), ("statusDatetime", "date")],
}


@st.composite
def _aimed(draw: Any, fields: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The route's fields (each usually present, usually valid), a few random ones, in random order."""
    pairs = [(name, draw(_FIELD_VALUES[kind])) for name, kind in fields if draw(TWENTY) < 19]
    pairs += draw(EXTRA_PAIRS)
    if len(pairs) > 1 and draw(BOOL):  # the order of fields must not matter either
        pairs.insert(draw(st.integers(0, len(pairs) - 1)), pairs.pop())
    return pairs


def pairs_for(profile: Profile, action: str) -> Any:
    """Field lists for `action`: mostly aimed at what the route reads, sometimes anything."""
    fields = ROUTE_FIELDS.get((profile.adapter, action))
    if not fields:
        return PAIRS
    return st.one_of(_aimed(fields), _aimed(fields), _aimed(fields), PAIRS)


@dataclass
class Spec:
    """One raw request, plus what the generator knows about it (for the checks)."""

    method: str
    raw_path: bytes
    query: bytes
    headers: list[tuple[bytes, bytes]]
    chunks: list[bytes]
    kind: str  # the body's kind: form, json, xml, multipart, binary, huge...
    content_type: str = ""
    pairs: list[tuple[str, str]] = field(default_factory=list)  # the fields the body was built from
    query_pairs: list[tuple[str, str]] | None = None  # the query's fields when built from pairs
    signed: bool = False  # carries a valid X-Twilio-Signature
    auth_ok: bool = False  # carries a valid http inbound secret or basic auth
    declared_length: str | None = None
    sign_how: str = ""  # how the Twilio signature was made
    sign_token: str | None = None

    @property
    def body(self) -> bytes:
        """The whole body."""
        return b"".join(self.chunks)

    def short(self) -> str:
        """A readable summary for failure reports."""
        body = self.body
        shown = body[:200] + (f"... ({len(body)} bytes)".encode() if len(body) > 200 else b"")
        return (f"{self.method} {self.raw_path.decode('latin-1')}?{self.query[:200].decode('latin-1')} "
                f"kind={self.kind} ctype={self.content_type!r} signed={self.signed} auth_ok={self.auth_ok} "
                f"headers={[(k.decode(), v[:80]) for k, v in self.headers]} body={shown!r}")


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _xml_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_]", "", name)
    return cleaned if cleaned and not cleaned[0].isdigit() else "x" + cleaned


BOMB = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + b"".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">'.encode()
                   for i in range(1, 10))
        + b"]><r><from>+12025550123</from><text>&lol9;</text></r>")
XXE = (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
       b"<r><from>+12025550123</from><text>&x;</text></r>")
XML_SPECIALS = [BOMB, XXE, b"<r><from>+12025550123</from><text>a</text>", b"<r/>", b"<", b"\xef\xbb\xbf<r/>",
                b'<?xml version="1.0" encoding="x-unknown"?><r/>',
                b'<?xml version="1.0" encoding="rot13"?><r><from>+12025550123</from><text>a</text></r>',
                '<?xml version="1.0" encoding="ISO-8859-1"?><r><from>+12025550123</from><text>é</text></r>'.encode(),
                b'<?xml version="1.0" encoding="UTF-16"?><r/>',
                '<r><from>+12025550123</from><text>é</text></r>'.encode("utf-16"),
                b'<s:Envelope xmlns:s="urn:x"><s:Body><m:from xmlns:m="urn:m">+12025550123</m:from>'
                b"<m:text xmlns:m='urn:m'>hi</m:text></s:Body></s:Envelope>",
                b"<r><from>&#0;</from></r>", b"<r><from>&#xD800;</from></r>", b"<r><![CDATA[<from>]]></r>"]
CHARSETS = ["utf-8", "latin-1", "utf-16", "idna", "punycode", "utf-7", "x-unknown", "rot13", "zlib", "hex"]
FORM = "application/x-www-form-urlencoded"
CTYPES = [FORM, "application/json", "text/xml", "application/xml", "multipart/form-data", "text/plain",
          "application/vnd.api+json", "application/octet-stream", "", "*/*", "form", "application/json; charset=zz",
          f"{FORM}; charset=utf-16", "multipart/form-data; boundary=", "multipart/mixed; boundary=b"]


def _multipart(pairs: list[tuple[str, str]], boundary: str, with_file: bool) -> bytes:
    parts = []
    for key, value in pairs:
        name = key.replace('"', "").replace("\r", "").replace("\n", "")
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    if with_file:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="MediaUrl0"; filename="a.bin"\r\n'
                     f"Content-Type: application/octet-stream\r\n\r\n".encode() + b"\x00\xff\xfe" * 20 + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode()




@functools.cache
def _cached_choice(values: tuple[Any, ...]) -> Any:
    return st.sampled_from(values)


def _one(values: Any) -> Any:
    """`st.sampled_from(values)`, built once per distinct list (building strategies per draw is slow)."""
    return _cached_choice(tuple(values))


def _json_value(pairs: list[tuple[str, str]], draw: Any) -> Any:
    obj: dict[str, Any] = dict(pairs)
    extra = draw(_one(["none", "nested", "types", "list", "scalar"]))
    if extra == "nested":
        obj[draw(KEYS)] = {"a": [1, {"b": None}], "c": {"d": draw(VALUES)}}
    elif extra == "types":
        obj.update({draw(_one(FIELD_NAMES)): draw(st.one_of(
            st.integers(), st.floats(allow_nan=True), BOOL, st.none(), st.lists(st.integers(), max_size=3)))
            for _ in range(2)})
    elif extra == "list":
        return [obj]
    elif extra == "scalar":
        return draw(st.one_of(st.integers(), st.text(max_size=10), st.none(), BOOL))
    return obj


@st.composite
def _body(draw: Any, pairs_strategy: Any, xml_first: bool) -> tuple[str, bytes, str, list[tuple[str, str]]]:
    """(kind, body, content type, the pairs it was built from); mostly XML for a channel that reads XML."""
    pairs = draw(pairs_strategy)
    kind = "xml" if xml_first and draw(DIGIT) < 5 else draw(_one([
        "empty", "form", "form", "form", "form", "form", "form-latin1", "form-utf16", "json", "json", "json",
        "json-utf16", "json-deep", "json-bigint", "json-hostile", "json-hostile", "xml", "xml", "xml", "xml-special",
        "xml-deep", "multipart",
        "multipart", "multipart", "multipart-broken", "multipart-many", "binary", "text", "huge", "truncated"]))
    if kind == "empty":
        return kind, b"", draw(_one(CTYPES)), []
    if kind == "form":
        return kind, urllib.parse.urlencode(pairs).encode(), draw(_one([FORM, FORM + "; charset=utf-8",
                                                                                  FORM.upper()])), pairs
    if kind == "form-latin1":  # declared UTF-8 (or nothing), sent as Latin-1, raw or percent-encoded
        raw = "&".join(f"{k}={v}" for k, v in pairs).encode("latin-1", "replace") + "&text=café".encode("latin-1")
        if draw(BOOL):
            raw = urllib.parse.urlencode([*pairs, ("text", "café")], encoding="latin-1", errors="replace").encode()
        return kind, raw, draw(_one([FORM, FORM + "; charset=utf-8"])), pairs
    if kind == "form-utf16":
        return kind, urllib.parse.urlencode(pairs).encode("utf-16"), draw(_one(
            [FORM + "; charset=utf-16", FORM])), pairs
    if kind in ("json", "json-utf16"):
        data = json.dumps(_json_value(pairs, draw), ensure_ascii=draw(BOOL))
        encoding = "utf-16" if kind == "json-utf16" else draw(_one(["utf-8", "utf-8", "latin-1"]))
        ctype = draw(_one(["application/json", "application/json; charset=" + encoding,
                                      "application/vnd.twilio+json", "text/json"]))
        return kind, data.encode(encoding, "replace"), ctype, pairs
    if kind == "json-deep":
        depth = draw(_one([2, 50, 900, 5000, 100_000]))
        body = ("[" * depth + "]" * depth) if draw(BOOL) else ('{"a":' * depth + "1" + "}" * depth)
        return kind, body.encode(), "application/json", []
    if kind == "json-hostile":  # the route's fields, one of them NaN, 1e999, a lone surrogate, too deep...
        items = [f"{json.dumps(k)}:{json.dumps(v)}" for k, v in pairs]
        items.insert(draw(st.integers(0, len(items))), f"{json.dumps(draw(KEYS))}:{draw(_one(HOSTILE_JSON))}")
        return kind, ("{" + ",".join(items) + "}").encode(), "application/json", pairs
    if kind == "json-bigint":
        digits = draw(_one([5, 4300, 4301, 20_000]))
        return kind, ('{"from": ' + "9" * digits + ', "text": "x"}').encode(), "application/json", []
    if kind == "xml":
        inner = "".join(f"<{_xml_name(k)}>{_xml_escape(v)}</{_xml_name(k)}>" for k, v in pairs)
        head = draw(_one(["", '<?xml version="1.0" encoding="UTF-8"?>']))
        return kind, f"{head}<r>{inner}</r>".encode(), draw(_one(["text/xml", "application/xml",
                                                                            "application/soap+xml", ""])), pairs
    if kind == "xml-special":
        return kind, draw(_one(XML_SPECIALS)), draw(_one(["text/xml", "application/xml"])), []
    if kind == "xml-deep":
        depth = draw(_one([100, 10_000, 14_000, 40_000]))
        return kind, b"<a>" * depth + b"<from>+12025550123</from>" + b"</a>" * depth, "text/xml", []
    if kind == "multipart":
        boundary = draw(_one(["xYzZy", "----b0undary", "a" * 70]))
        params = f"; charset={draw(_one(CHARSETS))}" if draw(BOOL) else ""
        return (kind, _multipart(pairs, boundary, draw(BOOL)),
                f"multipart/form-data; boundary={boundary}{params}", pairs)
    if kind == "multipart-broken":
        body = _multipart(pairs, "xYzZy", draw(BOOL))
        variant = draw(_one(["no-boundary", "other-boundary", "cut", "no-name", "header-junk"]))
        if variant == "no-boundary":
            return kind, body, "multipart/form-data", pairs
        if variant == "other-boundary":
            return kind, body, "multipart/form-data; boundary=other", pairs
        if variant == "cut":
            return kind, body[: draw(st.integers(0, len(body)))], "multipart/form-data; boundary=xYzZy", pairs
        if variant == "no-name":
            return (kind, b"--xYzZy\r\nContent-Disposition: form-data\r\n\r\nv\r\n--xYzZy--\r\n",
                    "multipart/form-data; boundary=xYzZy", [])
        return (kind, b"--xYzZy\r\n\xff\xfe: \x00\r\n\r\nv\r\n--xYzZy--\r\n", "multipart/form-data; boundary=xYzZy",
                [])
    if kind == "multipart-many":  # past starlette's field limit (1000)
        many = [("from", "+12025550123")] + [(f"f{i}", "v") for i in range(draw(_one([999, 1001])))]
        return kind, _multipart(many, "xYzZy", False), "multipart/form-data; boundary=xYzZy", []
    if kind == "binary":
        return kind, draw(st.binary(max_size=600)), draw(_one(CTYPES)), []
    if kind == "text":
        return kind, draw(st.text(max_size=300)).encode("utf-8", "surrogatepass"), draw(_one(CTYPES)), []
    if kind == "huge":
        size = draw(_one([MAX_BODY + 1, MAX_BODY + 4096, 2 * MAX_BODY]))
        filler = draw(_one([b"a", b"\xff", b"&"]))
        return kind, b"text=" + filler * (size - 5), draw(_one(CTYPES)), []
    # truncated: a well-formed form, JSON or XML body cut short
    which = draw(st.integers(0, 3))
    whole = [
        lambda: (urllib.parse.urlencode([*pairs, ("from", "+12025550123")]).encode(), FORM),
        lambda: (json.dumps({**dict(pairs), "from": "+12025550123"}).encode(), "application/json"),
        lambda: (b"<r><from>+12025550123</from><text>hello</text></r>", "text/xml"),
        lambda: ("text=caf\u00e9+%E2%98%BA&from=%2B12025550123".encode(), FORM),
    ][which]()
    cut = draw(st.integers(0, max(len(whole[0]) - 1, 0)))
    return "truncated", whole[0][:cut], whole[1], []


def _query(draw: Any, pairs_strategy: Any) -> tuple[bytes, list[tuple[str, str]] | None]:
    mode = draw(_one(["none", "none", "pairs", "pairs", "raw-text", "raw-bytes"]))
    if mode == "none":
        return b"", []
    if mode == "pairs":
        pairs = draw(pairs_strategy)
        return urllib.parse.urlencode(pairs).encode(), pairs
    if mode == "raw-text":
        return draw(st.text("abcfrom=&%+;2BF0Zx\u00e9 ", max_size=40)).encode("utf-8"), None
    return draw(st.binary(max_size=40)), None


HEADER_POOL = [
    (b"x-twilio-signature", st.one_of(st.just(b""), st.binary(max_size=40), st.just(b"AAAA" * 7))),
    (b"x-twilio-webhooks-signature-settings", st.sampled_from([b"algorithm=HMAC_SHA256", b"algorithm=", b",,=",
                                                               b"algorithm=hmac_sha1"])),
    (b"x-smsgate-secret", st.one_of(st.binary(max_size=30), st.just(HTTP_SECRET[:-1].encode()),
                                    st.just(HTTP_SECRET.upper().encode()))),
    (b"authorization", st.sampled_from([b"Basic", b"Basic !!!", b"Basic " + base64.b64encode(b"agg"),
                                        b"Basic " + base64.b64encode(b"\xff\xfe:\xff"), b"Bearer x", b"",
                                        b"Basic " + base64.b64encode(b"agg:wrong")])),
    (b"x-forwarded-proto", st.sampled_from([b"http", b"https, http", b"\xff"])),
    (b"x-forwarded-host", st.sampled_from([b"evil.example", b"", b"a:b:c"])),
    (b"host", st.sampled_from([b"gateway.example", b"", b"\xff\xfe", b"[::1]:99999"])),
    (b"content-encoding", st.sampled_from([b"gzip", b"br"])),
    (b"transfer-encoding", st.just(b"chunked")),
    (b"cookie", st.binary(max_size=30)),
]


@st.composite
def requests(draw: Any, profile: Profile, action: str) -> Spec:
    """A hostile request to `/c/<channel>/<action>` of `profile`'s channel (mostly well aimed, often malformed)."""
    route = profile.routes()[action]
    method = draw(_one(route.methods)) if draw(DIGIT) < 7 else draw(_one(
        [*ALL_METHODS, "PROPFIND", "TRACE", "post", "BREW"]))
    exact = f"/c/{CHANNEL}/{action}"
    path = exact if draw(DIGIT) < 7 else draw(_one(
        [exact + "/", exact + "/extra", f"/c/{CHANNEL}/%2e%2e/{action}", f"/c/{CHANNEL.upper()}/{action}",
         f"/c/%63%68/{action}"]))
    fields = pairs_for(profile, action)
    query, query_pairs = _query(draw, fields)
    kind, body, ctype, pairs = draw(_body(fields, bool(profile.settings.get("from_xpath"))))
    headers: list[tuple[bytes, bytes]] = []
    if ctype or draw(BOOL):
        headers.append((b"content-type", ctype.encode("latin-1")))
    length_mode = draw(_one(["exact"] * 6 + ["absent"] * 3 + ["junk", "short", "long"]))
    declared = {"exact": str(len(body)), "absent": None, "junk": draw(_one(["abc", "-1", "1e3", " 5", ""])),
                "short": str(max(len(body) - 1, 0)), "long": str(len(body) + 10)}[length_mode]
    if declared is not None:
        headers.append((b"content-length", declared.encode()))
    for name, values in draw(st.lists(_one(HEADER_POOL), max_size=3)):
        headers.append((name, draw(values)))
    if draw(DIGIT) == 0:
        headers.append((draw(st.from_regex(rb"\A[a-z0-9\-]{1,20}\Z")), draw(st.binary(max_size=40))))
    spec = Spec(method, path.encode(), query, headers, [], kind, ctype, pairs, query_pairs, declared_length=declared)
    if profile.twilio_token:
        _sign(draw, spec, profile.twilio_token)
    if profile.secret_header or profile.basic_auth:
        _authenticate(draw, spec, profile)
    cuts = sorted(draw(st.lists(st.integers(0, len(body)), max_size=2)))
    spec.chunks = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
    _finish_signature(spec)
    return spec


VALID_FIELDS: dict[tuple[str, str], list[tuple[str, str]]] = {
    ("http", "receive"): [("from", "+12025550123"), ("text", "hello")],
    ("http", "sent"): [("id", KNOWN_ID)],
    ("http", "delivered"): [("uuid", KNOWN_ID)],
    ("http", "failed"): [("id", KNOWN_ID)],
    ("http", "stopped"): [("from", "+12025550123")],
    ("twilio", "receive"): [("MessageSid", "SMvalid0001"), ("AccountSid", TWILIO_SID), ("From", "+12025550123"),
                            ("To", "+12025550100"), ("Body", "hello"), ("NumMedia", "0")],
    ("twilio", "status"): [("MessageSid", KNOWN_SID), ("MessageStatus", "delivered")],
    ("kannel", "receive"): [("sender", "+250788383383"), ("id", "mo-1"), ("ts", "1700000000"), ("message", "hi")],
    ("kannel", "status"): [("id", KNOWN_ID), ("status", "8")],
    ("vonage", "receive"): [("msisdn", "+12025550123"), ("to", "2020"), ("text", "hi"), ("messageId", "0A01")],
    ("vonage", "status"): [("messageId", "0A01"), ("status", "delivered")],
    ("africastalking", "receive"): [("id", "ATXid_mo1"), ("from", "+254791541111"), ("text", "hi")],
    ("africastalking", "callback"): [("id", "ATXid_mo2"), ("from", "+254791541111"), ("text", "hi")],
    ("africastalking", "status"): [("id", "ATXid_1"), ("status", "Success")],
    ("africastalking", "delivery"): [("id", "ATXid_1"), ("status", "Sent")],
    ("africastalking", "optout"): [("senderId", "2020"), ("phoneNumber", "+254791541111")],
}


def valid_example(profile: Profile, action: str) -> Spec | None:
    """A request `action` must accept (form POST, XML for an XML channel, with credentials), if we know one."""
    pairs = VALID_FIELDS.get((profile.adapter, action))
    if pairs is None:
        return None
    if profile.settings.get("from_xpath"):
        body = b"<r><from>+12025550123</from><text>hello</text></r>"
        kind, ctype = "xml", "text/xml"
    else:
        body, kind, ctype = urllib.parse.urlencode(pairs).encode(), "form", FORM
    headers = [(b"content-type", ctype.encode())]
    spec = Spec("POST", f"/c/{CHANNEL}/{action}".encode(), b"", headers, [body], kind, ctype, pairs, [])
    if profile.secret_header:
        spec.headers.append((profile.secret_header[0].encode(), profile.secret_header[1].encode()))
        spec.auth_ok = True
    if profile.twilio_token:
        spec.headers.append((b"x-twilio-signature", _TO_SIGN))
        spec.sign_how, spec.sign_token, spec.signed = "valid", profile.twilio_token, True
        _finish_signature(spec)
    return spec


def _server_form(spec: Spec, body: bytes) -> list[tuple[str, str]]:
    """The form fields the gateway will see (what a Twilio signature covers), as far as we can tell."""
    ctype = spec.content_type.split(";")[0].strip().lower()
    if ctype == FORM and body:
        try:
            return urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict")
        except UnicodeDecodeError:
            return []
    if ctype == "multipart/form-data" and body:
        return _multipart_fields(spec.content_type, body)
    return []


def _multipart_fields(content_type: str, body: bytes) -> list[tuple[str, str]]:
    """The fields starlette's parser (which the gateway uses) reads from a multipart body; [] if it refuses it."""

    async def parse() -> list[tuple[str, str]]:
        async def stream() -> Any:
            yield body

        headers = Headers({"content-type": content_type})
        data = await MultiPartParser(headers, stream(), max_files=20, max_fields=1000).parse()
        return [(k, v) for k, v in data.multi_items() if isinstance(v, str)]

    try:
        return asyncio.run(parse())
    except Exception:  # the gateway answers 400 to what starlette refuses
        return []


_TO_SIGN = b"<signature: computed once the body is final>"


def _sign(draw: Any, spec: Spec, token: str) -> None:
    """Add an X-Twilio-Signature: valid (form or bodySHA256 variant), missing, forged or made with another token."""
    from smsgate_twilio import compute_signature

    how = draw(_one(["valid", "valid", "valid", "json-variant", "none", "forged", "other-token"]))
    spec.sign_how, spec.sign_token = how, token
    if how == "none":
        return
    if how == "json-variant":
        spec.query = (spec.query + b"&" if spec.query else b"") + b"bodySHA256=" + _TO_SIGN
    if how == "forged":
        value = base64.b64encode(hashlib.sha1(draw(st.binary(max_size=20))).digest())
    elif how == "other-token":
        url = PUBLIC_URL + spec.raw_path.decode("latin-1") + ("?" + spec.query.decode("latin-1") if spec.query else "")
        value = compute_signature("not-the-token", url, _server_form(spec, spec.body)).encode()
    else:
        value = _TO_SIGN
    spec.headers.append((b"x-twilio-signature", value))
    spec.signed = how in ("valid", "json-variant")


def _finish_signature(spec: Spec) -> None:
    """Compute a valid signature over the final URL and body (the chunks are only drawn after `_sign`)."""
    from smsgate_twilio import compute_signature

    if spec.sign_how not in ("valid", "json-variant") or spec.sign_token is None:
        return
    body = spec.body
    spec.query = spec.query.replace(_TO_SIGN, hashlib.sha256(body).hexdigest().encode())
    url = PUBLIC_URL + spec.raw_path.decode("latin-1") + ("?" + spec.query.decode("latin-1") if spec.query else "")
    form_body = spec.content_type.split(";")[0].strip().lower() == FORM
    params = _server_form(spec, body) if spec.sign_how == "valid" or form_body else []
    value = compute_signature(spec.sign_token, url, params).encode()
    spec.headers = [(k, value if v == _TO_SIGN else v) for k, v in spec.headers]


def _authenticate(draw: Any, spec: Spec, profile: Profile) -> None:
    how = draw(_one(["none", "secret", "secret", "secret-wrong", "basic", "basic-wrong", "both-wrong"]))
    if profile.secret_header and how in ("secret", "secret-wrong", "both-wrong"):
        name, value = profile.secret_header
        given = value if how == "secret" else draw(_one([value[:-1], value + "x", value.upper(), ""]))
        spec.headers.append((name.encode(), given.encode()))
    if profile.basic_auth and how in ("basic", "basic-wrong", "both-wrong"):
        user, password = profile.basic_auth
        given = password if how == "basic" else draw(_one([password[:-1], "", password + "x"]))
        spec.headers.append((b"authorization", b"Basic " + base64.b64encode(f"{user}:{given}".encode())))
    spec.auth_ok = how in ("secret", "basic")


# -- driving the app and checking the answer ---------------------------------------------------------------------


@dataclass
class Outcome:
    """What one request got: its status (0 if the app raised), and a problem or a known bug, if any."""

    status: int
    problem: str | None = None
    known: str | None = None

    @property
    def status_class(self) -> str:
        """2xx, 4xx, 5xx or 'raised'."""
        return "raised" if self.status == 0 else f"{self.status // 100}xx"


# Bugs the fuzzer found are fixed; an entry here (name → description) would tolerate one while it is open.
KNOWN_BUGS: dict[str, str] = {}


def _known_bug(exc: BaseException) -> str | None:
    """The KNOWN_BUGS entry an exception belongs to (none are open)."""
    del exc
    return None


async def _call(app: Any, spec: Spec) -> tuple[int, dict[str, str], bytes]:
    path = urllib.parse.unquote(spec.raw_path.decode("latin-1"), errors="replace")
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": spec.method,
             "scheme": "https", "path": path, "raw_path": spec.raw_path, "query_string": spec.query, "root_path": "",
             "headers": spec.headers, "client": ("127.0.0.1", 40000), "server": ("gateway.example", 443)}
    pending = [{"type": "http.request", "body": c, "more_body": i < len(spec.chunks) - 1}
               for i, c in enumerate(spec.chunks)] or [{"type": "http.request", "body": b"", "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in start.get("headers", [])}
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], headers, body


_COUNTS = ("SELECT (SELECT count(*) FROM messages), (SELECT count(*) FROM status_history),"
           " (SELECT count(*) FROM opt_outs), (SELECT count(*) FROM outbox), (SELECT count(*) FROM external_ids),"
           " (SELECT group_concat(id || ':' || status, ',') FROM messages WHERE direction = 'out')")


def fingerprint(harness: Harness) -> tuple[Any, ...]:
    """Row counts of messages, status history, opt-outs, outbox and external ids, plus every outgoing status."""
    return tuple(harness.store.call_sync(lambda conn: conn.execute(_COUNTS).fetchone()))


def reason(headers: dict[str, str], body: bytes) -> str | None:
    """The reason a 4xx gives, or None when it gives none."""
    text = body.decode("utf-8", "replace").strip()
    if not text:
        return None
    if "json" in headers.get("content-type", ""):
        try:
            data = json.loads(text)
        except ValueError:
            return None
        if isinstance(data, dict) and isinstance(data.get("data"), list) and data["data"]:
            error = data["data"][0].get("error") if isinstance(data["data"][0], dict) else None
            return error if isinstance(error, str) and error.strip() else None
        if isinstance(data, dict) and isinstance(data.get("error"), str) and data["error"].strip():
            return data["error"]
        if isinstance(data, dict) and isinstance(data.get("code"), int) and isinstance(data.get("message"), str):
            return data["message"].strip() or None  # Twilio's error JSON (the Twilio front)
        return None
    return text


_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_NUMBER = re.compile(r"^(\+[1-9]\d{6,14}|[1-9]\d{2,5}|[0-9a-z]{3,64})$")


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _query_fields(spec: Spec) -> list[tuple[str, str]]:
    return urllib.parse.parse_qsl(spec.query.decode("latin-1"), keep_blank_values=True)


def _candidates(spec: Spec) -> set[str] | None:
    """Every value the stored text may come from, or None when the body is not one we can read back."""
    values = {v for _, v in _query_fields(spec)} | {""}
    body = spec.body
    ctype = spec.content_type.split(";")[0].strip().lower()
    if spec.kind == "empty" or not body:
        return values
    if spec.kind == "form" and ctype == FORM:
        return values | {v for _, v in _server_form(spec, body)}
    if spec.kind == "json" and "charset" not in spec.content_type:
        try:
            data = json.loads(body.decode("utf-8"))
        except ValueError:
            return None
        if isinstance(data, dict):
            return values | {v if isinstance(v, str) else str(v) for v in data.values()
                             if isinstance(v, str | int | float) and not isinstance(v, bool)}
        return values
    return None


def _check_2xx(harness: Harness, profile: Profile, action: str, spec: Spec, before: tuple[Any, ...],
               after: tuple[Any, ...], headers: dict[str, str], body: bytes) -> str | None:
    route = profile.routes()[action]
    if spec.method not in route.methods and not (spec.method == "HEAD" and "GET" in route.methods):
        return f"2xx for method {spec.method}, the route takes {route.methods}"
    if spec.method == "HEAD":  # a HEAD only asks whether the route exists
        return None if after == before else f"HEAD changed the store: {before} -> {after}"
    if profile.twilio_token and not spec.signed:
        return "2xx without a valid X-Twilio-Signature"
    if (profile.secret_header or profile.basic_auth) and not spec.auth_ok:
        return "2xx without the inbound secret or basic auth"
    if len(spec.body) > MAX_BODY:
        return f"2xx for a {len(spec.body)}-byte body"
    messages = after[0] - before[0]
    statuses = after[1] - before[1]
    opt_outs = after[2] - before[2]
    envelope: dict[str, Any] = {}
    if "json" in headers.get("content-type", ""):
        try:
            envelope = json.loads(body)
        except ValueError:
            return f"2xx with an unreadable JSON body {body[:100]!r}"
    if envelope.get("message") == "Message Accepted":
        duplicate = any(d.get("duplicate") for d in envelope.get("data", []))
        if messages != (0 if duplicate else 1):
            return f"'Message Accepted' (duplicate={duplicate}) but {messages} new message rows"
    if profile.adapter == "http":
        if action == "receive":
            if messages != 1:
                return f"receive answered 2xx but stored {messages} messages"
            stored = harness.messages(direction="in", limit=1)[0]
            if not _NUMBER.match(stored.from_):
                return f"stored a sender that is not a normalised number: {stored.from_!r}"
            candidates = _candidates(spec)
            if candidates is not None and stored.text not in candidates:
                return f"stored text {stored.text!r} is none of the values sent"
        elif action in ("sent", "delivered", "failed"):
            fields = _query_fields(spec) + _server_form(spec, spec.body)
            ids = [v.strip() for k, v in fields if k in ("id", "uuid")]
            if not any(_UUID.match(v) for v in ids):
                return f"status accepted without a UUID id or uuid (sent {ids!r})"
            if statuses > 1:
                return f"one status report stored {statuses} history rows"
        elif action == "stopped" and opt_outs != 1:
            return f"stopped answered 2xx but stored {opt_outs} opt-outs"
    if profile.adapter == "kannel" and action == "status":
        fields = _query_fields(spec) + _server_form(spec, spec.body)
        ids = [v.strip() for k, v in fields if k in ("id", "uuid")]
        if not any(_is_uuid(v) for v in ids):
            return f"DLR accepted without a message UUID (sent {ids!r})"
    if profile.adapter in ("twilio", "kannel") and action == "receive":
        if messages not in (0, 1):
            return f"one webhook stored {messages} messages"
        if messages == 1:
            stored = harness.messages(direction="in", limit=1)[0]
            if not _NUMBER.match(stored.from_) or not stored.external_ids:
                return f"stored {stored.from_!r} / {stored.external_ids!r}: not a number with its MessageSid"
    return None


def check(harness: Harness, profile: Profile, action: str, spec: Spec) -> Outcome:
    """Send `spec` to the harness's app and check every property; the outcome names any problem."""
    before = fingerprint(harness)
    try:
        status, headers, body = harness.run(_call(harness.app, spec))
    except Exception as exc:
        known = _known_bug(exc)
        where = traceback.extract_tb(exc.__traceback__)[-1]
        return Outcome(0, f"the app raised {type(exc).__name__}: {str(exc)[:200]} at "
                          f"{where.filename}:{where.lineno}", known)
    after = fingerprint(harness)
    if status >= 500:
        return Outcome(status, f"answered {status}: {body[:300]!r}")
    if len(spec.body) > MAX_BODY and spec.method in ALL_METHODS:
        invalid_length = spec.declared_length is not None and not spec.declared_length.strip().lstrip("-").isdigit()
        if status != 413 and not (invalid_length and status == 400):
            return Outcome(status, f"a {len(spec.body)}-byte body answered {status}, not 413")
    if 400 <= status < 500:
        if reason(headers, body) is None:
            return Outcome(status, f"{status} without a reason: {body[:200]!r}")
        if after != before:
            return Outcome(status, f"{status} changed the store: {before} -> {after}")
        return Outcome(status)
    if 200 <= status < 300:
        return Outcome(status, _check_2xx(harness, profile, action, spec, before, after, headers, body))
    return Outcome(status, f"unexpected status {status}")


# -- the API and the bridge: JSON that Python reads but smsgate must refuse ----------------------------------------

API_TOKEN = "fuzz-api-token-4c1d"
BRIDGE_SECRET = "fuzz-bridge-secret-9e2b"
API_PATH = "/api/v1/messages"
BRIDGE_PATH = "/b/rp/send"
# what a careless client writes: Python's json reads all of these, strict JSON (and smsgate) does not
HOSTILE_JSON = ["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "9" * 400 + ".0", '"\\ud800"', '"a\\udfffb"',
                '"\\ud83d\\ude00"', "[" * 40 + "]" * 40, '{"a":' * 600 + "1" + "}" * 600, "1" + "0" * 4299,
                "1" + "0" * 4400, '"\\u0000"', "0.1", "-0", "true", "null", '"x"', "[]", "{}"]
# st.text() never yields lone surrogates: build strings from characters to get them
ANY_TEXT = st.lists(st.one_of(st.characters(), st.characters(categories=["Cs"])), max_size=12).map("".join)


def api_harness(make: Callable[..., Harness]) -> Harness:
    """An http channel `ch` with the API on, a RapidPro bridge `rp` on it and a webhook (events plan outbox rows)."""

    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="ok")

    return make({CHANNEL: {"adapter": "http", "country": "US", "address": "+12025550100",
                           "send_url": "http://aggregator.invalid/send"}},
                gateway={**GATEWAY, "api_token": API_TOKEN}, respond=respond,
                bridges={"rp": {"platform": "rapidpro", "channel": CHANNEL, "secret": BRIDGE_SECRET,
                                "receive_url": "https://rapidpro.example/c/ex/0b7a"}})


def _raw_json_value(draw: Any) -> str:
    """One JSON value as text: mostly ordinary, often hostile (non-finite, lone surrogates, deep, huge)."""
    kind = draw(_one(["hostile", "hostile", "text", "number", "object"]))
    if kind == "hostile":
        return str(draw(_one(HOSTILE_JSON)))
    if kind == "text":
        return json.dumps(draw(ANY_TEXT))  # escapes lone surrogates as \udXXX, as any JSON encoder would
    if kind == "number":
        return json.dumps(draw(st.floats(allow_nan=True, allow_infinity=True)), allow_nan=True)
    inner = ",".join(f"{json.dumps(draw(ANY_TEXT))}:{draw(_one(HOSTILE_JSON))}" for _ in range(draw(TWENTY) % 3))
    return "{" + inner + "}"


def _text_value(draw: Any) -> str:
    """A `text` value as JSON: mostly plain text (so requests also get past validation), often hostile."""
    which = draw(DIGIT)
    if which < 5:
        return json.dumps(draw(TEXT) or "hi")
    return json.dumps(draw(ANY_TEXT)) if which < 8 else _raw_json_value(draw)


VALID_API = Spec("POST", API_PATH.encode(), b"", [(b"content-type", b"application/json"),
                                                  (b"authorization", f"Bearer {API_TOKEN}".encode())],
                 [b'{"channel": "ch", "to": "+12025550123", "text": "hi", "metadata": {"n": 1.5}}'], "api-json",
                 "application/json", auth_ok=True)
VALID_BRIDGE = Spec("POST", BRIDGE_PATH.encode(), b"", [(b"content-type", b"application/json"),
                                                        (b"authorization", f"Bearer {BRIDGE_SECRET}".encode())],
                    [b'{"id": "42", "to": "+12025550123", "text": "hi"}'], "bridge-json", "application/json",
                    auth_ok=True)
"""Requests the API and the bridge must accept, whatever the generator reaches in a run."""


@st.composite
def api_requests(draw: Any) -> Spec:
    """A hostile `POST /api/v1/messages`: mostly authorised and well aimed, with hostile JSON in any field."""
    fields = {"channel": json.dumps(CHANNEL) if draw(DIGIT) < 8 else _raw_json_value(draw),
              "to": json.dumps(draw(_one(NUMBERS[:5]))) if draw(DIGIT) < 8 else _raw_json_value(draw),
              "text": _text_value(draw)}
    if draw(BOOL):
        fields["metadata"] = _raw_json_value(draw) if draw(BOOL) else "{\"k\":" + _raw_json_value(draw) + "}"
    if draw(DIGIT) < 3:
        fields["attachments"] = "[" + _raw_json_value(draw) + "]"
    if draw(DIGIT) < 2:
        fields["quick_replies"] = "[" + _raw_json_value(draw) + "]"
    if draw(DIGIT) < 3:
        fields["id"] = json.dumps(str(draw(st.uuids()))) if draw(BOOL) else _raw_json_value(draw)
    if draw(DIGIT) == 0:
        fields[draw(ANY_TEXT)] = _raw_json_value(draw)
    body = ("{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in fields.items()) + "}").encode("utf-8",
                                                                                             "surrogatepass")
    headers = [(b"content-type", b"application/json")]
    if draw(DIGIT) < 9:
        headers.append((b"authorization", f"Bearer {API_TOKEN}".encode()))
    method = "POST" if draw(DIGIT) < 9 else draw(_one(["PUT", "GET", "DELETE"]))
    return Spec(method, API_PATH.encode(), b"", headers, [body], "api-json", "application/json",
                auth_ok=any(k == b"authorization" for k, _ in headers))


@st.composite
def bridge_requests(draw: Any) -> Spec:
    """A hostile RapidPro `POST /b/rp/send`: JSON (hostile values) or a form, secret mostly right."""
    values = {"id": json.dumps(str(draw(st.integers(1, 10**9)))) if draw(DIGIT) < 7 else _raw_json_value(draw),
              "to": json.dumps(draw(_one(NUMBERS[:5]))) if draw(DIGIT) < 8 else _raw_json_value(draw),
              "text": _text_value(draw),
              "from": json.dumps("+5582999489287"), "channel": _raw_json_value(draw)}
    headers: list[tuple[bytes, bytes]] = []
    query = b""
    how = draw(_one(["bearer", "bearer", "query", "both", "both-wrong", "none", "wrong"]))
    if how in ("bearer", "both", "both-wrong"):
        headers.append((b"authorization", f"Bearer {BRIDGE_SECRET}".encode()))
    if how in ("query", "both"):
        query = b"secret=" + BRIDGE_SECRET.encode()
    if how == "both-wrong":  # one right credential and one wrong: refused
        query = b"secret=" + BRIDGE_SECRET[:-1].encode()
    if how == "wrong":
        headers.append((b"authorization", b"Bearer nope"))
    if draw(DIGIT) < 7:
        body = ("{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in values.items()) + "}").encode(
            "utf-8", "surrogatepass")
        headers.append((b"content-type", b"application/json"))
        kind, ctype = "bridge-json", "application/json"
    else:
        pairs = [(k, draw(ANY_TEXT)) for k in values]
        body = urllib.parse.urlencode(pairs, encoding="utf-8", errors="surrogatepass").encode()
        headers.append((b"content-type", FORM.encode()))
        kind, ctype = "bridge-form", FORM
    return Spec("POST", BRIDGE_PATH.encode(), query, headers, [body], kind, ctype,
                auth_ok=how in ("bearer", "query", "both"))


def _strict(body: bytes) -> Any:
    """`body` parsed as strict JSON (UTF-8, no NaN/Infinity), or an AssertionError saying why not."""

    def refuse(name: str) -> Any:
        raise AssertionError(f"{name} in a response")

    return json.loads(body.decode("utf-8"), parse_constant=refuse)


def check_platform(harness: Harness, spec: Spec) -> Outcome:
    """The API's or bridge's answer to `spec`: never 5xx; a 4xx says why and stores nothing; whatever it stores
    renders back as strict JSON (the message, the listing, and every planned webhook or bridge call)."""
    from smsgate.host import webhook_body

    before = fingerprint(harness)
    try:
        status, headers, body = harness.run(_call(harness.app, spec))
    except Exception as exc:
        where = traceback.extract_tb(exc.__traceback__)[-1]
        return Outcome(0, f"the app raised {type(exc).__name__}: {str(exc)[:200]} at {where.filename}:"
                          f"{where.lineno}")
    after = fingerprint(harness)
    if status >= 500:
        return Outcome(status, f"answered {status}: {body[:300]!r}")
    if 400 <= status < 500:
        if reason(headers, body) is None:
            return Outcome(status, f"{status} without a reason: {body[:200]!r}")
        if after != before:
            return Outcome(status, f"{status} changed the store: {before} -> {after}")
        return Outcome(status)
    if not spec.auth_ok:
        return Outcome(status, f"{status} without valid credentials")
    if spec.method != "POST":  # a read (GET of the listing): it must render, and store nothing
        try:
            _strict(body)
        except (AssertionError, ValueError, UnicodeError) as exc:
            return Outcome(status, f"a read that is not strict JSON: {exc}")
        return Outcome(status, None if after == before else f"a {spec.method} changed the store")
    try:
        answer = _strict(body)
        auth = [(b"authorization", f"Bearer {API_TOKEN}".encode())]
        for path in (f"{API_PATH}/{answer['id']}".encode(), API_PATH.encode()):
            got, _, shown = harness.run(_call(harness.app, Spec("GET", path, b"limit=1000", auth, [], "read")))
            if got != 200:
                return Outcome(status, f"stored, then GET {path!r} answered {got}: {shown[:200]!r}")
            _strict(shown)
        for item in harness.run(harness.store.outbox_items(limit=100_000)):
            webhook_body(item["payload"])
    except (AssertionError, ValueError, UnicodeError, KeyError) as exc:
        return Outcome(status, f"stored something that does not render as strict JSON: {exc}")
    return Outcome(status)


# -- the Twilio front: Twilio's Messages API, with hostile credentials, paths, forms and queries ------------------

FRONT_SID = "AC" + "7c" * 16
FRONT_TOKEN = "fuzz-front-auth-token-0a1b"
FRONT_BASE = f"/2010-04-01/Accounts/{FRONT_SID}"
FRONT_ADDRESS = "+12025550100"
QUEUED_ID = "0b5e2f7a-3c1d-4e8f-9a6b-7c8d9e0f1a2b"  # a message of the front harness still queued
FRONT_SIDS = ["SM" + KNOWN_ID.replace("-", ""), "SM" + QUEUED_ID.replace("-", ""), "MM" + KNOWN_ID.replace("-", ""),
              "SM" + KNOWN_ID.replace("-", "").upper(), "SM" + "0" * 32, "SM1", "", "%00", "SM" + "g" * 32,
              KNOWN_ID, FRONT_SID, "SM" + "a" * 33, "..", "SM%2F" + "0" * 30]
_ACCOUNTS = ["AC" + "0" * 32, "null", "AC1", FRONT_SID.lower(), "%41C", FRONT_SID + "x", ""]
_CREATE_FIELDS = {
    "To": st.one_of(st.sampled_from(NUMBERS), ANY_TEXT),
    "From": st.one_of(st.sampled_from([FRONT_ADDRESS, FRONT_ADDRESS, "+15005550006", "whatsapp:+1", ""]), ANY_TEXT),
    "MessagingServiceSid": st.sampled_from(["MG" + "1" * 32, "MG1", "", "MG" + "z" * 32]),
    "Body": st.one_of(TEXT, ANY_TEXT, st.sampled_from(["", "x" * 1600, "x" * 1601, "\u263a" * 900, "\x00"])),
    "MediaUrl": st.sampled_from(["https://media.example/a.jpg", "javascript:alert(1)", "", "http://", "x" * 5000,
                                 "https://m.example/#frag", "image/jpeg:https://m.example/b.jpg"]),
    "StatusCallback": st.sampled_from(["https://app.example/status", "not a url", "", "ftp://x", "http://" + "a" * 5000,
                                       "https://app.example/s?x=%ZZ", "https://app.example/\u263a"]),
    "ValidityPeriod": st.sampled_from([*NUMERALS, "36000", "36001", "", "1e3", "0x10"]),
    "ContentSid": st.sampled_from(["HX" + "0" * 32, ""]),
    "ScheduleType": st.sampled_from(["fixed", ""]),
    "Status": st.sampled_from(["canceled", "sent", "", "x"]),
    "SendAt": st.sampled_from(["2030-01-01T00:00:00Z", "x"]),
}
_LIST_FIELDS = {
    "To": st.one_of(st.sampled_from([*NUMBERS, FRONT_ADDRESS]), ANY_TEXT),
    "From": st.one_of(st.sampled_from([*NUMBERS, FRONT_ADDRESS]), ANY_TEXT),
    "DateSent": st.sampled_from([*DATES, "2026-12-06T00:00:00Z", "0001-01-01", "9999-12-31"]),
    "DateSent<": st.sampled_from([*DATES, "9999-12-31", "0001-01-01"]),
    "DateSent>": st.sampled_from([*DATES, "9999-12-31", "0001-01-01"]),
    "PageSize": st.sampled_from(["1", "2", "50", "1000", "1001", "0", "-1", "x", "9" * 30, "\u00b2", ""]),
    "Page": st.sampled_from(["0", "1", "-1", "x", "9" * 30, ""]),
    "PageToken": st.one_of(st.sampled_from(["PA", "PAx", "nope", "PA" + "A" * 40, "PAMHww", "",
                                            "PAMjAyNi0xMi0wNlQwMDowMDowMCswMDowMHww"]),
                           ANY_TEXT.map(lambda t: "PA" + t)),
}


_AIMED = {  # mostly what a create needs, valid seven times in ten
    "To": _mostly(st.sampled_from(["+12025550123", "2025550123", "+12025550199"]), _CREATE_FIELDS["To"]),
    "From": _mostly(st.just(FRONT_ADDRESS), _CREATE_FIELDS["From"]),
    "Body": _mostly(TEXT.filter(bool), _CREATE_FIELDS["Body"]),
}


def _front_pairs(draw: Any, fields: dict[str, Any], aimed: bool = False) -> list[tuple[str, str]]:
    """Parameters: with `aimed`, mostly a valid create's and now and then others; else any, each half the time."""
    if aimed:
        pairs = [(name, draw(values)) for name, values in _AIMED.items() if draw(TWENTY) < 19]
        pairs += [(name, draw(fields[name])) for name in fields if draw(TWENTY) < 2]
    else:
        pairs = [(name, draw(values)) for name, values in fields.items() if draw(DIGIT) < 5]
    if draw(DIGIT) < 3:  # a repeated field (MediaUrl is one), or one Twilio does not know
        name = draw(_one([*fields, "MaxPrice", "x", "mediaurl"]))
        pairs += [(name, draw(fields.get(name, VALUES))) for _ in range(draw(_one([1, 2, 11])))]
    return pairs


def twilio_front_harness(make: Callable[..., Harness]) -> Harness:
    """An http channel `ch` with `[twilio_api]` (an incoming webhook too) and a webhook, and two messages: one
    delivered (`KNOWN_ID`), one still queued (`QUEUED_ID`)."""

    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="ok")

    harness = make({CHANNEL: {"adapter": "http", "country": "US", "address": FRONT_ADDRESS,
                              "send_url": "http://aggregator.invalid/send"}},
                   gateway=GATEWAY, respond=respond,
                   twilio_api={"account_sid": FRONT_SID, "auth_token": FRONT_TOKEN,
                               "incoming_url": "https://app.example/sms"})
    harness.send(CHANNEL, "+12025550123", "seed", id=KNOWN_ID)
    harness.request("POST", f"/c/{CHANNEL}/delivered", data={"id": KNOWN_ID})
    queued = harness.run(harness.gateway.prepare(CHANNEL, "+12025550123", "waiting", id=QUEUED_ID))
    harness.run(harness.gateway.enqueue(queued))
    return harness


@st.composite
def twilio_front_requests(draw: Any) -> Spec:
    """A hostile request to the Twilio front: mostly authenticated and aimed at the Messages resource, with
    hostile forms (lone surrogates, huge or repeated fields) and list queries."""
    account = FRONT_SID if draw(DIGIT) < 9 else draw(_one(_ACCOUNTS))
    base = f"/2010-04-01/Accounts/{account}"
    target = draw(_one(["list", "list", "list", "one", "one", "one", "other"]))
    if target == "list":
        path = f"{base}/Messages.json"
    elif target == "one":
        path = f"{base}/Messages/{draw(_one(FRONT_SIDS))}.json"
    else:
        path = draw(_one([f"{base}.json", f"{base}/Messages", f"{base}/Messages.xml", f"{base}/Calls.json",
                          f"{base}/Messages/{FRONT_SIDS[0]}/Media.json", "/2010-04-01/Accounts", "/2010-04-01/",
                          f"{base}/Messages.json/", f"{base}//Messages.json", "/2010-04-01/%2e%2e/api/v1/messages"]))
    method = draw(_one(["POST", "GET", "DELETE"] if target == "one" else ["POST", "GET"])) if draw(DIGIT) < 8 \
        else draw(_one(["PUT", "PATCH", "HEAD", "OPTIONS", "BREW", "DELETE"]))
    how = "ok" if draw(DIGIT) < 8 else draw(_one(["wrong-token", "other-user", "garbage", "none", "bearer",
                                                   "no-colon"]))
    credentials = {"ok": f"{FRONT_SID}:{FRONT_TOKEN}", "wrong-token": f"{FRONT_SID}:{FRONT_TOKEN[:-1]}",
                   "other-user": f"{'AC' + '0' * 32}:{FRONT_TOKEN}", "no-colon": FRONT_SID}
    headers: list[tuple[bytes, bytes]] = []
    if how in credentials:
        headers.append((b"authorization", b"Basic " + base64.b64encode(credentials[how].encode())))
    elif how == "garbage":
        headers.append((b"authorization", draw(_one([b"Basic !!!", b"Basic", b"Basic " + base64.b64encode(b"\xff:\xfe"),
                                                     b"Basic " + b"A" * 5000]))))
    elif how == "bearer":
        headers.append((b"authorization", f"Bearer {FRONT_TOKEN}".encode()))
    query = b""
    if method in ("GET", "HEAD") or draw(DIGIT) == 0:
        pairs = _front_pairs(draw, _LIST_FIELDS)
        query = urllib.parse.urlencode(pairs, errors="surrogatepass").encode()
        if draw(DIGIT) == 0:
            query = draw(st.binary(max_size=40))
    body, ctype, kind = b"", "", "empty"
    if method not in ("GET", "HEAD") or draw(DIGIT) == 0:
        pairs = _front_pairs(draw, _CREATE_FIELDS, aimed=target == "list" and method == "POST")
        if target == "one" and draw(BOOL):  # a redaction, well formed or not
            pairs = [("Body", ""), *pairs[: draw(st.integers(0, 1))]]
        kind = draw(_one(["form", "form", "form", "form", "json", "binary", "huge", "empty"]))
        if kind == "form":
            body = urllib.parse.urlencode(pairs, encoding="utf-8", errors="surrogatepass").encode()
            ctype = draw(_one([FORM, FORM, FORM + "; charset=utf-8", "multipart/form-data", ""]))
        elif kind == "json":
            body = json.dumps(dict(pairs)).encode()
            ctype = "application/json"
        elif kind == "binary":
            body, ctype = draw(st.binary(max_size=300)), draw(_one([FORM, "text/plain"]))
        elif kind == "huge":
            body, ctype = b"Body=" + b"a" * (MAX_BODY + 1), FORM
    if ctype:
        headers.append((b"content-type", ctype.encode()))
    if draw(DIGIT) < 8:
        headers.append((b"content-length", str(len(body)).encode()))
    return Spec(method, path.encode(), query, headers, [body], kind, ctype, auth_ok=how == "ok")


VALID_FRONT = Spec("POST", f"{FRONT_BASE}/Messages.json".encode(), b"",
                   [(b"authorization", b"Basic " + base64.b64encode(f"{FRONT_SID}:{FRONT_TOKEN}".encode())),
                    (b"content-type", FORM.encode())],
                   [urllib.parse.urlencode({"To": "+12025550123", "From": FRONT_ADDRESS, "Body": "hi"}).encode()],
                   "form", FORM, auth_ok=True)
"""A create the front must accept, whatever the generator reaches in a run."""

_FRONT_PATHS = [(re.compile(r"^/2010-04-01/Accounts/[^/]+/Messages\.json$"),
                 "/2010-04-01/Accounts/{AccountSid}/Messages.json"),
                (re.compile(r"^/2010-04-01/Accounts/[^/]+/Messages/[^/]+\.json$"),
                 "/2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json")]


def check_twilio(harness: Harness, spec: Spec) -> Outcome:
    """The front's answer to `spec`: never a 5xx; every refusal is Twilio's error JSON (an integer code, a
    message, the HTTP status) and changes nothing; a 401 exactly when the credentials are wrong; a success only
    with them, as Twilio's contract describes it, and storing (201), deleting (204) or changing nothing (GET)."""
    from tests.support import twilio_contract

    before = fingerprint(harness)
    try:
        status, _headers, body = harness.run(_call(harness.app, spec))
    except Exception as exc:
        where = traceback.extract_tb(exc.__traceback__)[-1]
        return Outcome(0, f"the app raised {type(exc).__name__}: {str(exc)[:200]} at {where.filename}:"
                          f"{where.lineno}")
    after = fingerprint(harness)
    if status >= 500:
        return Outcome(status, f"answered {status}: {body[:300]!r}")
    path = urllib.parse.unquote(spec.raw_path.decode("latin-1"), errors="replace")
    contract = next((name for pattern, name in _FRONT_PATHS if pattern.match(path)), None)
    if status == 401 and spec.auth_ok:
        return Outcome(status, "401 with the right credentials")
    if 400 <= status < 500:
        try:
            error = _strict(body)
        except (AssertionError, ValueError, UnicodeError) as exc:
            return Outcome(status, f"{status} whose body is not JSON: {exc}")
        if not (isinstance(error, dict) and isinstance(error.get("code"), int) and error.get("status") == status
                and isinstance(error.get("message"), str) and error["message"].strip()
                and str(error.get("more_info", "")).startswith("https://www.twilio.com/docs/errors/")):
            return Outcome(status, f"{status} not in Twilio's error shape: {body[:200]!r}")
        if after != before:
            return Outcome(status, f"{status} changed the store: {before} -> {after}")
        return Outcome(status)
    if not spec.auth_ok:
        return Outcome(status, f"{status} without valid credentials")
    if contract is None:
        return Outcome(status, f"{status} for a path that is no resource")
    if status == 204:
        if spec.method != "DELETE" or body:
            return Outcome(status, f"204 for {spec.method} with {len(body)} bytes")
        return Outcome(status, None if after[0] == before[0] - 1 else f"a 204 DELETE left {after[0]} messages")
    try:
        answer = _strict(body) if spec.method != "HEAD" else None
    except (AssertionError, ValueError, UnicodeError) as exc:
        return Outcome(status, f"{status} whose body is not strict JSON: {exc}")
    if answer is not None:
        operation = "GET" if spec.method == "GET" else spec.method
        found = twilio_contract.problems(answer, twilio_contract.schema_for(operation, contract, status))
        if found:
            return Outcome(status, "not Twilio's contract: " + "; ".join(found[:5]))
    if status == 201:
        if after[0] != before[0] + 1:
            return Outcome(status, f"a 201 stored {after[0] - before[0]} messages")
        sent: dict[str, str] = {}
        for key, value in urllib.parse.parse_qsl(spec.body.decode("utf-8", "replace"), keep_blank_values=True):
            sent.setdefault(key, value)  # the front reads a field's first value, as Twilio does
        if answer is not None and answer.get("body") != sent.get("Body", ""):
            return Outcome(status, f"stored body {answer.get('body')!r}, sent {sent.get('Body')!r}")
        return Outcome(status)
    if spec.method in ("GET", "HEAD") and after != before:
        return Outcome(status, f"a {spec.method} changed the store")
    return Outcome(status)
