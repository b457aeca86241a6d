"""`X-Plivo-Signature-V2` as Plivo's messaging documentation defines it, on a vector also accepted by Plivo's own
`plivo` package (catalogue notes, §6): base64(HMAC-SHA256(auth token, URL without its query + nonce))."""

from __future__ import annotations

from smsgate_plivo import signature_v2

URL = "https://gw.example.com/c/pl/8eb23e93-5ecb-45ba-b726-3b064e0c56ab/receive"
NONCE = "05429567804466091622"
EXPECTED = "cd2vtTa8FY0hyI+BQv1QT2XecCYGXjTdVWLXdAaXHKw="


def test_the_documented_vector() -> None:
    assert signature_v2("AuthToken", URL, NONCE) == EXPECTED


def test_the_query_string_and_fragment_are_not_signed() -> None:
    assert signature_v2("AuthToken", URL + "?b=2&a=1", NONCE) == EXPECTED
    assert signature_v2("AuthToken", URL + "#part", NONCE) == EXPECTED


def test_token_nonce_scheme_and_port_are_signed() -> None:
    others = {signature_v2("AuthToken2", URL, NONCE), signature_v2("AuthToken", URL, NONCE + "1"),
              signature_v2("AuthToken", URL.replace("https", "http"), NONCE),
              signature_v2("AuthToken", URL.replace(".com/", ".com:443/"), NONCE)}
    assert EXPECTED not in others and len(others) == 4
