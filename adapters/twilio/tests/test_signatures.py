"""X-Twilio-Signature checks, with the official `twilio` package as an independent oracle.

Every valid signature below is computed by `twilio.request_validator.RequestValidator` (a test-only
dependency), never by the code under test, so the adapter's validator is checked against Twilio's own.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from smsgate_twilio import compute_signature, signature_is_valid
from twilio.request_validator import RequestValidator

sys.path.insert(0, str(Path(__file__).resolve().parent))

from twilio_testkit import BASE, MESSAGE_ID, TOKEN

PUBLIC = "https://gateway.example"
RECEIVE = "/c/test/receive"
STATUS = f"/c/test/status?id={MESSAGE_ID}"
ORACLE = RequestValidator(TOKEN)
FORGER = RequestValidator("not-the-auth-token")


class MultiDict(dict[str, list[str]]):
    """What the SDK expects for repeated form keys (Flask's MultiDict protocol)."""

    def getall(self, key: str) -> list[str]:
        return self[key]


def mo(**extra: str) -> dict[str, str]:
    """A minimal valid incoming-message form."""
    return {"MessageSid": "SM1", "AccountSid": BASE["account_sid"], "From": "+14133881111", "To": "+12028831111",
            "Body": "Hola ☺ ñ & = +", "NumMedia": "0", **extra}


def sign(url: str, form: dict[str, Any], validator: RequestValidator = ORACLE) -> str:
    """The signature Twilio would send for a POST of `form` to `url`."""
    params = MultiDict({k: v if isinstance(v, list) else [v] for k, v in form.items()})
    return validator.compute_signature(url, params)


def harness_for(factory: Any, *, gateway: dict[str, Any] | None = None, **settings: Any) -> Any:
    harness = factory({"test": {"adapter": "twilio", **BASE, **settings}}, gateway=gateway,
                      respond=lambda r: httpx.Response(201, json={"sid": "SM123"}))
    return harness


def post(harness: Any, path: str, form: dict[str, Any], signature: str | None, **headers: str) -> httpx.Response:
    if signature is not None:
        headers["X-Twilio-Signature"] = signature
    return harness.request("POST", path, data=form, headers=headers)


def assert_rejected(harness: Any, response: httpx.Response, reason: str) -> None:
    assert response.status_code == 403, response.text
    assert reason in response.json()["data"][0]["error"]
    assert harness.messages(direction="in") == []  # nothing stored...
    assert any(reason in " ".join(log["errors"]) for log in harness.logs())  # ...but the refusal is logged


# -- accepted ----------------------------------------------------------------------------------------------

ACCEPTED = [
    ("as called", PUBLIC, RECEIVE, f"{PUBLIC}{RECEIVE}"),
    ("Twilio signed with the default port", PUBLIC, RECEIVE, f"https://gateway.example:443{RECEIVE}"),
    ("public_url has :443, Twilio signed without", "https://gateway.example:443", RECEIVE, f"{PUBLIC}{RECEIVE}"),
    ("plain http with :80", "http://gateway.example", RECEIVE, f"http://gateway.example:80{RECEIVE}"),
    ("non-default port as called", "https://gateway.example:8443", RECEIVE, f"https://gateway.example:8443{RECEIVE}"),
    ("public_url under a path prefix", "https://example.org/sms", RECEIVE, f"https://example.org/sms{RECEIVE}"),
    ("query string is signed as sent", PUBLIC, f"{RECEIVE}?b=2&a=1", f"{PUBLIC}{RECEIVE}?b=2&a=1"),
]


@pytest.mark.parametrize(("label", "public_url", "path", "signed_url"), ACCEPTED, ids=[c[0] for c in ACCEPTED])
def test_valid_signature_accepted(smsgate_harness, label: str, public_url: str, path: str, signed_url: str) -> None:
    harness = harness_for(smsgate_harness, gateway={"public_url": public_url})
    form = mo()
    assert ORACLE.validate(signed_url, form, sign(signed_url, form))  # the oracle agrees with itself
    response = post(harness, path, form, sign(signed_url, form))
    assert response.status_code == 200, response.text
    assert [m.text for m in harness.messages(direction="in")] == ["Hola ☺ ñ & = +"]


def test_status_callback_signature_covers_our_query(smsgate_harness) -> None:
    harness = harness_for(smsgate_harness)
    assert harness.send("test", "+250788383383", "hi", id=MESSAGE_ID).message.status == "wired"
    form = {"MessageSid": "SM123", "MessageStatus": "delivered", "AccountSid": BASE["account_sid"]}
    response = post(harness, STATUS, form, sign(f"{PUBLIC}{STATUS}", form))
    assert response.status_code == 200, response.text
    assert harness.message(MESSAGE_ID).status == "delivered"  # type: ignore[union-attr]
    # the same report signed for the URL without our id is refused and changes nothing
    again = post(harness, STATUS, {**form, "MessageStatus": "read"}, sign(f"{PUBLIC}/c/test/status", form))
    assert again.status_code == 403
    assert harness.message(MESSAGE_ID).status == "delivered"  # type: ignore[union-attr]


def test_repeated_keys_sorted_and_deduplicated_like_the_sdk(smsgate_harness) -> None:
    harness = harness_for(smsgate_harness)
    for n, tags in enumerate((["b", "a"], ["a", "a", "c"])):
        form = {**mo(MessageSid=f"SM{n}"), "Tag": tags}
        response = post(harness, RECEIVE, form, sign(f"{PUBLIC}{RECEIVE}", form))
        assert response.status_code == 200, (tags, response.text)


def test_json_body_sha256_variant(smsgate_harness) -> None:
    harness = harness_for(smsgate_harness)
    body = json.dumps(mo(Body="json body")).encode()
    path = f"{RECEIVE}?bodySHA256={hashlib.sha256(body).hexdigest()}"
    url = f"{PUBLIC}{path}"
    signature = ORACLE.compute_signature(url, {})
    assert ORACLE.validate(url, body.decode(), signature)
    headers = {"X-Twilio-Signature": signature, "Content-Type": "application/json"}
    assert harness.request("POST", path, content=body, headers=headers).status_code == 200
    assert [m.text for m in harness.messages(direction="in")] == ["json body"]
    tampered = body.replace(b"json body", b"evil body")
    assert not ORACLE.validate(url, tampered.decode(), signature)
    response = harness.request("POST", path, content=tampered, headers=headers)
    assert response.status_code == 403 and len(harness.messages(direction="in")) == 1


def test_signatures_off_accepts_unsigned(smsgate_harness) -> None:
    harness = harness_for(smsgate_harness, validate_signatures=False)
    assert post(harness, RECEIVE, mo(), None).status_code == 200


# -- rejected ----------------------------------------------------------------------------------------------

REJECTED = [
    ("absent", None, "missing request signature"),
    ("forged with another token", "forged", "invalid request signature"),
    ("scheme changed", "http://gateway.example" + RECEIVE, "invalid request signature"),
    ("trailing slash", f"{PUBLIC}{RECEIVE}/", "invalid request signature"),
    ("another host", f"https://evil.example{RECEIVE}", "invalid request signature"),
    ("another channel", f"{PUBLIC}/c/other/receive", "invalid request signature"),
    ("non-default port stripped (the SDK would accept; we do not)", "https://gateway.example" + RECEIVE,
     "invalid request signature"),
    ("garbage", "☺☺☺", "invalid request signature"),
]


@pytest.mark.parametrize(("label", "signed", "reason"), REJECTED, ids=[c[0] for c in REJECTED])
def test_bad_signature_rejected(smsgate_harness, label: str, signed: str | None, reason: str) -> None:
    public = "https://gateway.example:8443" if "non-default" in label else PUBLIC
    harness = harness_for(smsgate_harness, gateway={"public_url": public})
    form = mo()
    if signed is None:
        signature = None
    elif signed == "forged":
        signature = sign(f"{public}{RECEIVE}", form, FORGER)
    elif signed.startswith("http"):
        signature = sign(signed, form)
    else:
        signature = signed
    headers = {"X-Twilio-Signature": signature} if signature is not None else {}
    response = harness.request("POST", RECEIVE, data=form, headers={k: v.encode() for k, v in headers.items()})
    assert_rejected(harness, response, reason)
    if "invalid" in reason:  # the reason names the URL we checked: the first thing to compare behind a proxy
        assert f"{public}{RECEIVE}" in response.json()["data"][0]["error"]


def test_tampered_field_rejected(smsgate_harness) -> None:
    harness = harness_for(smsgate_harness)
    form = mo()
    response = post(harness, RECEIVE, {**form, "Body": "send money"}, sign(f"{PUBLIC}{RECEIVE}", form))
    assert_rejected(harness, response, "invalid request signature")


def test_status_route_checks_too(smsgate_harness) -> None:
    harness = harness_for(smsgate_harness)
    harness.send("test", "+250788383383", "hi", id=MESSAGE_ID)
    form = {"MessageSid": "SM123", "MessageStatus": "delivered"}
    assert post(harness, STATUS, form, None).status_code == 403
    assert post(harness, STATUS, form, sign(f"{PUBLIC}{STATUS}", form, FORGER)).status_code == 403
    assert harness.message(MESSAGE_ID).status == "wired"  # type: ignore[union-attr]


def test_shared_key_signatures_are_refused_clearly(smsgate_harness) -> None:
    harness = harness_for(smsgate_harness)
    form = mo()
    response = post(harness, RECEIVE, form, sign(f"{PUBLIC}{RECEIVE}", form),
                    **{"X-Twilio-Webhooks-Signature-Settings": "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256"})
    assert_rejected(harness, response, "unsupported signature algorithm")


# -- behind proxies ----------------------------------------------------------------------------------------

FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "sms.public.example"}
PROXY = [
    # (label, trust_proxy, headers sent by the proxy, URL Twilio signed, accepted?)
    ("no trust: public_url is what counts", False, FORWARDED, f"{PUBLIC}{RECEIVE}", True),
    ("no trust: forwarded host is ignored", False, FORWARDED, f"https://sms.public.example{RECEIVE}", False),
    ("no trust: the internal URL is not it", False, {}, f"http://testserver{RECEIVE}", False),
    ("trust: forwarded proto and host", True, FORWARDED, f"https://sms.public.example{RECEIVE}", True),
    ("trust: forwarded host with port", True, {"X-Forwarded-Proto": "https",
                                               "X-Forwarded-Host": "sms.public.example:8443"},
     f"https://sms.public.example:8443{RECEIVE}", True),
    ("trust: public_url no longer used", True, FORWARDED, f"{PUBLIC}{RECEIVE}", False),
    ("trust: TLS terminated but proto not forwarded", True, {"X-Forwarded-Host": "sms.public.example"},
     f"https://sms.public.example{RECEIVE}", False),
    ("trust without headers: the Host seen", True, {}, f"http://testserver{RECEIVE}", True),
]


@pytest.mark.parametrize(("label", "trust", "headers", "signed_url", "accepted"), PROXY, ids=[c[0] for c in PROXY])
def test_proxy_setups(smsgate_harness, label: str, trust: bool, headers: dict[str, str], signed_url: str,
                      accepted: bool) -> None:
    harness = harness_for(smsgate_harness, gateway={"trust_proxy": trust})
    form = mo()
    response = post(harness, RECEIVE, form, sign(signed_url, form), **headers)
    if accepted:
        assert response.status_code == 200, response.text
        assert len(harness.messages(direction="in")) == 1
    else:
        assert_rejected(harness, response, "invalid request signature")


# -- the validator on its own, against the oracle ---------------------------------------------------------

URLS = ["https://gateway.example/c/x/receive", "https://gateway.example:443/c/x/status?id=1&b=%20",
        "http://[::1]:80/c/x/receive", "https://gateway.example:8443/c/x/receive?x=1"]
FORMS = [[], [("Body", "a")], [("b", "2"), ("a", "1"), ("a", "0")], [("Body", "☺ \n & é"), ("To", "+1")]]


@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize("form", FORMS, ids=range(len(FORMS)))
def test_compute_signature_matches_sdk(url: str, form: list[tuple[str, str]]) -> None:
    grouped = MultiDict()
    for key, value in form:
        grouped.setdefault(key, []).append(value)
    expected = ORACLE.compute_signature(url, grouped)
    assert compute_signature(TOKEN, url, form) == expected
    assert signature_is_valid(TOKEN, url, form, expected)
    assert ORACLE.validate(url, grouped, expected)
    assert not signature_is_valid(TOKEN, url, [*form, ("extra", "1")], expected)


def test_channel_name_with_escapes(smsgate_harness) -> None:
    harness = smsgate_harness({"my chan": {"adapter": "twilio", **BASE}})
    url = harness.gateway.adapters["my chan"].callback_url("receive")
    assert url == f"{PUBLIC}/c/my%20chan/receive"
    form = mo()
    response = post(harness, url.removeprefix(PUBLIC), form, sign(url, form))
    assert response.status_code == 200, response.text
