"""The outbound HTTP API: auth, idempotency, validation, reads, listing and its OpenAPI document."""

import httpx
import pytest
from smsgate.host import OPENAPI, open_worker
from starlette.routing import Route

from tests.support.toy_adapter import Toy

TOKEN = "api-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ID = "0f5c3d3e-8a43-4bb5-9a6c-2b5b7c0f3f10"


@pytest.fixture
def api(smsgate_harness):
    """A harness factory: toy channels `t` (RW) and `u`, the API token set unless `token=None`."""

    def make(token=TOKEN, respond=None, **gateway):
        gw = {"api_token": token, **gateway} if token else gateway
        return smsgate_harness({"t": {"adapter": "toy", "country": "RW", "max_retry_wait": 0},
                                "u": {"adapter": "toy", "country": "RW", "max_retry_wait": 0}},
                               gateway=gw, adapters=[Toy],
                               respond=respond or (lambda r: httpx.Response(200, text="ext-1")))

    return make


def post(h, body, headers=AUTH, **kwargs):
    return h.request("POST", "/api/v1/messages", json=body, headers=headers, **kwargs)


def test_no_configured_token_means_the_api_refuses(api):
    h = api(token=None)
    response = post(h, {"channel": "t", "to": "+250788383383", "text": "hi"}, headers={})
    assert response.status_code == 403 and "set [gateway] api_token" in response.json()["error"]
    assert post(h, {"channel": "t", "to": "+250788383383", "text": "hi"},
                headers={"Authorization": "Bearer "}).status_code == 403
    assert h.request("GET", "/api/v1/messages").status_code == 403
    assert h.messages() == []


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}, {"Authorization": TOKEN},
    {"Authorization": "Bearer " + TOKEN[:-1]}, {"Authorization": "Bearer " + TOKEN + "x"},
])
def test_missing_or_wrong_token_is_401(api, headers):
    h = api()
    response = post(h, {"channel": "t", "to": "+250788383383", "text": "hi"}, headers=headers)
    assert response.status_code == 401 and response.json()["error"]
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert h.request("GET", "/api/v1/messages", headers=headers).status_code == 401
    assert h.request("GET", f"/api/v1/messages/{ID}", headers=headers).status_code == 401
    assert h.messages() == []


def test_post_queues_durably_and_sends_nothing_itself(api):
    h = api()
    response = post(h, {"channel": "t", "to": "0788383383", "text": "hello", "id": ID.upper(),
                        "metadata": {"order": 42}})
    assert response.status_code == 202
    body = response.json()
    assert body["id"] == ID and body["status"] == "queued" and body["to"] == "+250788383383"
    assert body["metadata"] == {"order": 42} and "history" not in body
    stored = h.message(ID)  # read back from the store: committed before the 202
    assert stored.status == "queued" and [s["status"] for s in stored.history] == ["queued"]
    assert h.requests == []


def test_post_without_id_gets_a_fresh_uuid(api):
    h = api()
    first = post(h, {"channel": "t", "to": "+250788383383", "text": "a"}).json()["id"]
    second = post(h, {"channel": "t", "to": "+250788383383", "text": "a"}).json()["id"]
    assert first != second and len(h.messages()) == 2


def test_known_id_returns_the_stored_message_and_sends_nothing_again(api):
    h = api()
    assert post(h, {"channel": "t", "to": "+250788383383", "text": "hello", "id": ID}).status_code == 202
    h.run(open_worker(h.gateway).drain())
    assert len(h.requests) == 1
    again = post(h, {"channel": "t", "to": "+250788999999", "text": "changed", "id": ID})
    assert again.status_code == 200
    assert again.json()["status"] == "wired" and again.json()["text"] == "hello"
    h.run(open_worker(h.gateway).drain())
    assert len(h.requests) == 1 and len(h.messages()) == 1


@pytest.mark.parametrize(("body", "status", "fragment"), [
    (b"{not json", 400, "not valid JSON"),
    (b"\xff\xfe", 400, "not valid JSON"),
    (b"[1, 2]", 400, "must be a JSON object"),
    (b'"text"', 400, "must be a JSON object"),
    (b'{"to": "+250788383383", "text": "x"}', 422, "no channel given and no [[routes]] configured"),
    (b'{"channel": "t", "text": "x"}', 422, "to: Field required"),
    (b'{"channel": "nope", "to": "+250788383383", "text": "x"}', 422, "unknown channel 'nope' (known: t, u)"),
    (b'{"channel": "t", "to": "MTN", "text": "x"}', 422, "not a possible number"),
    (b'{"channel": "t", "to": "+250788383383", "text": ""}', 422, "nothing to send"),
    (b'{"channel": "t", "to": "+250788383383", "text": "x", "id": "42"}', 422, "id: "),
    (b'{"channel": "t", "to": "+250788383383", "text": "x", "id": 42}', 422, "must be a UUID string"),
    (b'{"channel": "t", "to": "+250788383383", "text": "x", "priority": 1}', 422, "priority: Extra inputs"),
    (b'{"channel": "t", "to": "+250788383383", "text": 5}', 422, "text: "),
    (b'{"channel": "t", "to": "+250788383383", "text": "x", "attachments": "u"}', 422, "attachments: "),
])
def test_bad_requests_say_why_and_store_nothing(api, body, status, fragment):
    h = api()
    response = h.request("POST", "/api/v1/messages", content=body,
                         headers={**AUTH, "Content-Type": "application/json"})
    assert response.status_code == status, response.text
    assert fragment in response.json()["error"]
    assert h.messages() == []


def test_body_over_the_limit_is_413(api):
    h = api(max_body_bytes=100)
    response = post(h, {"channel": "t", "to": "+250788383383", "text": "x" * 200})
    assert response.status_code == 413 and h.messages() == []


def test_get_one_message_with_history_and_segments(api):
    h = api()
    post(h, {"channel": "t", "to": "+250788383383", "text": "hello", "id": ID})
    h.run(open_worker(h.gateway).drain())
    h.request("POST", "/c/t/status", data={"id": ID, "status": "delivered"})
    body = h.request("GET", f"/api/v1/messages/{ID}", headers=AUTH).json()
    assert body["status"] == "delivered" and body["segments"] == 1 and body["external_ids"] == ["ext-1"]
    assert [s["status"] for s in body["history"]] == ["queued", "wired", "delivered"]
    assert "sending_at" not in body
    missing = h.request("GET", "/api/v1/messages/00000000-0000-0000-0000-000000000000", headers=AUTH)
    assert missing.status_code == 404 and "no message" in missing.json()["error"]


def test_list_filters_and_limits(api):
    h = api()
    ids = [post(h, {"channel": c, "to": "+250788383383", "text": f"m{i}"}).json()["id"]
           for i, c in enumerate(["t", "t", "u"])]
    h.request("POST", "/c/t/receive", data={"from": "+250788123123", "text": "incoming"})

    def listed(**params):
        response = h.request("GET", "/api/v1/messages", params=params, headers=AUTH)
        assert response.status_code == 200, response.text
        return [m["id"] for m in response.json()["messages"]]

    assert listed(channel="t", direction="out") == [ids[1], ids[0]]
    assert listed(channel="u") == [ids[2]]
    assert listed(status="queued", limit=2) == [ids[2], ids[1]]
    assert len(listed(status="received")) == 1 and len(listed()) == 4
    for params, fragment in [({"limit": "0"}, "limit"), ({"limit": "x"}, "limit"), ({"limit": "1001"}, "limit"),
                             ({"status": "lost"}, "unknown status"), ({"direction": "up"}, "direction"),
                             ({"chanel": "t"}, "unknown query parameter"), ({"cursor": "forged"}, "invalid cursor")]:
        response = h.request("GET", "/api/v1/messages", params=params, headers=AUTH)
        assert response.status_code == 400 and fragment in response.json()["error"]


def test_list_pages_with_a_cursor(api):
    h = api()
    ids = [post(h, {"channel": "t", "to": "+250788383383", "text": f"m{i}"}).json()["id"] for i in range(5)]

    def page(**params):
        response = h.request("GET", "/api/v1/messages", params=params, headers=AUTH)
        assert response.status_code == 200, response.text
        body = response.json()
        return [m["id"] for m in body["messages"]], body["next_cursor"]

    first, cursor = page(limit=2)
    assert first == ids[:2:-1] and cursor
    post(h, {"channel": "t", "to": "+250788383383", "text": "newer"})  # never shifts the next pages
    second, cursor = page(limit=2, cursor=cursor)
    third, last = page(limit=2, cursor=cursor)
    assert second == [ids[2], ids[1]] and third == [ids[0]] and last is None
    assert page(channel="t", status="queued", limit=6)[1] is None


def test_openapi_lists_every_served_api_route(api):
    h = api()
    response = h.request("GET", "/api/v1/openapi.json")  # public: it holds no data
    assert response.status_code == 200 and response.json() == OPENAPI
    served = {(route.path, method.lower()) for route in h.app.routes if isinstance(route, Route)
              and route.path.startswith("/api/") for method in route.methods - {"HEAD"}}
    documented = {(path, method) for path, ops in OPENAPI["paths"].items() for method in ops}
    assert served == documented
    send = OPENAPI["components"]["schemas"]["SendRequest"]
    assert set(send["properties"]) == {"channel", "to", "text", "id", "attachments", "metadata", "quick_replies",
                                        "high_priority"}
    assert set(send["required"]) == {"to"}  # without a channel the routes pick one
    for path, ops in OPENAPI["paths"].items():
        for method, op in ops.items():
            assert op["responses"], f"{method} {path} documents no response"


def _failed(h, text="hello"):
    """A message the toy aggregator refused for good (HTTP 400 is final)."""
    h.respond = lambda r: httpx.Response(400, text="bad credentials")
    outcome = h.send("t", "+250788383383", text)
    assert outcome.message.status == "failed"
    h.respond = lambda r: httpx.Response(200, text="ext-2")
    return outcome.message


def test_resend_queues_a_copy_of_a_failed_message_once(api):
    h = api()
    original = _failed(h)
    first = h.request("POST", f"/api/v1/messages/{original.id}/resend", headers=AUTH)
    assert first.status_code == 202
    copy = first.json()
    assert copy["id"] != original.id and copy["status"] == "queued" and copy["metadata"]["resend_of"] == original.id
    assert (copy["to"], copy["text"], copy["channel"]) == (original.to, original.text, original.channel)
    again = h.request("POST", f"/api/v1/messages/{original.id}/resend", headers=AUTH)
    assert again.status_code == 200 and again.json()["id"] == copy["id"]  # a retried call queues nothing new
    assert len(h.messages()) == 2
    sent_before = len(h.requests)
    h.run(open_worker(h.gateway).run_once())
    assert h.message(copy["id"]).status == "wired" and len(h.requests) == sent_before + 1
    assert h.message(original.id).status == "failed"  # the original's history stays as it happened


def test_resend_refuses_what_is_not_a_failed_outgoing_message(api):
    h = api()
    wired = h.send("t", "+250788383383", "fine").message
    queued = post(h, {"channel": "t", "to": "+250788383383", "text": "later"}).json()
    for message_id, fragment in [(wired.id, "is wired"), (queued["id"], "the worker still retries it")]:
        response = h.request("POST", f"/api/v1/messages/{message_id}/resend", headers=AUTH)
        assert response.status_code == 409 and fragment in response.json()["error"]
    assert h.request("POST", f"/api/v1/messages/{ID}/resend", headers=AUTH).status_code == 404
    failed = _failed(h)
    assert h.request("POST", f"/api/v1/messages/{failed.id}/resend").status_code == 401
    assert len(h.messages()) == 3  # nothing was queued by any refused call


def test_cli_resend_sends_the_copy_now(tmp_path):
    import http.server
    import json
    import threading

    from smsgate_cli.main import app
    from typer.testing import CliRunner

    answers = [400, 200]  # the first send is refused for good, the resend accepted

    class Aggregator(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(answers.pop(0) if len(answers) > 1 else answers[0])
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Aggregator)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        config = tmp_path / "smsgate.toml"
        config.write_text(f'[gateway]\ndatabase = "{tmp_path / "db.sqlite3"}"\n\n[channels.ex]\nadapter = "http"\n'
                          f'country = "RW"\nsend_url = "http://127.0.0.1:{server.server_address[1]}/send"\n')
        runner = CliRunner()
        sent = runner.invoke(app, ["--config", str(config), "send", "hello", "--channel", "ex", "--to", "0788383383",
                                   "--json"])
        original = json.loads(sent.stdout)
        assert sent.exit_code == 1 and original["status"] == "failed"
        result = runner.invoke(app, ["--config", str(config), "resend", original["id"], "--json"])
        assert result.exit_code == 0, result.output
        copy = json.loads(result.stdout)
        assert copy["metadata"]["resend_of"] == original["id"] and copy["status"] == "wired" and copy["sent_now"]
        again = runner.invoke(app, ["--config", str(config), "resend", original["id"]])
        assert again.exit_code == 0 and "resent before: not sent again" in again.output
        refused = runner.invoke(app, ["--config", str(config), "resend", copy["id"]])
        assert refused.exit_code == 1 and "is wired (the aggregator accepted it)" in refused.output
        shown = runner.invoke(app, ["--config", str(config), "show", original["id"], "--json"])
        assert [h["status"] for h in json.loads(shown.stdout)["history"]] == ["queued", "failed"]
        table = runner.invoke(app, ["--config", str(config), "show", original["id"]])
        assert table.exit_code == 0 and "status failed, 1 attempt(s)" in table.output and "HTTP 400" in table.output
        missing = runner.invoke(app, ["--config", str(config), "show", "nope"])
        assert missing.exit_code == 1 and "no message with id 'nope'" in missing.output
    finally:
        server.shutdown()
