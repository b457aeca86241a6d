"""`MessageBird-Signature-JWT` checked as MessageBird documents it, on the catalogue's vector (built by hand and
decoded with PyJWT) with an injected clock, and on tokens PyJWT signs here."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import jwt
import pytest
from smsgate import InboundRequest, RequestRejected
from smsgate_messagebird import check_request, verify

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mb_signing import KEY, sha256, token

VECTOR = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJNZXNzYWdlQmlyZCIsIm5iZiI6MTY5MDMwNjMwNSwiZXhwIjoxNjkwMzA2Mz"
          "Y1LCJqdGkiOiJlOTJjZjA3OS0zNjJkLTQ4MTMtYWI0MC1iYmRkOTM4YmRjNmQiLCJ1cmxfaGFzaCI6IjdmMDBkOWE1MTJjMGZiNWVjMzVlMjd"
          "hYzExMGQ0NzhiODE0ZTY3ZDIwYjkwM2U3ZTExNjJiY2JmMDE1NDRlOGEiLCJwYXlsb2FkX2hhc2giOiI1NTU4NDkwZDM3MWQ0YWY3MTFiNmN"
          "mYWQ1OGU5ZDBiZTNlM2QyOGU4YzQwMWIxMmFhMjgyOWRjNDU4ZTk1MGVmIn0.ahfXkzotEXWsuifgPRfHhanatWZSjjnb2I7yXeTauCQ")
VECTOR_KEY = "my_super_secret"
VECTOR_URL = "https://gw.example.com/c/mbd/8eb23e93-5ecb-45ba-b726-3b064e0c56ab/receive"
VECTOR_BODY = (b"originator=18885551515&recipient=18005551212&id=abc123&body=Hello"
               b"&createdDatetime=2023-07-27T00%3A49%3A29%2B00%3A00")
NBF, EXP = 1690306305, 1690306365
URL = "https://gateway.example/c/mb/status?id=abc&status=sent"


def test_the_known_hashes() -> None:
    assert sha256("https://example.com/").startswith("0f115db0") and sha256("https://example.com/").endswith("83e9d7")
    assert sha256(b"Hello, World!").startswith("dffd6021") and sha256(b"Hello, World!").endswith("2182986f")


@pytest.mark.parametrize(("now", "why"), [
    (NBF, None), (EXP, None), (NBF - 1, None), (EXP + 1, None),  # one second of skew either way
    (NBF - 2, "claim nbf is in the future"), (EXP + 2, "claim exp is in the past"),
])
def test_the_vector_against_the_clock(now: float, why: str | None) -> None:
    assert verify(VECTOR, VECTOR_KEY, VECTOR_URL, VECTOR_BODY, now) == why


@pytest.mark.parametrize(("key", "url", "body", "why"), [
    ("bad_secret", VECTOR_URL, VECTOR_BODY, "Signature verification failed"),
    (VECTOR_KEY, VECTOR_URL + "?foo=1", VECTOR_BODY, "claim url_hash does not match"),
    (VECTOR_KEY, VECTOR_URL.replace("gw.", "other."), VECTOR_BODY, "claim url_hash does not match"),
    (VECTOR_KEY, VECTOR_URL, VECTOR_BODY + b"bad", "claim payload_hash does not match the body"),
    (VECTOR_KEY, VECTOR_URL, b"", "claim payload_hash is set but the body is missing"),
])
def test_the_vector_against_another_request(key: str, url: str, body: bytes, why: str) -> None:
    assert (verify(VECTOR, key, url, body, NBF + 10) or "").startswith(why)


@pytest.mark.parametrize("algorithm", ["HS256", "HS384", "HS512"])
def test_hmac_algorithms(algorithm: str) -> None:
    assert verify(token(URL, algorithm=algorithm), KEY, URL, b"", time.time()) is None


@pytest.mark.parametrize(("claims", "why"), [
    ({"iss": "Someone"}, "Invalid issuer"),
    ({"iss": None}, 'Token is missing the "iss" claim'),
    ({"jti": None}, 'Token is missing the "jti" claim'),
    ({"jti": ""}, "claim jti is empty or missing"),
    ({"url_hash": None}, 'Token is missing the "url_hash" claim'),
    ({"exp": None}, 'Token is missing the "exp" claim'),
    ({"nbf": None}, 'Token is missing the "nbf" claim'),
    ({"payload_hash": sha256(b"x")}, "claim payload_hash is set but the body is missing"),
])
def test_claims(claims: dict[str, object], why: str) -> None:
    now = 1_800_000_000
    assert (verify(token(URL, now=now, **claims), KEY, URL, b"", now) or "").startswith(why)


def test_a_body_needs_its_hash() -> None:
    now = 1_800_000_000
    assert verify(token(URL, now=now), KEY, URL, b"a=1", now) == "claim payload_hash is not set but a body is present"


def test_unsigned_and_foreign_algorithms_are_refused() -> None:
    unsigned = jwt.encode({"iss": "MessageBird", "nbf": 1, "exp": 2, "jti": "j", "url_hash": sha256(URL)}, None,
                          algorithm="none")
    assert "The specified alg value is not allowed" in (verify(unsigned, KEY, URL, b"", 1) or "")
    assert verify("not.a.jwt", KEY, URL, b"", 1)


def test_check_request_uses_the_url_as_called_and_the_clock() -> None:
    now = 1_800_000_000
    req = InboundRequest("GET", URL, {"messagebird-signature-jwt": token(URL, now=now)}, [])
    check_request(req, KEY, clock=lambda: now)
    with pytest.raises(RequestRejected) as info:
        check_request(req, KEY, clock=lambda: now + 62)
    assert info.value.status_code == 403 and "claim exp is in the past" in info.value.reason
    with pytest.raises(RequestRejected) as info:
        check_request(InboundRequest("GET", URL, {}, []), KEY)
    assert info.value.status_code == 403 and "missing request signature" in info.value.reason
    with pytest.raises(RequestRejected) as info:
        check_request(req, None, clock=lambda: now)
    assert info.value.status_code == 403 and "no signing key" in info.value.reason
