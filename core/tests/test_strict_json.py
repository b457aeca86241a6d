"""What the API accepts it can store and render back as strict JSON; what it cannot, it refuses before storing.

Python's json reads NaN, Infinity, 1e999 and lone surrogates, and deep nesting overflows later code. Before
these checks such a message was stored, answered 500, sent anyway (so a retry without an id sent it twice),
and then broke every listing that included it and every webhook about it.
"""

from __future__ import annotations

import json
import math

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from smsgate.host import open_outbox

from tests.support.rawsql import sql
from tests.support.toy_adapter import Toy

TOKEN = "api-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
HOOK = "https://hooks.example/in"


def strict(text: str | bytes):
    """Parse as strict JSON or fail the test: no NaN/Infinity, valid UTF-8 (so no lone surrogates)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")  # strict: a lone surrogate cannot be encoded, so never arrives here

    def refuse(name):
        raise AssertionError(f"{name} in {text[:200]!r}")

    def finite(value):
        number = float(value)
        assert math.isfinite(number), value
        return number

    return json.loads(text, parse_constant=refuse, parse_float=finite)


@pytest.fixture
def h(smsgate_harness):
    hooks = []

    def respond(request):
        if request.url.host == "hooks.example":
            hooks.append(request.content)
            return httpx.Response(204)
        return httpx.Response(200, text="ext-1")

    harness = smsgate_harness({"t": {"adapter": "toy", "country": "RW", "max_retry_wait": 0}},
                              gateway={"api_token": TOKEN, "webhooks": [{"url": HOOK, "secret": "hook-secret-1"}]},
                              adapters=[Toy], respond=respond)
    harness.hooks = hooks
    return harness


def raw_post(h, body: bytes):
    return h.request("POST", "/api/v1/messages", content=body, headers=AUTH)


BASE = '{"channel": "t", "to": "+250788383383", "text": %s, "metadata": %s, "attachments": %s}'
HOSTILE = {
    "NaN in metadata": BASE % ('"hi"', '{"a": NaN}', "[]"),
    "Infinity in metadata": BASE % ('"hi"', '{"a": Infinity}', "[]"),
    "-Infinity in metadata": BASE % ('"hi"', '{"a": [-Infinity]}', "[]"),
    "1e999 in metadata": BASE % ('"hi"', '{"a": 1e999}', "[]"),
    "a long digit run in metadata": BASE % ('"hi"', '{"a": ' + "9" * 400 + ".5}", "[]"),
    "metadata 500 deep": BASE % ('"hi"', '{"a": ' + "[" * 500 + "]" * 500 + "}", "[]"),
    "lone surrogate in text": BASE % ('"hi \\ud800"', "{}", "[]"),
    "lone low surrogate in text": BASE % ('"\\udc00 hi"', "{}", "[]"),
    "lone surrogate in metadata": BASE % ('"hi"', '{"a": "\\ud800"}', "[]"),
    "lone surrogate in a metadata key": BASE % ('"hi"', '{"\\udfff": 1}', "[]"),
    "lone surrogate in attachments": BASE % ('"hi"', "{}", '["image/png:https://x.example/\\ud800.png"]'),
    "metadata over 64 KiB": BASE % ('"hi"', '{"a": "' + "x" * 70_000 + '"}', "[]"),
}


@pytest.mark.parametrize("body", HOSTILE.values(), ids=list(HOSTILE))
def test_hostile_bodies_are_refused_and_nothing_is_stored_or_sent(h, body):
    response = raw_post(h, body.encode())
    assert response.status_code in (400, 422), response.text
    assert strict(response.content)["error"]
    assert h.messages() == [] and h.requests == []


def test_a_valid_surrogate_pair_is_a_character_and_accepted(h):
    response = raw_post(h, (BASE % ('"smile \\ud83d\\ude00"', '{"k": "\\ud83d\\ude00", "n": 1.5e300}', "[]")).encode())
    assert response.status_code == 202, response.text
    assert strict(response.content)["text"] == "smile \U0001f600"


OLD_ROWS = {  # as versions before the check wrote them
    "metadata": ('{"nan": NaN, "inf": Infinity, "big": 1e999, "s": "\\ud800x", "deep": ' + "[" * 600 + "]" * 600
                 + "}"),
    "attachments": '["https://x.example/\\udc00.png"]',
    "quick_replies": '["\\ud800"]',
}


def test_rows_stored_before_the_check_still_render_as_strict_json_everywhere(h):
    message_id = strict(raw_post(h, b'{"channel": "t", "to": "+250788383383", "text": "old"}').content)["id"]
    sql(h, "UPDATE messages SET metadata = ?, attachments = ?, quick_replies = ? WHERE id = ?",
        OLD_ROWS["metadata"], OLD_ROWS["attachments"], OLD_ROWS["quick_replies"], message_id)
    detail = h.request("GET", f"/api/v1/messages/{message_id}", headers=AUTH)
    listing = h.request("GET", "/api/v1/messages", headers=AUTH)
    assert detail.status_code == listing.status_code == 200
    shown = strict(detail.content)
    assert shown["metadata"]["nan"] is None and shown["metadata"]["big"] is None
    assert shown["metadata"]["s"] == "\ufffdx" and shown["attachments"] == ["https://x.example/\ufffd.png"]
    assert strict(listing.content)["messages"][0]["id"] == message_id
    # the webhook about its next status carries the same, strict
    h.request("POST", "/c/t/status", data={"id": message_id, "status": "failed"})
    h.run(open_outbox(h.gateway).drain())
    assert h.hooks and all(strict(body) for body in h.hooks)
    assert strict(h.hooks[-1])["data"]["metadata"]["inf"] is None


# st.text() drops lone surrogates (category Cs) whatever its alphabet: build strings from characters instead
ANY_CHAR = st.one_of(st.characters(), st.characters(categories=["Cs"]))


def any_text(max_size):
    """Strings that may hold lone surrogates (what `json.loads` makes of "\\ud800")."""
    return st.lists(ANY_CHAR, max_size=max_size).map("".join)


JSON_LEAVES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    any_text(8),
)
JSON_VALUES = st.recursive(JSON_LEAVES, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(any_text(5), inner, max_size=3)),
    max_leaves=12)


SEEN: set[int] = set()


def _encode(value) -> bytes:
    """JSON as a careless client writes it: NaN/Infinity kept, surrogates escaped."""
    return json.dumps(value, allow_nan=True).encode()


@settings(max_examples=120, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(text=any_text(12), metadata=st.dictionaries(
    st.text(max_size=6), JSON_VALUES, max_size=3), nest=st.integers(0, 40))
def test_whatever_the_api_accepts_renders_back_as_strict_json(h, text, metadata, nest):
    for _ in range(nest):
        metadata = {"n": metadata}
    body = b'{"channel": "t", "to": "+250788383383", "text": ' + _encode(text) + b', "metadata": ' + \
        _encode(metadata) + b"}"
    response = raw_post(h, body)
    assert response.status_code < 500, response.text
    SEEN.add(response.status_code)
    if response.status_code != 202:
        assert strict(response.content)["error"]
        return
    message_id = strict(response.content)["id"]
    for path in (f"/api/v1/messages/{message_id}", "/api/v1/messages?limit=1000"):
        answer = h.request("GET", path, headers=AUTH)
        assert answer.status_code == 200 and strict(answer.content)
    h.request("POST", "/c/t/status", data={"id": message_id, "status": "delivered"})
    h.run(open_outbox(h.gateway).drain())
    assert all(strict(body) for body in h.hooks)


def test_the_property_saw_both_outcomes():
    """Runs after the property: it must have met bodies the API accepts and bodies it refuses."""
    assert 202 in SEEN and SEEN & {400, 422}, SEEN
