"""Twilio's Messages API served by the gateway (`[twilio_api]`), through the real ASGI app on both backends: every
answer checked against Twilio's own contract, every refusal in Twilio's error JSON with Twilio's code, status
callbacks and incoming webhooks signed as Twilio signs them (checked with the official SDK's validator), TwiML
replies sent back through the channel. The official SDKs drive a real `smsgate serve` in
tests/system/test_twilio_sdks.py."""

from __future__ import annotations

import base64
import time
import urllib.parse
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from smsgate.errors import ConfigError
from smsgate.host import config_from_dict, installed_adapters
from smsgate.platform.twilio import message_id_of, reply_id, sid_of
from twilio.request_validator import RequestValidator

from tests.support import twilio_contract
from tests.support.rawsql import sql

SID = "AC" + "1f" * 16
TOKEN = "front-auth-token-5c2e9d"
BASE = f"/2010-04-01/Accounts/{SID}"
LIST = "/2010-04-01/Accounts/{AccountSid}/Messages.json"
ONE = "/2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json"
ADDRESS = "+12025550100"
OTHER = "+12025550177"
PHONE = "+12025550123"
APP = "https://app.example"


def auth(sid: str = SID, token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{sid}:{token}".encode()).decode()}


class App:
    """The aggregator and the application behind one transport: sends are answered 200, the application's
    callbacks recorded, its incoming webhook answered with `twiml`."""

    def __init__(self) -> None:
        self.calls: list[httpx.Request] = []
        self.sends: list[httpx.Request] = []
        self.twiml = ""
        self.status_code = 200

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "app.example":
            self.calls.append(request)
            if self.status_code != 200:
                return httpx.Response(self.status_code)
            return httpx.Response(200, text=self.twiml, headers={"Content-Type": "text/xml"})
        self.sends.append(request)
        return httpx.Response(200, text="ok")

    def forms(self, path: str) -> list[dict[str, str]]:
        return [dict(urllib.parse.parse_qsl(r.content.decode(), keep_blank_values=True))
                for r in self.calls if r.url.path == path]


@pytest.fixture
def front(smsgate_harness):
    """A factory: a harness with http channels `web` (and `alt`), `[twilio_api]` and the App behind it."""

    def make(*, two: bool = False, routes=None, tenants=None, **api):
        app = App()
        channels = {"web": {"adapter": "http", "address": ADDRESS, "country": "US", "max_retry_wait": 0,
                            "max_attempts": 1, "send_url": "http://aggregator.test/send"}}
        if two:
            channels["alt"] = {**channels["web"], "address": OTHER}
        h = smsgate_harness(channels, twilio_api={"account_sid": SID, "auth_token": TOKEN, **api}, respond=app,
                            routes=routes, tenants=tenants)
        return h, app

    return make


def create(h, **form):
    return h.request("POST", f"{BASE}/Messages.json", data=form, headers=auth())


def stored(h):
    return (len(h.messages(limit=10_000)), h.run(h.store.outbox_items(limit=10_000)).__len__())


def worker_round(h):
    h.run(h.worker(retry_base=0).run_once())


# -- the config -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("api", "field", "reason"), [
    ({"account_sid": "AC123", "auth_token": TOKEN}, "twilio_api.account_sid", "'AC' and 32 hex digits"),
    ({"account_sid": SID, "auth_token": "short"}, "twilio_api.auth_token", "at least 16 characters"),
    ({"account_sid": SID}, "twilio_api.auth_token", "Field required"),
    ({"account_sid": SID, "auth_token": TOKEN, "incoming_url": "ftp://x"}, "twilio_api.incoming_url", "http"),
    ({"account_sid": SID, "auth_token": TOKEN, "default_channel": "nope"}, "twilio_api.default_channel",
     "unknown channel 'nope'"),
    ({"account_sid": SID, "auth_token": TOKEN, "token": "x"}, "twilio_api.token", "Extra inputs"),
])
def test_the_config_checks_the_table(api, field, reason):
    channels = {"web": {"adapter": "http", "send_url": "http://aggregator.test/send"}}
    with pytest.raises(ConfigError) as caught:
        config_from_dict({"channels": channels, "twilio_api": api}, installed_adapters())
    assert caught.value.field == field and reason in str(caught.value)


def test_the_auth_token_is_a_secret_and_the_environment_overrides_it(monkeypatch):
    channels = {"web": {"adapter": "http", "send_url": "http://aggregator.test/send"}}
    config = config_from_dict({"channels": channels, "twilio_api": {"account_sid": SID, "auth_token": TOKEN}},
                              installed_adapters())
    assert TOKEN in config.secrets() and TOKEN not in repr(config.twilio_api)
    monkeypatch.setenv("SMSGATE_TWILIO_API__AUTH_TOKEN", "from-the-environment-0001")
    config = config_from_dict({"channels": channels, "twilio_api": {"account_sid": SID, "auth_token": TOKEN}},
                              installed_adapters())
    assert config.twilio_api is not None
    assert config.twilio_api.auth_token.get_secret_value() == "from-the-environment-0001"
    assert config.twilio_api.account_sid == SID


def test_no_table_no_front(smsgate_harness):
    h = smsgate_harness({"web": {"adapter": "http", "send_url": "http://aggregator.test/send"}})
    assert h.request("POST", f"{BASE}/Messages.json", data={"To": PHONE}, headers=auth()).status_code == 404


# -- create, fetch, and the life of a message ------------------------------------------------------------------


def test_create_answers_201_with_twilios_message_and_the_message_is_sent(front):
    h, app = front()
    response = create(h, To=PHONE, From=ADDRESS, Body="Hello from the front")
    assert response.status_code == 201, response.text
    body = response.json()
    twilio_contract.check("POST", LIST, 201, body)
    assert body["sid"].startswith("SM") and len(body["sid"]) == 34
    assert (body["status"], body["direction"], body["to"], body["from"]) == ("queued", "outbound-api", PHONE, ADDRESS)
    assert (body["num_segments"], body["num_media"], body["error_code"], body["date_sent"]) == ("1", "0", None, None)
    assert body["uri"] == f"{BASE}/Messages/{body['sid']}.json" and body["account_sid"] == SID
    created = datetime.strptime(body["date_created"], "%a, %d %b %Y %H:%M:%S +0000").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - created).total_seconds()) < 300
    # the SID is the message's smsgate id: nothing to store for a plain create
    message_id = message_id_of(body["sid"])
    record = h.message(message_id)
    assert record is not None and body["sid"] == sid_of(record.id) and record.metadata == {}
    assert (record.channel, record.text, record.status) == ("web", "Hello from the front", "queued")
    worker_round(h)
    assert [r.url.host for r in app.sends] == ["aggregator.test"]
    fetched = h.request("GET", f"{BASE}/Messages/{body['sid']}.json", headers=auth())
    assert fetched.status_code == 200
    twilio_contract.check("GET", ONE, 200, fetched.json())
    assert fetched.json()["status"] == "sent" and fetched.json()["date_sent"] is not None
    h.request("POST", "/c/web/delivered", data={"id": message_id})
    delivered = h.request("GET", f"{BASE}/Messages/{body['sid']}.json", headers=auth()).json()
    assert delivered["status"] == "delivered" and delivered["date_sent"] == fetched.json()["date_sent"]
    assert h.request("GET", f"{BASE}/Messages/{body['sid'].lower().replace('sm', 'SM', 1)}.json",
                     headers=auth()).json()["sid"] == body["sid"]


def test_media_messages_get_an_mm_sid_and_their_urls(front):
    h, _ = front()
    body = create(h, To=PHONE, From=ADDRESS, MediaUrl=["https://m.example/a.jpg", "https://m.example/b.png"]).json()
    twilio_contract.check("POST", LIST, 201, body)
    assert body["sid"].startswith("MM") and body["num_media"] == "2" and body["body"] == ""
    record = h.message(message_id_of(body["sid"]))
    assert record.attachments == ["https://m.example/a.jpg", "https://m.example/b.png"]
    assert record.metadata == {"twilio": {"sid": body["sid"]}}  # kept: a redaction must not turn it into SM…
    worker_round(h)
    redacted = h.request("POST", f"{BASE}/Messages/{body['sid']}.json", data={"Body": ""}, headers=auth()).json()
    assert (redacted["sid"], redacted["num_media"]) == (body["sid"], "0")


def test_long_and_unicode_bodies_count_their_segments(front):
    h, _ = front()
    assert create(h, To=PHONE, From=ADDRESS, Body="x" * 161).json()["num_segments"] == "2"
    assert create(h, To=PHONE, From=ADDRESS, Body="Привет" * 12).json()["num_segments"] == "2"


def test_from_picks_the_channel_with_that_address_else_the_default(front):
    h, _ = front(two=True, default_channel="alt")
    assert h.message(message_id_of(create(h, To=PHONE, From=ADDRESS, Body="a").json()["sid"])).channel == "web"
    assert h.message(message_id_of(create(h, To=PHONE, From=OTHER, Body="b").json()["sid"])).channel == "alt"
    other = create(h, To=PHONE, From="+15005550006", Body="c").json()  # a Twilio number smsgate has not got
    assert h.message(message_id_of(other["sid"])).channel == "alt" and other["from"] == OTHER


def test_several_channels_without_a_default_need_a_from_that_names_one(front):
    h, _ = front(two=True)
    before = stored(h)
    response = create(h, To=PHONE, From="+15005550006", Body="c")
    assert response.status_code == 400 and response.json()["code"] == 21612
    assert stored(h) == before
    assert create(h, To=PHONE, From=OTHER, Body="ok").status_code == 201


def test_a_messaging_service_message_is_accepted(front):
    h, _ = front()
    service = "MG" + "ab" * 16
    body = create(h, To=PHONE, MessagingServiceSid=service, Body="via a service").json()
    twilio_contract.check("POST", LIST, 201, body)
    assert (body["status"], body["messaging_service_sid"], body["from"]) == ("accepted", service, ADDRESS)


@pytest.mark.parametrize(("form", "code", "fragment"), [
    ({"From": ADDRESS, "Body": "x"}, 21604, "'To' phone number is required"),
    ({"To": PHONE, "Body": "x"}, 21603, "'From' phone number is required"),
    ({"To": PHONE, "From": ADDRESS}, 21602, "Message body is required"),
    ({"To": PHONE, "From": ADDRESS, "Body": "x" * 1601}, 21617, "1600 character limit"),
    ({"To": "hello", "From": ADDRESS, "Body": "x"}, 21211, "'To' number hello is not a valid phone number"),
    ({"To": PHONE, "From": ADDRESS, "Body": "x", "StatusCallback": "not a url"}, 21609, "StatusCallback"),
    ({"To": PHONE, "From": ADDRESS, "MediaUrl": "javascript:alert(1)"}, 21620, "Invalid media URL"),
    ({"To": PHONE, "From": ADDRESS, "MediaUrl": [f"https://m.example/{i}" for i in range(11)]}, 20422, "at most 10"),
    ({"To": PHONE, "From": ADDRESS, "Body": "x", "ValidityPeriod": "0"}, 20422, "ValidityPeriod"),
    ({"To": PHONE, "From": ADDRESS, "Body": "x", "ValidityPeriod": "36001"}, 20422, "ValidityPeriod"),
    ({"To": PHONE, "From": ADDRESS, "Body": "x", "ValidityPeriod": "1e3"}, 20422, "ValidityPeriod"),
    ({"To": PHONE, "MessagingServiceSid": "MG1", "Body": "x"}, 20422, "MessagingServiceSid"),
    ({"To": PHONE, "From": ADDRESS, "ContentSid": "HX" + "0" * 32}, 20422, "ContentSid"),
    ({"To": PHONE, "From": ADDRESS, "Body": "x", "ScheduleType": "fixed", "SendAt": "2030-01-01T00:00:00Z"}, 20422,
     "scheduled"),
])
def test_a_refused_create_says_why_in_twilios_words_and_stores_nothing(front, form, code, fragment):
    h, _ = front()
    before = stored(h)
    response = create(h, **form)
    assert response.status_code == 400, response.text
    error = response.json()
    assert error == {"code": code, "message": error["message"], "more_info": f"https://www.twilio.com/docs/errors/{code}",
                     "status": 400}
    assert fragment in error["message"]
    assert stored(h) == before


def test_a_json_body_carries_no_parameter(front):
    h, _ = front()
    response = h.request("POST", f"{BASE}/Messages.json", json={"To": PHONE, "From": ADDRESS, "Body": "x"},
                         headers=auth())
    assert response.status_code == 400 and response.json()["code"] == 21604


# -- who may call ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [
    {}, auth(token="wrong-token-0000000000"), auth(sid="AC" + "2" * 32), {"Authorization": "Basic !!!"},
    {"Authorization": f"Bearer {TOKEN}"}, {"Authorization": "Basic " + base64.b64encode(SID.encode()).decode()},
    {"Authorization": "Basic " + base64.b64encode(f"{SID}:{TOKEN}x".encode()).decode()},
])
@pytest.mark.parametrize(("method", "path"), [("POST", "/Messages.json"), ("GET", "/Messages.json"),
                                              ("GET", "/Messages/SM" + "0" * 32 + ".json"),
                                              ("DELETE", "/Messages/SM" + "0" * 32 + ".json"),
                                              ("GET", "/Calls.json")])
def test_wrong_credentials_are_twilios_20003(front, headers, method, path):
    h, _ = front()
    before = stored(h)
    response = h.request(method, BASE + path, data={"To": PHONE, "From": ADDRESS, "Body": "x"} if method == "POST"
                         else None, headers=headers)
    assert response.status_code == 401
    assert response.json() == {"code": 20003, "message": "Authenticate",
                               "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401}
    assert response.headers["www-authenticate"].startswith("Basic")
    assert stored(h) == before


@pytest.mark.parametrize("path", [f"/2010-04-01/Accounts/{'AC' + '2' * 32}/Messages.json",
                                  "/2010-04-01/Accounts/null/Messages.json", "/2010-04-01/Accounts/x/Messages/y.json",
                                  f"{BASE}/Calls.json", f"{BASE}/Messages/SM1.json", f"{BASE}.json",
                                  f"{BASE}/Messages/{'SM' + '0' * 32}/Media.json"])
def test_another_account_or_resource_is_twilios_404(front, path):
    h, _ = front()
    response = h.request("GET", path, headers=auth())
    assert response.status_code == 404 and response.json()["code"] == 20404
    assert response.json()["message"] == f"The requested resource {path} was not found"


def test_a_method_the_resource_has_not_is_twilios_405(front):
    h, _ = front()
    response = h.request("PUT", f"{BASE}/Messages.json", headers=auth())
    assert response.status_code == 405 and response.json()["code"] == 20004
    assert h.request("PATCH", f"{BASE}/Messages/SM{'0' * 32}.json", headers=auth()).json()["code"] == 20004


def test_a_body_over_the_limit_is_413_in_twilios_shape(smsgate_harness):
    h = smsgate_harness({"web": {"adapter": "http", "send_url": "http://aggregator.test/send", "country": "US"}},
                        gateway={"max_body_bytes": 1000}, twilio_api={"account_sid": SID, "auth_token": TOKEN})
    response = create(h, To=PHONE, From=ADDRESS, Body="x" * 1200)
    assert response.status_code == 413 and response.json()["status"] == 413 and response.json()["message"]
    assert h.messages() == []


# -- list ------------------------------------------------------------------------------------------------------


def _page(h, query):
    response = h.request("GET", f"{BASE}/Messages.json", params=query, headers=auth())
    assert response.status_code == 200, response.text
    twilio_contract.check("GET", LIST, 200, response.json())
    return response.json()


def test_list_pages_newest_first_with_next_page_uris_that_carry_the_filters(front):
    h, _ = front()
    sids = [create(h, To=PHONE, From=ADDRESS, Body=f"m{i}").json()["sid"] for i in range(5)]
    create(h, To="+12025550199", From=ADDRESS, Body="someone else")
    h.request("POST", "/c/web/receive", data={"from": PHONE, "text": "a reply"})
    page = _page(h, {"To": PHONE, "PageSize": "2"})
    assert [m["sid"] for m in page["messages"]] == sids[:2:-1]
    assert (page["page"], page["page_size"], page["start"], page["end"]) == (0, 2, 0, 1)
    assert page["previous_page_uri"] is None and page["first_page_uri"] == page["uri"]
    assert page["uri"] == f"{BASE}/Messages.json?To=%2B12025550123&PageSize=2&Page=0"
    seen = [m["sid"] for m in page["messages"]]
    while page["next_page_uri"]:
        assert page["next_page_uri"].startswith(f"{BASE}/Messages.json?To=%2B12025550123&PageSize=2&Page=")
        response = h.request("GET", page["next_page_uri"], headers=auth())
        twilio_contract.check("GET", LIST, 200, response.json())
        page = response.json()
        seen += [m["sid"] for m in page["messages"]]
    assert seen == sids[::-1] and page["page"] == 2 and (page["start"], page["end"]) == (4, 4)
    everything = _page(h, {})["messages"]
    assert len(everything) == 7 and everything[0]["direction"] == "inbound" and everything[0]["status"] == "received"
    assert (everything[0]["from"], everything[0]["to"]) == (PHONE, ADDRESS) and everything[0]["date_sent"]


def test_list_filters_by_to_and_from_as_twilio_does(front):
    h, _ = front(two=True)
    out = create(h, To=PHONE, From=ADDRESS, Body="out").json()["sid"]
    create(h, To=PHONE, From=OTHER, Body="out on alt")
    h.request("POST", "/c/web/receive", data={"from": PHONE, "text": "in"})
    h.request("POST", "/c/alt/receive", data={"from": "+12025550155", "text": "in on alt"})

    def bodies(**query):
        return sorted(m["body"] for m in _page(h, query)["messages"])

    assert bodies(To=PHONE) == ["out", "out on alt"]
    assert bodies(From=PHONE) == ["in"]
    assert bodies(To=ADDRESS) == ["in"]  # our number: what it received
    assert bodies(From=ADDRESS) == ["out"]  # our number: what it sent
    assert bodies(To=PHONE, From=ADDRESS) == ["out"]
    assert bodies(To=ADDRESS, From=PHONE) == ["in"]
    assert bodies(To=PHONE, From=PHONE) == [] and bodies(To=ADDRESS, From=OTHER) == []
    assert bodies(To="+19999999999") == []
    assert _page(h, {"To": PHONE, "From": ADDRESS})["messages"][0]["sid"] == out


def test_list_filters_by_the_day_sent(front):
    h, _ = front()
    old = create(h, To=PHONE, From=ADDRESS, Body="old").json()["sid"]
    create(h, To=PHONE, From=ADDRESS, Body="today")
    sql(h, "UPDATE messages SET created_at = ? WHERE id = ?",
        (datetime.now(UTC) - timedelta(days=3)).isoformat(timespec="microseconds"), message_id_of(old))
    today = datetime.now(UTC).date()
    three_ago = (today - timedelta(days=3)).isoformat()

    def bodies(**query):
        return [m["body"] for m in _page(h, query)["messages"]]

    assert bodies(DateSent=today.isoformat()) == ["today"]
    assert bodies(DateSent=f"{today.isoformat()}T00:00:00Z") == ["today"]  # the SDKs write a day this way
    assert bodies(DateSent=three_ago) == ["old"]
    assert bodies(**{"DateSent<": three_ago}) == ["old"]
    assert bodies(**{"DateSent<": (today - timedelta(days=1)).isoformat()}) == ["old"]
    assert bodies(**{"DateSent>": (today - timedelta(days=2)).isoformat()}) == ["today"]
    assert bodies(**{"DateSent>": three_ago, "DateSent<": today.isoformat()}) == ["today", "old"]
    page = _page(h, {"DateSent>": three_ago, "PageSize": "1"})
    assert page["next_page_uri"] and "DateSent%3E=" in page["next_page_uri"]
    assert h.request("GET", page["next_page_uri"], headers=auth()).json()["messages"][0]["body"] == "old"


@pytest.mark.parametrize(("query", "name"), [({"PageSize": "0"}, "PageSize"), ({"PageSize": "x"}, "PageSize"),
                                             ({"Page": "-1"}, "Page"), ({"PageToken": "nope"}, "PageToken"),
                                             ({"PageToken": "PAnot-a-cursor"}, "PageToken"),
                                             ({"DateSent": "yesterday"}, "DateSent"),
                                             ({"DateSent>": "2026-13-01"}, "DateSent>")])
def test_a_bad_list_parameter_is_a_400(front, query, name):
    h, _ = front()
    response = h.request("GET", f"{BASE}/Messages.json", params=query, headers=auth())
    assert response.status_code == 400 and response.json()["code"] == 20422 and name in response.json()["message"]


def test_a_page_holds_at_most_1000(front):
    h, _ = front()
    assert _page(h, {"PageSize": "5000"})["page_size"] == 1000


# -- update (redact) and delete --------------------------------------------------------------------------------


def test_redaction_blanks_a_sent_message_and_refuses_what_is_still_queued(front):
    h, _ = front()
    sid = create(h, To=PHONE, From=ADDRESS, Body="my secret code 1234").json()["sid"]
    path = f"{BASE}/Messages/{sid}.json"
    queued = h.request("POST", path, data={"Body": ""}, headers=auth())
    assert queued.status_code == 400 and queued.json()["code"] == 20009
    worker_round(h)
    assert h.logs(message_id=message_id_of(sid))
    response = h.request("POST", path, data={"Body": ""}, headers=auth())
    assert response.status_code == 200
    twilio_contract.check("POST", ONE, 200, response.json())
    assert response.json()["body"] == "" and response.json()["status"] == "sent"
    assert h.message(message_id_of(sid)).text == ""
    assert h.logs(message_id=message_id_of(sid)) == []  # they held the text as sent
    for form, code in [({"Body": "new text"}, 30400), ({"Status": "canceled"}, 30409), ({"Status": "sent"}, 30400),
                       ({}, 30400), ({"Body": "", "Status": "canceled"}, 30400)]:
        refused = h.request("POST", path, data=form, headers=auth())
        assert refused.status_code == 400 and refused.json()["code"] == code, (form, refused.text)


def test_delete_waits_for_a_final_status(front):
    h, _ = front()
    sid = create(h, To=PHONE, From=ADDRESS, Body="bye").json()["sid"]
    path = f"{BASE}/Messages/{sid}.json"
    for _ in range(2):  # queued, then sent (a delivery report may still come)
        response = h.request("DELETE", path, headers=auth())
        assert response.status_code == 400 and response.json()["code"] == 20009
        worker_round(h)
    h.request("POST", "/c/web/delivered", data={"id": message_id_of(sid)})
    response = h.request("DELETE", path, headers=auth())
    assert response.status_code == 204 and response.content == b""
    assert h.message(message_id_of(sid)) is None
    assert h.request("GET", path, headers=auth()).json()["code"] == 20404
    assert h.request("DELETE", path, headers=auth()).json()["code"] == 20404


def test_inbound_messages_can_be_deleted_at_once(front):
    h, _ = front()
    h.request("POST", "/c/web/receive", data={"from": PHONE, "text": "hello"})
    [message] = _page(h, {})["messages"]
    assert h.request("DELETE", f"{BASE}/Messages/{message['sid']}.json", headers=auth()).status_code == 204
    assert h.messages() == []


# -- status callbacks -----------------------------------------------------------------------------------------


def _validates(request: httpx.Request, token: str = TOKEN) -> bool:
    params = dict(urllib.parse.parse_qsl(request.content.decode(), keep_blank_values=True))
    return RequestValidator(token).validate(str(request.url), params, request.headers["X-Twilio-Signature"])


def test_status_callbacks_are_signed_as_twilio_signs_them(front):
    h, app = front()
    sid = create(h, To=PHONE, From=ADDRESS, Body="track me", StatusCallback=f"{APP}/status?order=7").json()["sid"]
    assert h.message(message_id_of(sid)).metadata == {"twilio": {"callback": f"{APP}/status?order=7", "account": SID}}
    worker_round(h)
    h.request("POST", "/c/web/delivered", data={"id": message_id_of(sid)})
    h.run(h.outbox(retry_base=0).drain())
    forms = app.forms("/status")
    assert [f["MessageStatus"] for f in forms] == ["sent", "delivered"]  # none for the initial queued
    assert forms[0] == {"AccountSid": SID, "ApiVersion": "2010-04-01", "From": ADDRESS, "MessageSid": sid,
                        "MessageStatus": "sent", "SmsSid": sid, "SmsStatus": "sent", "To": PHONE}
    for request in app.calls:
        assert str(request.url) == f"{APP}/status?order=7"
        assert request.headers["content-type"] == "application/x-www-form-urlencoded"
        assert _validates(request)
        assert not _validates(request, "someone-elses-token-00")
    tokens = [r.headers["I-Twilio-Idempotency-Token"] for r in app.calls]
    assert len(set(tokens)) == 2


def test_a_failed_message_calls_back_with_twilios_error_code(front):
    h, app = front()
    sid = create(h, To=PHONE, From=ADDRESS, Body="x", StatusCallback=f"{APP}/status").json()["sid"]
    worker_round(h)
    h.request("POST", "/c/web/failed", data={"id": message_id_of(sid)})  # the aggregator took it, then it failed
    h.run(h.outbox(retry_base=0).drain())
    assert [(f["MessageStatus"], f.get("ErrorCode")) for f in app.forms("/status")] == [("sent", None),
                                                                                         ("undelivered", "30008")]
    fetched = h.request("GET", f"{BASE}/Messages/{sid}.json", headers=auth()).json()
    twilio_contract.check("GET", ONE, 200, fetched)
    assert (fetched["status"], fetched["error_code"], fetched["error_message"]) == ("undelivered", 30008,
                                                                                    "Unknown error")


def test_an_aggregator_refusal_is_failed_and_an_opt_out_is_21610(front):
    h, app = front()
    app_sends = []

    def refuse(request):
        if request.url.host == "app.example":
            return app(request)
        app_sends.append(request)
        return httpx.Response(400, text="nope")

    h.respond = refuse
    sid = create(h, To=PHONE, From=ADDRESS, Body="x", StatusCallback=f"{APP}/status").json()["sid"]
    worker_round(h)
    h.run(h.outbox(retry_base=0).drain())
    assert [(f["MessageStatus"], f.get("ErrorCode")) for f in app.forms("/status")] == [("failed", "30008")]
    fetched = h.request("GET", f"{BASE}/Messages/{sid}.json", headers=auth()).json()
    assert (fetched["status"], fetched["date_sent"]) == ("failed", None)
    sql(h, "UPDATE messages SET error_code = 'contact_stopped' WHERE id = ?", message_id_of(sid))
    assert h.request("GET", f"{BASE}/Messages/{sid}.json", headers=auth()).json()["error_code"] == 21610


def test_validity_period_drops_a_message_that_waited_too_long(front):
    h, app = front()
    sid = create(h, To=PHONE, From=ADDRESS, Body="too late", ValidityPeriod="1",
                 StatusCallback=f"{APP}/status").json()["sid"]
    time.sleep(1.1)  # its validity runs out while it waits for the worker
    worker_round(h)
    assert app.sends == []
    fetched = h.request("GET", f"{BASE}/Messages/{sid}.json", headers=auth()).json()
    assert (fetched["status"], fetched["error_code"], fetched["error_message"]) == ("failed", 30036,
                                                                                    "Validity Period Expired")
    h.run(h.outbox(retry_base=0).drain())
    assert [(f["MessageStatus"], f.get("ErrorCode")) for f in app.forms("/status")] == [("failed", "30036")]
    in_time = create(h, To=PHONE, From=ADDRESS, Body="in time", ValidityPeriod="600").json()["sid"]
    worker_round(h)
    assert h.request("GET", f"{BASE}/Messages/{in_time}.json", headers=auth()).json()["status"] == "sent"


# -- incoming messages and TwiML replies ----------------------------------------------------------------------


def test_an_incoming_message_reaches_the_webhook_signed_and_its_twiml_replies_go_back(front):
    h, app = front(incoming_url=f"{APP}/sms")
    app.twiml = ('<?xml version="1.0" encoding="UTF-8"?><Response><Message>Thanks &amp; welcome</Message>'
                 f'<Message action="{APP}/status"><Body>second</Body><Media>https://m.example/c.jpg</Media>'
                 '</Message></Response>')
    h.request("POST", "/c/web/receive", data={"from": PHONE, "text": "JOIN"})
    [incoming] = h.messages(direction="in")
    outbox = h.outbox(retry_base=0)
    h.run(outbox.drain())
    [call] = [r for r in app.calls if r.url.path == "/sms"]
    assert _validates(call)
    form = dict(urllib.parse.parse_qsl(call.content.decode(), keep_blank_values=True))
    sid = sid_of(incoming.id)
    assert form == {"ToCountry": "US", "ToState": "", "SmsMessageSid": sid, "NumMedia": "0", "ToCity": "",
                    "FromZip": "", "SmsSid": sid, "FromState": "", "SmsStatus": "received", "FromCity": "",
                    "Body": "JOIN", "FromCountry": "US", "To": ADDRESS, "ToZip": "", "NumSegments": "1",
                    "MessageSid": sid, "AccountSid": SID, "From": PHONE, "ApiVersion": "2010-04-01"}
    replies = sorted(h.messages(direction="out"), key=lambda m: m.text)
    assert [(m.text, m.to, m.channel, m.attachments) for m in replies] == [
        ("Thanks & welcome", PHONE, "web", []), ("second", PHONE, "web", ["https://m.example/c.jpg"])]
    assert {m.id for m in replies} == {reply_id(SID, incoming.id, 0), reply_id(SID, incoming.id, 1)}
    listed = {m["body"]: m for m in _page(h, {"From": ADDRESS})["messages"]}
    assert listed["second"]["direction"] == "outbound-reply" and listed["second"]["sid"].startswith("MM")
    worker_round(h)
    assert sorted(r.content.decode().count("welcome") for r in app.sends) == [0, 1]
    # the reply with an action reports to it
    h.run(outbox.drain())
    assert [f["MessageStatus"] for f in app.forms("/status")] == ["sent"]
    # a webhook delivered again (the application's answer lost) queues no reply twice
    sql(h, "UPDATE outbox SET done_at = NULL WHERE target = 'twilio:incoming'")
    h.run(outbox.drain())
    assert len(h.messages(direction="out")) == 2


def test_an_application_that_fails_is_asked_again_and_a_bad_answer_sends_nothing(front):
    h, app = front(incoming_url=f"{APP}/sms")
    app.status_code = 500
    h.request("POST", "/c/web/receive", data={"from": PHONE, "text": "hi", "id": "mo-1"})
    outbox = h.outbox(retry_base=0)
    h.run(outbox.drain(rounds=1))
    assert len(h.run(h.store.outbox_items(pending=True))) == 1  # kept, to retry
    app.status_code = 200
    app.twiml = "<Response><Message>unclosed"
    sql(h, "UPDATE outbox SET next_attempt_at = created_at")
    h.run(outbox.drain())
    assert h.run(h.store.outbox_items(pending=True)) == []
    assert h.messages(direction="out") == []
    app.twiml = '<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><Response><Message>&x;</Message></Response>'
    h.request("POST", "/c/web/receive", data={"from": PHONE, "text": "again", "id": "mo-2"})
    h.run(outbox.drain())
    assert h.messages(direction="out") == []


def test_without_an_incoming_url_nothing_is_posted(front):
    h, _ = front()
    h.request("POST", "/c/web/receive", data={"from": PHONE, "text": "hi"})
    assert h.run(h.store.outbox_items()) == []


def test_messages_of_the_api_are_the_accounts_too(front):
    """One account owns every channel: a message queued through /api/v1 is listed and fetched by its SID."""
    h, _ = front()
    message = h.run(h.gateway.prepare("web", PHONE, "from the API"))
    record, _ = h.run(h.gateway.enqueue(message))
    fetched = h.request("GET", f"{BASE}/Messages/{sid_of(record.id)}.json", headers=auth()).json()
    twilio_contract.check("GET", ONE, 200, fetched)
    assert fetched["body"] == "from the API" and fetched["direction"] == "outbound-api"


def test_an_unknown_sid_is_404_not_a_crash(front):
    h, _ = front()
    for sid in ("SM" + uuid.uuid4().hex, "MM" + "F" * 32, "SM" + "0" * 31 + "g", "x" * 500):
        response = h.request("GET", f"{BASE}/Messages/{sid}.json", headers=auth())
        assert response.status_code == 404 and response.json()["code"] == 20404


# -- routes and tenants -----------------------------------------------------------------------------------------

TENANT_SID = "AC" + "7a" * 16
TENANT_TOKEN = "acme-twilio-auth-token-44"
TENANT_BASE = f"/2010-04-01/Accounts/{TENANT_SID}"
ACME = {"acme": {"token": "acme-api-token-0123456789", "channels": ["alt"], "daily_limit": 2,
                 "twilio_api": {"account_sid": TENANT_SID, "auth_token": TENANT_TOKEN,
                                "incoming_url": f"{APP}/acme-sms"}}}


def test_without_a_from_of_ours_the_routes_pick_by_to(front):
    h, _ = front(two=True, routes=[{"to": ["+1202555019"], "channels": ["alt"]}], default_channel="web")

    def channel_of(**form):
        response = create(h, **form)
        assert response.status_code == 201, response.text
        return h.message(message_id_of(response.json()["sid"])).channel

    assert channel_of(To="+12025550199", From="+15005550006", Body="routed") == "alt"
    assert channel_of(To="+12025550199", From=ADDRESS, Body="named") == "web"  # a From of ours wins
    assert channel_of(To="+12025550123", From="+15005550006", Body="no route") == "web"  # the default's


def test_a_number_no_route_takes_and_no_default_is_21612(front):
    h, _ = front(two=True, routes=[{"to": ["+44"], "channels": ["alt"]}])
    before = stored(h)
    response = create(h, To=PHONE, From="+15005550006", Body="nowhere")
    assert response.status_code == 400 and response.json()["code"] == 21612
    assert create(h, To="not a number", From="+15005550006", Body="x").json()["code"] == 21211
    assert stored(h) == before


def test_a_tenants_account_sees_and_sends_on_its_channels_only(front):
    h, _ = front(two=True, tenants=ACME)
    theirs = h.request("POST", f"{TENANT_BASE}/Messages.json", headers=auth(TENANT_SID, TENANT_TOKEN),
                       data={"To": PHONE, "From": ADDRESS, "Body": "from acme"})  # web's address: not acme's
    assert theirs.status_code == 201, theirs.text
    record = h.message(message_id_of(theirs.json()["sid"]))
    assert (record.channel, record.tenant) == ("alt", "acme")
    ours = create(h, To=PHONE, From=ADDRESS, Body="the operator's").json()["sid"]
    tenant_auth = auth(TENANT_SID, TENANT_TOKEN)
    listed = h.request("GET", f"{TENANT_BASE}/Messages.json", headers=tenant_auth).json()
    assert [m["sid"] for m in listed["messages"]] == [theirs.json()["sid"]]
    assert listed["messages"][0]["account_sid"] == TENANT_SID
    assert h.request("GET", f"{TENANT_BASE}/Messages/{ours}.json", headers=tenant_auth).json()["code"] == 20404
    assert h.request("GET", f"{BASE}/Messages.json", headers=tenant_auth).json()["code"] == 20404  # not its path
    assert h.request("GET", f"{TENANT_BASE}/Messages.json", headers=auth()).json()["code"] == 20404
    assert len(_page(h, {})["messages"]) == 2  # the operator's account sees every channel
    # its daily limit: Twilio's 429, nothing stored
    assert h.request("POST", f"{TENANT_BASE}/Messages.json", headers=tenant_auth,
                     data={"To": PHONE, "From": OTHER, "Body": "second"}).status_code == 201
    before = stored(h)
    limited = h.request("POST", f"{TENANT_BASE}/Messages.json", headers=tenant_auth,
                        data={"To": PHONE, "From": OTHER, "Body": "third"})
    assert limited.status_code == 429 and limited.json()["code"] == 20429 and int(limited.headers["retry-after"]) >= 1
    assert stored(h) == before


def test_each_account_whose_channel_it_is_hears_an_incoming_message(front):
    h, app = front(two=True, tenants=ACME, incoming_url=f"{APP}/sms")
    app.twiml = "<Response><Message>hello from whoever answers</Message></Response>"
    h.request("POST", "/c/alt/receive", data={"from": PHONE, "text": "to alt"})
    h.request("POST", "/c/web/receive", data={"from": PHONE, "text": "to web"})
    h.run(h.outbox(retry_base=0).drain())
    calls = {(r.url.path, dict(urllib.parse.parse_qsl(r.content.decode()))["Body"]): r for r in app.calls}
    assert set(calls) == {("/sms", "to alt"), ("/acme-sms", "to alt"), ("/sms", "to web")}
    assert _validates(calls["/acme-sms", "to alt"], TENANT_TOKEN) and _validates(calls["/sms", "to alt"])
    assert dict(urllib.parse.parse_qsl(calls["/acme-sms", "to alt"].content.decode()))["AccountSid"] == TENANT_SID
    replies = h.messages(direction="out")
    assert sorted((m.channel, m.tenant or "") for m in replies) == [("alt", ""), ("alt", "acme"), ("web", "")]


@pytest.mark.parametrize(("tenant_api", "field"), [
    ({"account_sid": SID, "auth_token": TENANT_TOKEN}, "tenants.acme.twilio_api.account_sid"),
    ({"account_sid": TENANT_SID, "auth_token": TENANT_TOKEN, "default_channel": "web"},
     "tenants.acme.twilio_api.default_channel"),
    ({"account_sid": TENANT_SID, "auth_token": "short"}, "tenants.acme.twilio_api.auth_token"),
])
def test_a_tenants_account_is_checked_too(tenant_api, field):
    channels = {name: {"adapter": "http", "send_url": "http://aggregator.test/send"} for name in ("web", "alt")}
    with pytest.raises(ConfigError) as caught:
        config_from_dict({"channels": channels, "twilio_api": {"account_sid": SID, "auth_token": TOKEN},
                          "tenants": {"acme": {"token": "acme-api-token-0123456789", "channels": ["alt"],
                                               "twilio_api": tenant_api}}}, installed_adapters())
    assert field in {problem.key for problem in caught.value.problems}, caught.value
