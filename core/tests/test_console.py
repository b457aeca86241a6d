"""The /ui console over ASGI: sign-in, sessions, CSRF, and what each page shows (the browser tests drive the
same pages in Chromium, tests/system/test_console_browser.py)."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from itsdangerous import URLSafeTimedSerializer
from smsgate.config._secrets import hash_password

from tests.support.toy_adapter import Toy

TOKEN = "console-test-token-0123456789"
SECRET = "hunter2-toy"  # the toy adapter's password: it must never show on a page
PASSWORD = "correct horse battery staple"


@pytest.fixture
def gate(smsgate_harness):
    """A harness with one toy channel `t` whose gateway has an api_token (and `settings`)."""

    def make(respond=None, **settings):
        return smsgate_harness({"t": {"adapter": "toy", "country": "RW", "max_retry_wait": 0}},
                               gateway={"api_token": TOKEN, **settings}, adapters=[Toy],
                               respond=respond or (lambda r: httpx.Response(200, text="ext-1")))

    return make


def csrf_of(html):
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def sign_in(h, secret=TOKEN):
    page = h.request("GET", "/ui/login")
    assert page.status_code == 200
    return h.request("POST", "/ui/login", data={"csrf_token": csrf_of(page.text), "secret": secret,
                                                "next": "/ui/messages"})


def test_pages_need_a_session_and_sign_in_takes_the_token(gate):
    h = gate()
    for path in ("/ui/", "/ui/channels", "/ui/messages", "/ui/outbox", "/ui/send", f"/ui/messages/{uuid.uuid4()}"):
        r = h.request("GET", path)
        assert r.status_code == 303 and r.headers["location"].startswith("/ui/login?next=")
    wrong = sign_in(h, "not-the-token")
    assert wrong.status_code == 401 and "Wrong token or password." in wrong.text
    assert h.request("GET", "/ui/channels").status_code == 303  # still signed out
    ok = sign_in(h)
    assert ok.status_code == 303 and ok.headers["location"] == "/ui/messages"
    cookie = ok.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/ui" in cookie
    assert h.request("GET", "/ui/channels").status_code == 200


def test_a_console_password_signs_in_and_is_stored_hashed_only(gate):
    h = gate(console_password_hash=hash_password(PASSWORD))
    assert sign_in(h, "wrong password").status_code == 401
    assert sign_in(h, PASSWORD).status_code == 303
    assert h.request("GET", "/ui/channels").status_code == 200


def test_without_credentials_configured_the_console_is_off(toy):
    h = toy()
    r = h.request("GET", "/ui/login")
    assert r.status_code == 403 and "The console is off" in r.text
    assert h.request("GET", "/ui/channels").status_code == 403


def test_next_never_leaves_the_console(gate):
    h = gate()
    for target in ("https://evil.example/", "//evil.example/x", "/api/v1/messages", "/ui\\..\\x"):
        h._client.cookies.clear()
        page = h.request("GET", "/ui/login")
        r = h.request("POST", "/ui/login", data={"csrf_token": csrf_of(page.text), "secret": TOKEN, "next": target})
        assert r.headers["location"] == "/ui/channels", target


def test_forms_without_the_sessions_csrf_token_are_refused(gate):
    h = gate()
    page = h.request("GET", "/ui/login")
    assert h.request("POST", "/ui/login", data={"secret": TOKEN}).status_code == 403  # login CSRF too
    assert h.request("POST", "/ui/login", data={"secret": TOKEN, "csrf_token": "guess"}).status_code == 403
    sign_in(h)
    form = {"channel": "t", "to": "0788383383", "text": "hello"}
    for token in (None, "", csrf_of(page.text) + "x"):
        data = dict(form) if token is None else {**form, "csrf_token": token}
        r = h.request("POST", "/ui/send", data=data)
        assert r.status_code == 403 and "CSRF" in r.text
    assert h.requests == [] and h.messages() == []  # nothing was sent or stored
    good = csrf_of(h.request("GET", "/ui/send").text)
    foreign = h.request("POST", "/ui/send", data={**form, "csrf_token": good},
                        headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403 and h.messages() == []
    assert h.request("POST", "/ui/logout", data={"go": "1"}).status_code == 403
    assert h.request("POST", "/ui/logout", data={"csrf_token": good}).status_code == 303
    assert h.request("GET", "/ui/channels").status_code == 303


def test_the_sixth_wrong_sign_in_in_a_minute_answers_429_with_retry_after(gate):
    h = gate(console_password_hash=hash_password(PASSWORD))
    for _ in range(5):
        assert sign_in(h, "not the password").status_code == 401
    refused = sign_in(h, "not the password")
    assert refused.status_code == 429 and "Too many wrong sign-ins" in refused.text
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert sign_in(h, PASSWORD).status_code == 429  # the right secret too: the address waits out its minute
    assert h.request("GET", "/ui/channels").status_code == 303


def test_a_right_sign_in_does_not_count_against_the_address(gate):
    h = gate()
    for _ in range(4):
        assert sign_in(h, "wrong").status_code == 401
    for _ in range(3):
        assert sign_in(h).status_code == 303
        h._client.cookies.clear()
    assert sign_in(h, "wrong").status_code == 401  # the fifth wrong one
    assert sign_in(h).status_code == 429


def test_signing_out_ends_the_session_for_every_copy_of_its_cookie(gate):
    h = gate()
    assert sign_in(h).status_code == 303
    copy = h._client.cookies["smsgate_console"]  # e.g. taken from the browser before signing out
    page = h.request("GET", "/ui/channels")
    out = h.request("POST", "/ui/logout", data={"csrf_token": csrf_of(page.text)})
    assert out.status_code == 303 and out.headers["location"] == "/ui/login"
    h._client.cookies.set("smsgate_console", copy, path="/ui")
    assert h.request("GET", "/ui/channels").status_code == 303
    assert h.request("GET", "/ui/login").status_code == 200  # the sign-in form, not a loop back to the pages
    h._client.cookies.clear()
    assert sign_in(h).status_code == 303 and h.request("GET", "/ui/channels").status_code == 200  # a new session


def test_a_session_from_another_gateway_or_tampered_is_refused(gate):
    a, b = gate(), gate(api_token="another-gateways-token-987654")
    assert sign_in(b, "another-gateways-token-987654").status_code == 303
    b_cookie = b._client.cookies["smsgate_console"]
    a._client.cookies.set("smsgate_console", b_cookie, path="/ui")
    assert a.request("GET", "/ui/channels").status_code == 303
    forged = URLSafeTimedSerializer(b"guessed key", salt="smsgate-console").dumps({"user": "token", "csrf": "x"})
    a._client.cookies.set("smsgate_console", forged, path="/ui")
    assert a.request("GET", "/ui/channels").status_code == 303
    r = a.request("POST", "/ui/send", data={"csrf_token": "x", "channel": "t", "to": "0788383383", "text": "hi"})
    assert r.status_code == 403 and a.messages() == []


def test_send_form_sends_through_the_adapter_once_and_shows_the_message(gate):
    h = gate()
    sign_in(h)
    page = h.request("GET", "/ui/send")
    form_id = re.search(r'name="id" value="([^"]+)"', page.text).group(1)
    data = {"csrf_token": csrf_of(page.text), "id": form_id, "channel": "t", "to": "0788383383", "text": "hi there"}
    r = h.request("POST", "/ui/send", data=data)
    assert r.status_code == 303 and r.headers["location"] == f"/ui/messages/{form_id}?done=sent"
    again = h.request("POST", "/ui/send", data=data)  # a double submit
    assert again.headers["location"] == r.headers["location"] and len(h.requests) == 1
    shown = h.request("GET", r.headers["location"])
    assert "Sent through t: wired." in shown.text and "+250788383383" in shown.text
    assert SECRET not in shown.text and "**********" in shown.text  # the logged request, redacted
    bad = h.request("POST", "/ui/send", data={**data, "id": str(uuid.uuid4()), "to": "MTN"})
    assert bad.status_code == 422 and "not a possible number" in bad.text
    assert len(h.messages()) == 1


def test_message_page_shows_history_logs_and_deliveries(gate):
    h = gate(webhooks=[{"url": "https://hooks.example/x?key=k", "secret": "webhook-secret"}])
    outcome = h.send("t", "+250788383383", "a <b>bold</b> text")
    h.request("POST", "/c/t/status", data={"ext": "ext-1", "status": "delivered"})
    sign_in(h)
    page = h.request("GET", f"/ui/messages/{outcome.message.id}").text
    statuses = re.findall(r'<ol class="timeline".*?</ol>', page, re.S)[0]
    assert re.findall(r'class="badge s-(\w+)"', statuses) == ["queued", "wired", "delivered"]
    assert "a &lt;b&gt;bold&lt;/b&gt; text" in page  # escaped, never markup
    assert page.count('<section class="card log') == 2  # the send and the delivery report
    assert "/c/t/status" in page and "password=**********" in page and SECRET not in page
    assert page.count("message.status_changed") == 3  # queued, wired, delivered: one webhook call each


def test_failed_message_can_be_resent_once(gate):
    h = gate(respond=lambda request: httpx.Response(400, text="no"))
    failed = h.send("t", "+250788383383", "hello").message
    assert failed.status == "failed"
    sign_in(h)
    page = h.request("GET", f"/ui/messages/{failed.id}")
    assert "Resend as a new message" in page.text
    h.respond = lambda request: httpx.Response(200, text="ext-2")
    r = h.request("POST", f"/ui/messages/{failed.id}/resend", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 303
    copy = h.request("GET", r.headers["location"]).text
    assert "Resent as this new message: wired." in copy and f"/ui/messages/{failed.id}" in copy
    original = h.request("GET", f"/ui/messages/{failed.id}").text
    assert "Resend as a new message" not in original and "Resent as" in original
    twice = h.request("POST", f"/ui/messages/{failed.id}/resend", data={"csrf_token": csrf_of(page.text)})
    assert twice.headers["location"] == r.headers["location"] and len(h.requests) == 2


def test_messages_filters_and_pages(gate):
    h = gate()
    for i in range(55):
        h.send("t", f"+25078838{i:04d}", f"note {i}")
    h.request("POST", "/c/t/receive", data={"from": "0788380007", "text": "a reply"})
    sign_in(h)
    first = h.request("GET", "/ui/messages").text
    assert first.count('<tr>\n    <td><a href="/ui/messages/') == 50
    older = re.search(r'href="/ui/messages(\?cursor=[^"]+)" rel="next"', first).group(1)
    second = h.request("GET", "/ui/messages" + older.replace("&amp;", "&")).text
    assert second.count('<tr>\n    <td><a href="/ui/messages/') == 6 and 'rel="next"' not in second
    by_number = h.request("GET", "/ui/messages", params={"number": "0788380007", "channel": "t"}).text
    assert "Number read as +250788380007" in by_number and by_number.count("<td>+250788380007</td>") == 2
    assert h.request("GET", "/ui/messages", params={"text": "REPLY"}).text.count("a reply") == 1
    inbound = h.request("GET", "/ui/messages", params={"direction": "in"}).text
    assert inbound.count('<span class="badge s-received">') == 1
    bad = h.request("GET", "/ui/messages", params={"status": "nope", "cursor": "zzz"})
    assert bad.status_code == 400 and "unknown status" in bad.text
    assert h.request("GET", "/ui/messages", params={"cursor": "zzz"}).status_code == 400


def test_channels_page_and_security_headers(gate):
    h = gate(respond=lambda request: httpx.Response(500, text="down"))
    h.send("t", "+250788383383", "hello")
    sign_in(h)
    r = h.request("GET", "/ui/channels")
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert r.headers["x-frame-options"] == "DENY" and r.headers["cache-control"] == "no-store"
    assert '<svg class="chart"' in r.text and "1 errored" in r.text
    assert 'class="health h-failing"' in r.text and "HTTP 500" in r.text  # the last error, from the log
    assert re.findall(r'(?:src|href)="(https?:)?//', r.text) == []  # nothing from elsewhere
    assert h.request("GET", "/ui/static/htmx-2.0.11.min.js").status_code == 200
    assert h.request("GET", "/ui/channels/live").text.startswith('<div id="channel-list"')


def test_console_password_command_prints_a_hash_that_signs_in(gate):
    from smsgate_cli.main import app
    from typer.testing import CliRunner

    runner = CliRunner()
    short = runner.invoke(app, ["console-password", "--stdin"], input="too short\n")
    assert short.exit_code == 2 and "at least 12 characters" in short.output
    asked = runner.invoke(app, ["console-password"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert asked.exit_code == 0 and PASSWORD not in asked.stdout.splitlines()[-1]
    printed = runner.invoke(app, ["console-password", "--stdin"], input=f"{PASSWORD}\n")
    assert printed.exit_code == 0 and PASSWORD not in printed.stdout
    line = printed.stdout.strip()
    assert re.fullmatch(r'console_password_hash = "scrypt\$32768\$8\$1\$[^"]+"', line)
    h = gate(console_password_hash=line.split('"')[1])
    assert sign_in(h, PASSWORD).status_code == 303


def test_malformed_requests_get_a_4xx_never_a_5xx(gate):
    h = gate()
    raw = {"content": b"csrf_token=\xff\xfe&secret=x", "headers": {"Content-Type": "application/x-www-form-urlencoded"}}
    assert h.request("POST", "/ui/login", **raw).status_code == 400
    assert h.request("POST", "/ui/login", content=b"{}", headers={"Content-Type": "application/json"}).status_code \
        == 415
    big = h.request("POST", "/ui/login", content=b"a=" + b"x" * 70_000,
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert big.status_code == 413
    sign_in(h)
    for path, params in [("/ui/messages", {"cursor": "\x00" * 3}),
                         ("/ui/messages", {"number": "+\x00%", "text": "%_\\"}),
                         ("/ui/messages", {"channel": "<script>", "direction": "sideways"}),
                         ("/ui/messages/%00%ff", None), ("/ui/messages/" + "x" * 5000, None),
                         ("/ui/outbox", {"show": "\x00"}), ("/ui/send", {"channel": "nope"})]:
        r = h.request("GET", path, params=params)
        assert 200 <= r.status_code < 500, (path, params, r.status_code)
        assert "<script>" not in r.text
    csrf = csrf_of(h.request("GET", "/ui/send").text)
    for form in ({"csrf_token": csrf}, {"csrf_token": csrf, "channel": "t", "to": "", "text": ""},
                 {"csrf_token": csrf, "channel": "t", "to": "0788383383", "text": "", "id": "not-a-uuid"}):
        r = h.request("POST", "/ui/send", data=form)
        assert r.status_code == 422, (form, r.status_code)
    assert h.request("POST", "/ui/messages/nope/resend", data={"csrf_token": csrf}).status_code == 404


def test_a_tenant_signs_in_with_its_token_and_sees_only_its_channels(smsgate_harness):
    acme = "acme-console-token-0123456789"
    h = smsgate_harness({"t": {"adapter": "toy", "country": "RW", "url": "http://t.test/send"},
                         "u": {"adapter": "toy", "country": "RW", "url": "http://u.test/send"}},
                        gateway={"api_token": TOKEN}, adapters=[Toy], routes=[{"channels": ["t", "u"]}],
                        tenants={"acme": {"token": acme, "channels": ["u"]}},
                        respond=lambda r: httpx.Response(200, text=f"ext-{uuid.uuid4().hex}"))
    theirs = h.send("t", "+250788383383", "operator's, on t").message
    ours = h.send("u", "+250788383383", "operator's, on u").message
    assert sign_in(h, acme).status_code == 303
    channels = h.request("GET", "/ui/channels").text
    assert 'id="ch-u"' in channels and 'id="ch-t"' not in channels
    listing = h.request("GET", "/ui/messages").text
    assert ours.id in listing and theirs.id not in listing
    assert h.request("GET", "/ui/messages?channel=t").status_code == 400
    assert h.request("GET", f"/ui/messages/{theirs.id}").status_code == 404  # as an unknown id
    assert h.request("GET", f"/ui/messages/{uuid.uuid4()}").status_code == 404
    assert h.request("GET", f"/ui/messages/{ours.id}").status_code == 200
    assert h.request("GET", "/ui/outbox").status_code == 403
    form = h.request("GET", "/ui/send").text
    assert 'value="u"' in form and 'value="t"' not in form and "(routed by the number)" in form
    refused = h.request("POST", "/ui/send", data={"csrf_token": csrf_of(form), "channel": "t", "to": "0788383383",
                                                  "text": "x", "id": str(uuid.uuid4())})
    assert refused.status_code == 422
    routed = h.request("POST", "/ui/send", data={"csrf_token": csrf_of(form), "channel": "", "to": "0788383383",
                                                 "text": "routed", "id": str(uuid.uuid4())})
    assert routed.status_code == 303
    sent = h.message(routed.headers["location"].rsplit("/", 1)[1].split("?")[0])
    assert sent.channel == "u" and sent.tenant == "acme"
