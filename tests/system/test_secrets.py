"""No configured secret ever shows: not in channel logs, stored messages and their error reasons, the database, the
webhook outbox, `smsgate logs` / `smsgate messages` output (JSON and tables), the /ui console's pages and
/metrics, Python logging, answers to inbound callers, or the recorded cassettes.

Every adapter is configured with known secrets (http: `send_authorization`, `inbound_secret`,
`inbound_password`, credential `headers`; twilio: `auth_token`; kannel: `password`; the gateway: `api_token` and
a webhook secret; a tenant: its token and its webhook's secret), then exercised: sends answered 2xx, 4xx, 429
and 5xx by a fake aggregator that echoes back everything it received (URL, headers, body, decoded and not),
transport errors whose messages quote the request, routed sends failing over, a tenant's API calls, the send
worker giving up, and inbound callbacks with right and wrong credentials. Then everything is scanned for each
secret in plain, URL-encoded (quote and quote_plus) and base64 forms, including base64 `user:secret` basic-auth
values.
"""

from __future__ import annotations

import ast
import base64
import json
import logging
import sqlite3
import urllib.parse
from pathlib import Path
from typing import Any

import httpx
import pytest
from smsgate.host import open_outbox, open_worker
from smsgate.plugins import get_adapters
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[2]
CASSETTES = ROOT / "cassettes"

SEND_AUTHORIZATION = "Bearer sendauth-S3cr3t/41f7+x=="
INBOUND_SECRET = "inbound-S3cr3t&9c2e=/+"
INBOUND_USER = "aggregator"
INBOUND_PASSWORD = "inb0und-P@ss:w/rd+&=9d"
HEADER_USER, HEADER_PASSWORD = "hdruser", "hdr-S3cr3t-77!"
HEADER_AUTHORIZATION = "Basic " + base64.b64encode(f"{HEADER_USER}:{HEADER_PASSWORD}".encode()).decode()
API_KEY = "apikey-S3cr3t-55aa"
TWILIO_SID = "AC" + "3" * 32
TWILIO_TOKEN = "twilio-auth-T0ken/5b1d+"
KANNEL_USER = "gate"
KANNEL_PASSWORD = "kannel-P@ss+w0rd&1 x/%"
API_TOKEN = "api-T0ken-for-secrets-test"
WEBHOOK_SECRET = "webhook-S3cr3t-0f9e"
TENANT_TOKEN = "tenant-T0ken/for+secrets&test"
TENANT_HOOK_SECRET = "tenant-hook-S3cr3t-7a1c"

USERS = [INBOUND_USER, HEADER_USER, TWILIO_SID, KANNEL_USER, ""]
SECRETS = [SEND_AUTHORIZATION, SEND_AUTHORIZATION.split(" ", 1)[1], INBOUND_SECRET, INBOUND_PASSWORD,
           HEADER_AUTHORIZATION, HEADER_AUTHORIZATION.split(" ", 1)[1], HEADER_PASSWORD, API_KEY, TWILIO_TOKEN,
           KANNEL_PASSWORD, API_TOKEN, WEBHOOK_SECRET, TENANT_TOKEN, TENANT_HOOK_SECRET]
TO = "+12025550123"


def forms(secret: str, users: list[str] = USERS) -> set[str]:
    """Every way a secret may be written: plain, URL-encoded, base64, and base64 `user:secret` (basic auth)."""
    found = {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret),
             base64.b64encode(secret.encode()).decode()}
    for user in users:
        found.add(base64.b64encode(f"{user}:{secret}".encode()).decode())
    return found


def find_secrets(text: str, secrets: list[str] = SECRETS, users: list[str] = USERS) -> list[str]:
    """The secrets (by their first characters) found in `text` in any form."""
    return [f"{s[:6]}… as {f[:10]}…" for s in secrets for f in forms(s, users) if f in text]


def test_the_scanner_finds_every_form():
    for secret in SECRETS:
        for form in forms(secret):
            assert find_secrets(f"xx{form}yy"), form
    assert find_secrets("Authorization: Basic " + base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode())
    assert not find_secrets("masked: **********")


# -- the gateway under test ---------------------------------------------------------------------------------------


def _channels() -> dict[str, dict[str, Any]]:
    installed = get_adapters()
    channels: dict[str, dict[str, Any]] = {
        "ex": {"adapter": "http", "country": "US", "send_url": "https://aggregator.example/send?to={{to}}",
               "content_type": "json", "send_authorization": SEND_AUTHORIZATION, "inbound_secret": INBOUND_SECRET,
               "inbound_username": INBOUND_USER, "inbound_password": INBOUND_PASSWORD},
        "hx": {"adapter": "http", "country": "US", "send_url": "https://aggregator.example/hx",
               "headers": {"Authorization": HEADER_AUTHORIZATION, "X-Api-Key": API_KEY}},
        "tw": {"adapter": "twilio", "account_sid": TWILIO_SID, "auth_token": TWILIO_TOKEN, "address": "+12025550100",
               "base_url": "https://api.twilio.example"},
    }
    if "kannel" in installed:
        channels["kn"] = {"adapter": "kannel", "country": "US", "address": "2020",
                          "send_url": "http://kannel.example:13013/cgi-bin/sendsms", "username": KANNEL_USER,
                          "password": KANNEL_PASSWORD}
    for channel in channels.values():
        channel.update(max_attempts=2, max_retry_wait=0, timeout=5)
    return channels


def _echo(request: httpx.Request) -> str:
    """Everything the request carried, raw and decoded: the worst an aggregator can send back."""
    body = request.content.decode("utf-8", "replace")
    return (f"{request.method} {request.url} | {urllib.parse.unquote_plus(str(request.url))} | "
            f"{dict(request.headers)} | {body} | {urllib.parse.unquote_plus(body)}")


class EchoingAggregator:
    """Answers each request by the current `mode`, always echoing the request back."""

    def __init__(self) -> None:
        self.mode = "ok"

    def __call__(self, request: httpx.Request) -> httpx.Response:
        echo = _echo(request)
        twilio = "twilio" in request.url.host
        if self.mode == "connect":
            raise httpx.ConnectError(f"cannot connect: {echo}", request=request)
        if self.mode == "timeout":
            raise httpx.ReadTimeout(f"no answer: {echo}", request=request)
        status = {"ok": 200, "rejected": 401, "throttled": 429, "down": 500}[self.mode]
        headers = {"Retry-After": "0", "X-Echo": urllib.parse.quote(echo[:800], safe="")}
        if twilio:
            body = {"sid": "SMsecrets0001", "num_segments": "1"} if status == 200 else {
                "code": 20003 if status == 401 else 20500, "message": echo}
            return httpx.Response(status, json={**body, "echo": echo}, headers=headers)
        return httpx.Response(status, text=echo, headers=headers)


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def _exercise_inbound(harness: Any) -> list[str]:
    """Callbacks with right and wrong credentials on every channel; returns every answer's body."""
    from smsgate_twilio import compute_signature

    answers = []

    def call(method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = harness.request(method, path, **kwargs)
        answers.append(f"{response.status_code} {dict(response.headers)} {response.text}")
        return response

    mo = {"from": TO, "text": "hello"}
    secret_header = {"X-Smsgate-Secret": INBOUND_SECRET}
    assert call("POST", "/c/ex/receive", data=mo, headers=secret_header).status_code == 200
    assert call("POST", "/c/ex/receive", data=mo, headers=_basic(INBOUND_USER, INBOUND_PASSWORD)).status_code == 200
    for wrong in ({"X-Smsgate-Secret": INBOUND_SECRET + "x"}, {"X-Smsgate-Secret": "x" + INBOUND_SECRET},
                  _basic(INBOUND_USER, INBOUND_PASSWORD + "x"), _basic("someone", INBOUND_PASSWORD),
                  _basic(INBOUND_USER, INBOUND_SECRET), {"Authorization": f"Bearer {INBOUND_PASSWORD}"}, {}):
        assert call("POST", "/c/ex/receive", data=mo, headers=wrong).status_code == 401
    assert call("GET", "/c/ex/delivered", params={"id": "not-a-uuid", "secret": INBOUND_SECRET},
                headers=secret_header).status_code == 400
    # twilio: signed, forged, and a status callback
    form = {"MessageSid": "SMin0001", "AccountSid": TWILIO_SID, "From": TO, "To": "+12025550100", "Body": "hi"}
    signature = compute_signature(TWILIO_TOKEN, "https://gateway.example/c/tw/receive", list(form.items()))
    assert call("POST", "/c/tw/receive", data=form, headers={"X-Twilio-Signature": signature}).status_code == 200
    assert call("POST", "/c/tw/receive", data={**form, "Body": TWILIO_TOKEN},
                headers={"X-Twilio-Signature": signature}).status_code == 403
    assert call("POST", "/c/tw/receive", data=form, headers=_basic(TWILIO_SID, TWILIO_TOKEN)).status_code == 403
    # not the sid the sends get: a report that arrived first would be applied to the send that gets its sid
    status = {"MessageSid": "SMsecrets0002", "MessageStatus": "delivered"}
    signature = compute_signature(TWILIO_TOKEN, "https://gateway.example/c/tw/status", list(status.items()))
    assert call("POST", "/c/tw/status", data=status, headers={"X-Twilio-Signature": signature}).status_code == 200
    if "kn" in harness.gateway.adapters:
        query = {"sender": TO, "id": "mo-1", "ts": "1700000000", "message": "hi"}
        assert call("GET", "/c/kn/receive", params=query).status_code == 200
        assert call("GET", "/c/kn/status", params={"id": "nope", "status": "1"}).status_code == 400
        unknown_type = {"id": "5d0c7a4e-3f0e-4c1b-9a57-0c6f1e2d3b4a", "status": "3", "smsc_reply": "ACK/"}
        assert call("GET", "/c/kn/status", params=unknown_type).status_code == 200  # logged as a warning
    # every channel masks every secret of the config, not only its own: other channels', the API token and the
    # webhook secret, sent (by mistake or by an attacker) to a route that stores its parameters
    foreign = {"x": API_TOKEN, "y": WEBHOOK_SECRET, "z": TWILIO_TOKEN, "w": KANNEL_PASSWORD, "v": HEADER_PASSWORD,
               "u": TENANT_TOKEN, "t": TENANT_HOOK_SECRET}
    assert call("POST", "/c/ex/receive", data={**mo, **foreign}, headers=secret_header).status_code == 200
    if "kn" in harness.gateway.adapters:
        query = {"sender": TO, "id": "mo-2", "ts": "1700000000", "message": "hi", **foreign}
        assert call("GET", "/c/kn/receive", params=query).status_code == 200
    assert call("POST", "/c/tw/status", data={**status, **foreign}, headers={"X-Twilio-Signature": compute_signature(
        TWILIO_TOKEN, "https://gateway.example/c/tw/status", list({**status, **foreign}.items()))}).status_code == 200
    return answers


def _exercise_sends(harness: Any, aggregator: EchoingAggregator) -> None:
    """Every channel through every aggregator answer and transport error, then the worker gives up on the rest."""
    for mode in ("ok", "rejected", "throttled", "down", "connect", "timeout"):
        aggregator.mode = mode
        for channel in harness.gateway.adapters:
            outcome = harness.send(channel, TO, f"{mode} via {channel}")
            # a timeout after the request left is final at once: the aggregator may have the message
            expected = {"ok": "wired", "rejected": "failed", "timeout": "failed"}.get(mode, "errored")
            assert outcome.message.status == expected, (channel, mode, outcome.message)
    # routed sends that fail over (their reasons name both channels), and a tenant's requests, right and wrong
    tenant = {"Authorization": f"Bearer {TENANT_TOKEN}"}
    for mode in ("connect", "down", "ok"):
        aggregator.mode = mode
        harness.send(None, TO, f"routed {mode}")
        assert harness.request("POST", "/api/v1/messages", headers=tenant,
                               json={"to": TO, "text": f"tenant {mode}"}).status_code == 202
    assert harness.request("POST", "/api/v1/messages", headers=tenant,
                           json={"channel": "tw", "to": TO, "text": "not its channel"}).status_code == 422
    assert harness.request("GET", "/api/v1/messages", headers={
        "Authorization": f"Bearer {TENANT_TOKEN}x"}).status_code == 401
    harness.run(open_outbox(harness.gateway, retry_base=0).drain())
    aggregator.mode = "down"
    worker = open_worker(harness.gateway, max_attempts=1, retry_base=0.01)
    harness.run(worker.drain())
    assert not harness.messages(status="errored"), "the worker should have given up on every errored message"


@pytest.fixture
def exercised(smsgate_harness, caplog):
    """A gateway with every adapter's secrets, after sends and callbacks of every kind."""
    caplog.set_level(logging.DEBUG)  # every logger, every level: what `smsgate --debug` would print
    aggregator = EchoingAggregator()
    harness = smsgate_harness(_channels(), respond=aggregator, gateway={
        "api_token": API_TOKEN, "webhooks": [{"url": "https://hooks.example/in", "secret": WEBHOOK_SECRET}]},
        routes=[{"channels": ["ex", "hx"]}], tenants={"acme": {
            "token": TENANT_TOKEN, "channels": ["ex", "hx"],
            "webhooks": [{"url": "https://hooks.example/acme", "secret": TENANT_HOOK_SECRET}]}})
    answers = _exercise_inbound(harness)
    _exercise_sends(harness, aggregator)
    return harness, answers


# -- the scans ----------------------------------------------------------------------------------------------------


def test_channel_logs_messages_and_error_reasons(exercised):
    harness, _ = exercised
    logs = harness.logs(limit=100_000)
    assert len(logs) > 30  # sends, retries and callbacks were all logged...
    assert any("**********" in json.dumps(log) for log in logs)  # ...with their credentials masked
    assert find_secrets(json.dumps(logs, ensure_ascii=False)) == []
    records = [harness.message(m.id) for m in harness.messages(limit=100_000)]
    reasons = [h.get("error_reason") or "" for r in records for h in r.history]
    assert any(reasons), "the sends were meant to fail with reasons"
    assert find_secrets(json.dumps([r.as_dict() for r in records], ensure_ascii=False)) == []


def test_the_database_file(exercised):
    """Every table (outbox payloads included), read back from the SQLite file itself."""
    harness, _ = exercised
    with sqlite3.connect(harness.config.gateway.database) as conn:
        dump = "\n".join(conn.iterdump())
    assert "INSERT INTO \"outbox\"" in dump
    assert find_secrets(dump) == []


def test_answers_to_callers(exercised):
    _, answers = exercised
    assert any(a.startswith("401 ") for a in answers) and any(a.startswith("403 ") for a in answers)
    assert find_secrets("\n".join(answers)) == []


def test_cli_logs_messages_show_and_outbox(exercised, tmp_path):
    from smsgate_cli.main import app

    harness, _ = exercised
    config = tmp_path / "smsgate.toml"
    config.write_text(f"[gateway]\ndatabase = {json.dumps(harness.config.gateway.database)}\n")
    runner = CliRunner()
    outputs = []
    for command in (["logs", "--json"], ["logs"], ["logs", "--errors", "--json"], ["messages", "--json"],
                    ["messages"]):
        result = runner.invoke(app, ["--config", str(config), *command, "--limit", "100000"])
        assert result.exit_code == 0, result.output
        outputs.append(result.output)
    assert len(json.loads(outputs[0])) == len(harness.logs(limit=100_000))
    for record in harness.messages():  # each message's whole history, errors included
        for command in (["show", record.id, "--json"], ["show", record.id]):
            result = runner.invoke(app, ["--config", str(config), *command])
            assert result.exit_code == 0, result.output
            outputs.append(result.output)
    result = runner.invoke(app, ["--config", str(config), "outbox", "--all", "--json", "--limit", "100000"])
    assert result.exit_code == 0, result.output
    outputs.append(result.output)
    assert find_secrets("\n".join(outputs)) == []


def test_console_pages_and_metrics(exercised):
    """Every page of the /ui console (each message's included) and /metrics, read as a browser would see them."""
    import html
    import re

    harness, _ = exercised
    login = harness.request("GET", "/ui/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', login.text).group(1)
    assert harness.request("POST", "/ui/login", data={"csrf_token": csrf, "secret": API_TOKEN}).status_code == 303
    pages = [harness.request("GET", path).text for path in ("/ui/channels", "/ui/outbox", "/ui/outbox?show=all",
                                                            "/ui/send", "/ui/messages?status=failed")]
    listing, shown = "/ui/messages", 0
    while listing:
        page = harness.request("GET", listing).text
        pages.append(page)
        for message_id in re.findall(r'href="/ui/messages/([0-9a-f-]{36})"', page):
            pages.append(harness.request("GET", f"/ui/messages/{message_id}").text)
            shown += 1
        older = re.search(r'href="(/ui/messages\?cursor=[^"]+)" rel="next"', page)
        listing = html.unescape(older.group(1)) if older else ""
    assert shown == len(harness.messages(limit=100_000))
    pages.append(harness.request("GET", "/metrics", headers={"Authorization": f"Bearer {API_TOKEN}"}).text)
    harness.request("POST", "/ui/logout", data={"csrf_token": re.search(
        r'name="csrf_token" value="([^"]+)"', pages[0]).group(1)})
    harness._client.cookies.clear()
    login = harness.request("GET", "/ui/login")  # the tenant's console too
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', login.text).group(1)
    assert harness.request("POST", "/ui/login", data={"csrf_token": csrf, "secret": TENANT_TOKEN}).status_code == 303
    tenant_listing = harness.request("GET", "/ui/messages").text
    pages += [tenant_listing, harness.request("GET", "/ui/channels").text, harness.request("GET", "/ui/send").text]
    pages += [harness.request("GET", f"/ui/messages/{message_id}").text
              for message_id in re.findall(r'href="/ui/messages/([0-9a-f-]{36})"', tenant_listing)]
    text = html.unescape("\n".join(pages))
    assert "**********" in text and "/c/" in text  # the exchanges are there, masked
    assert find_secrets(text) == []


def _logged(caplog: Any, only: str = "") -> str:
    """Every record of the test so far (the fixture's set-up included), formatted as a handler would print it."""
    formatter = logging.Formatter("%(levelname)s %(name)s: %(message)s")
    records = [*caplog.get_records("setup"), *caplog.get_records("call")]
    lines = (formatter.format(r) for r in records if r.name.startswith(only))
    # the harness's own client calling the ASGI app is httpx too: its lines are the test's, not the gateway's
    return "\n".join(line for line in lines if "http://testserver/" not in line)


def test_smsgate_python_logging(exercised, caplog):
    """What smsgate's own loggers wrote while sends failed and callbacks were refused."""
    if _kannel_installed():
        assert _logged(caplog, "smsgate")  # the kannel adapter warned about an unknown DLR type
    assert find_secrets(_logged(caplog, "smsgate")) == []


def _kannel_installed() -> bool:
    return "kannel" in get_adapters()


def test_every_python_logger(exercised, caplog):
    """All loggers, formatted as they would be printed (httpx and httpcore included)."""
    assert "HTTP Request" in _logged(caplog)
    assert find_secrets(_logged(caplog)) == []


def test_adapter_crash_is_logged_without_secrets(smsgate_harness, caplog):
    caplog.set_level(logging.DEBUG)

    def broken_transport(request: httpx.Request) -> httpx.Response:
        raise RuntimeError(f"proxy library bug while sending {_echo(request)}")  # not an httpx error: a crash

    harness = smsgate_harness(_channels(), respond=broken_transport)
    for channel in harness.gateway.adapters:
        outcome = harness.send(channel, TO, "crash")
        assert outcome.message.error_code == "adapter_error"
    stored = json.dumps([m.as_dict() for m in harness.messages()]) + json.dumps(harness.logs(limit=1000))
    assert find_secrets(stored) == []  # this part holds
    assert find_secrets(_logged(caplog, "smsgate")) == []


def test_near_miss_inbound_secret_is_masked(smsgate_harness):
    harness = smsgate_harness({"ex": _channels()["ex"]})
    near = INBOUND_SECRET[:-1] + "#"
    response = harness.request("POST", "/c/ex/receive", data={"from": TO}, headers={"X-Smsgate-Secret": near})
    assert response.status_code == 401
    assert INBOUND_SECRET[:-1] not in json.dumps(harness.logs(), ensure_ascii=False)


@pytest.mark.parametrize("encode", [urllib.parse.quote, lambda s: urllib.parse.quote(s, safe="").lower()],
                         ids=["slash-kept", "lower-case-hex"])
def test_other_percent_encodings_of_a_secret_are_masked(smsgate_harness, encode):
    def respond(request: httpx.Request) -> httpx.Response:
        said = encode(request.headers["authorization"])
        return httpx.Response(401, text=f"denied: {said}", headers={"Location": f"/login?auth={said}"})

    harness = smsgate_harness({"ex": _channels()["ex"]}, respond=respond)
    assert harness.send("ex", TO, "hi").message.status == "failed"
    logged = json.dumps(harness.logs(), ensure_ascii=False)
    assert encode(SEND_AUTHORIZATION) not in logged


def test_secret_sent_as_a_callback_parameter_is_not_stored(smsgate_harness):
    harness = smsgate_harness({"ex": _channels()["ex"]})
    response = harness.request("POST", "/c/ex/receive", params={"secret": INBOUND_SECRET},
                               data={"from": TO, "text": "hi", "password": INBOUND_PASSWORD},
                               headers={"X-Smsgate-Secret": INBOUND_SECRET})
    assert response.status_code == 200
    assert find_secrets(json.dumps(harness.logs(), ensure_ascii=False)) == []  # this part holds
    assert find_secrets(json.dumps([m.as_dict() for m in harness.messages()], ensure_ascii=False)) == []


# -- cassettes ----------------------------------------------------------------------------------------------------


def _recording_secrets() -> tuple[list[str], list[str]]:
    """The credentials the adapters' cassette recordings used (read from their test sources), and their users."""
    wanted = {"adapters/twilio/tests/twilio_testkit.py": ("SID", "TOKEN"),
              "adapters/twilio/tests/test_contract.py": ("WRONG_TOKEN",),
              "adapters/kannel/tests/test_cassettes.py": ("PASSWORD", "USERNAME"),
              "adapters/kannel/tests/test_send.py": ("PASSWORD",)}
    found: dict[str, str] = {}
    for relative, names in wanted.items():
        path = ROOT / relative
        if not path.exists():
            continue
        for node in ast.parse(path.read_text()).body:
            if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                    and node.targets[0].id in names and isinstance(node.value, ast.Constant)
                    and isinstance(node.value.value, str)):
                found[f"{relative}:{node.targets[0].id}"] = node.value.value
    users = [v for k, v in found.items() if k.endswith((":SID", ":USERNAME"))]
    secrets = [v for k, v in found.items() if not k.endswith((":SID", ":USERNAME"))]
    return secrets, users


def test_cassettes_hold_no_secret():
    files = sorted(p for p in CASSETTES.rglob("*") if p.is_file())
    assert files, "no cassettes recorded"
    recorded, users = _recording_secrets()
    assert recorded, "could not read the credentials the cassettes were recorded with"
    secrets = [*SECRETS, *recorded]
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        assert find_secrets(text, secrets, [*USERS, *users, "gate"]) == [], path.relative_to(ROOT)


def test_check_and_route_name_tenants_and_routes_without_their_secrets(tmp_path):
    from smsgate_cli.main import app

    config = tmp_path / "smsgate.toml"
    config.write_text(
        f'[gateway]\ndatabase = "{tmp_path / "db.sqlite3"}"\napi_token = "{API_TOKEN}"\n\n'
        '[channels.ex]\nadapter = "http"\ncountry = "US"\nsend_url = "https://aggregator.example/send"\n'
        f'send_authorization = "{SEND_AUTHORIZATION}"\n\n[[routes]]\nto = ["+1"]\nchannels = ["ex"]\n\n'
        f'[tenants.acme]\ntoken = "{TENANT_TOKEN}"\nchannels = ["ex"]\ndaily_limit = 5\n\n'
        f'[[tenants.acme.webhooks]]\nurl = "https://hooks.example/acme"\nsecret = "{TENANT_HOOK_SECRET}"\n')
    runner = CliRunner()
    outputs = []
    for command in (["check", "--offline"], ["route", TO], ["route", TO, "--tenant", "acme", "--json"]):
        result = runner.invoke(app, ["--config", str(config), *command])
        assert result.exit_code == 0, result.output
        outputs.append(result.output)
    assert "tenant acme: channels ex, daily_limit 5, webhooks: 1" in outputs[0]
    assert find_secrets("\n".join(outputs)) == []
