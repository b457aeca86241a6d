"""Prove that the real peers started by tests/support/peers work (no mocks, no skips)."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.peers import (
    KANNEL_GET_URL_QUERY,
    TWILIO_SPEC,
    Httpbin,
    Kannel,
    PeerStartError,
    Postgres,
    Prism,
    free_port,
    listening_ports,
    media_variant_spec,
)

pytestmark = pytest.mark.peers

TO = "+250788123123"
SHORTCODE = "2020"
ACCOUNT_SID = "AC" + "0" * 32
AUTH = (ACCOUNT_SID, "fake-auth-token")


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


# --------------------------------------------------------------------------
# a tiny local HTTP server recording every request (for DLRs and MOs)
# --------------------------------------------------------------------------


class Capture:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.cond = threading.Condition()
        capture = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parsed = urllib.parse.urlsplit(self.path)
                # keep_blank_values and raw bytes: Kannel may send non-UTF-8 query bytes
                query = urllib.parse.parse_qs(parsed.query, keep_blank_values=True, encoding="latin-1")
                with capture.cond:
                    capture.requests.append(
                        {
                            "path": parsed.path,
                            "raw_query": parsed.query,
                            "query": {k: v[-1] for k, v in query.items()},
                            "headers": dict(self.headers),
                        }
                    )
                    capture.cond.notify_all()
                body = b"ok"
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], count: int = 1, timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                found = [r for r in self.requests if predicate(r)]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} matching requests, got {found}; all: {self.requests}")
                self.cond.wait(left)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def capture() -> Iterator[Capture]:
    c = Capture()
    yield c
    c.close()


@pytest.fixture(scope="module")
def kannel(capture: Capture) -> Iterator[Kannel]:
    with Kannel(get_url=f"{capture.url}/mo?{KANNEL_GET_URL_QUERY}") as k:
        yield k


def _send(k: Kannel, **params: Any) -> httpx.Response:
    base = {"username": k.username, "password": k.password, "from": SHORTCODE, "to": TO}
    base.update(params)
    return httpx.get(k.sendsms_url, params=base, timeout=10)


# --------------------------------------------------------------------------
# Kannel
# --------------------------------------------------------------------------


def test_kannel_ascii_mt_reaches_fakesmsc(kannel: Kannel) -> None:
    marker = uuid.uuid4().hex[:8]
    r = _send(kannel, text=f"hi there {marker} 1+1=2")
    assert r.status_code == 202, r.text
    assert r.text.startswith("0: Accepted")
    mt = kannel.wait_for_mt(lambda m: marker in m["text"])
    assert mt["from"] == SHORTCODE
    assert mt["to"] == TO
    assert mt["type"] == "text"
    assert mt["text"] == f"hi there {marker} 1+1=2"


def test_kannel_unicode_utf16be_coding2(kannel: Kannel) -> None:
    marker = uuid.uuid4().hex[:6]
    text = f"Привет 👋 {marker} a+b"
    # UTF-16BE bytes, coding=2, no charset (what RapidPro sends); build the query by hand.
    query = urllib.parse.urlencode(
        {"username": kannel.username, "password": kannel.password, "from": SHORTCODE, "to": TO, "coding": "2"}
    )
    query += "&text=" + urllib.parse.quote_from_bytes(text.encode("utf-16-be"), safe="")
    r = httpx.get(f"{kannel.sendsms_url}?{query}", timeout=10)
    assert r.status_code == 202, r.text
    mt = kannel.wait_for_mt(lambda m: marker in m["text"])
    assert mt["type"] == "ucs-2"
    assert mt["coding"] == 2
    assert mt["text"] == text
    assert mt["data"] == text.encode("utf-16-be")


def test_kannel_unicode_utf8_with_charset(kannel: Kannel) -> None:
    marker = uuid.uuid4().hex[:6]
    text = f"Привет 👋 {marker}"
    r = _send(kannel, text=text, coding=2, charset="UTF-8")
    assert r.status_code == 202, r.text
    mt = kannel.wait_for_mt(lambda m: marker in m["text"])
    assert mt["type"] == "ucs-2"
    assert mt["text"] == text


def test_kannel_rejections(kannel: Kannel) -> None:
    r = httpx.get(
        kannel.sendsms_url,
        params={"username": kannel.username, "password": "wrong", "from": SHORTCODE, "to": TO, "text": "x"},
        timeout=10,
    )
    assert r.status_code == 403
    assert "Authorization failed" in r.text
    r = httpx.get(
        kannel.sendsms_url,
        params={"username": kannel.username, "password": kannel.password, "from": SHORTCODE, "text": "x"},
        timeout=10,
    )
    assert r.status_code == 400
    assert "Missing receiver" in r.text


def test_kannel_dlr_reaches_local_server(kannel: Kannel, capture: Capture) -> None:
    our_id = uuid.uuid4().hex
    dlr_url = f"{capture.url}/dlr?id={our_id}&status=%d&answer=%A&to=%p&from=%P"
    r = _send(kannel, text=f"dlr {our_id[:8]}", **{"dlr-mask": 31, "dlr-url": dlr_url})
    assert r.status_code == 202, r.text
    dlrs = capture.wait_for(lambda req: req["path"] == "/dlr" and req["query"].get("id") == our_id, count=2)
    by_status = {d["query"]["status"]: d["query"] for d in dlrs}
    # accepted by the SMSC (8) and delivered (1); Kannel fires its DLR callbacks concurrently, so either may
    # arrive first (seen in CI under load): the reason smsgate never lets a status go backwards
    assert sorted(by_status) == ["1", "8"], dlrs
    assert by_status["8"]["answer"].startswith("ACK")
    for query in by_status.values():  # in a DLR, %p/%P are swapped relative to the MT
        assert (query["to"], query["from"]) == (TO, SHORTCODE)
    assert kannel.wait_for_mt(lambda m: our_id[:8] in m["text"])


def test_kannel_mo_reaches_get_url(kannel: Kannel, capture: Capture) -> None:
    marker = uuid.uuid4().hex[:8]
    kannel.send_mo(TO, SHORTCODE, f"hello from phone {marker}")
    (mo,) = capture.wait_for(lambda req: req["path"] == "/mo" and marker in req["query"].get("message", ""))
    q = mo["query"]
    assert q["sender"] == TO
    assert q["to"] == SHORTCODE
    assert q["message"] == f"hello from phone {marker}"
    assert q["coding"] == "0"
    assert q["id"]  # Kannel's message UUID
    assert abs(int(q["ts"]) - time.time()) < 120
    assert mo["headers"].get("User-Agent", "").startswith("Kannel/")


def test_kannel_mo_utf8_text(kannel: Kannel, capture: Capture) -> None:
    marker = uuid.uuid4().hex[:8]
    kannel.send_mo(TO, SHORTCODE, f"Привет {marker}")
    (mo,) = capture.wait_for(lambda req: req["path"] == "/mo" and marker in req["raw_query"])
    q = urllib.parse.parse_qs(mo["raw_query"], encoding="utf-8")
    assert q["charset"] == ["UTF-8"]
    assert q["message"] == [f"Привет {marker}"]


def test_kannel_mo_binary_data(kannel: Kannel, capture: Capture) -> None:
    marker = uuid.uuid4().hex[:8]
    payload = b"\x00\x01caf\xe9 " + marker.encode()
    kannel.send_mo(TO, SHORTCODE, data=payload)
    (mo,) = capture.wait_for(lambda req: req["path"] == "/mo" and marker in req["raw_query"])
    q = urllib.parse.parse_qs(mo["raw_query"], encoding="latin-1")
    assert q["coding"] == ["1"]
    assert q["message"][0].encode("latin-1") == payload


def test_kannel_no_reply_mt_for_mo(kannel: Kannel, capture: Capture) -> None:
    """max-messages = 0: an MO never triggers a reply MT to the handset."""
    marker = uuid.uuid4().hex[:8]
    kannel.send_mo("+250788000001", SHORTCODE, f"noreply {marker}")
    capture.wait_for(lambda req: req["path"] == "/mo" and marker in req["raw_query"])
    time.sleep(0.5)
    assert not [m for m in kannel.received_mts() if m["to"] == "+250788000001"]


def test_kannel_stops_every_process_by_pid(capture: Capture) -> None:
    k = Kannel(get_url=f"{capture.url}/mo?{KANNEL_GET_URL_QUERY}")
    with k:
        pids = [c.pid for c in k.children]
        names = [c.name for c in k.children]
        assert names == ["bearerbox", "fakesmsc", "smsbox"]
        assert all(not _gone(pid) for pid in pids)
        assert {k.smsc_port, k.admin_port, k.sendsms_port} <= listening_ports()
        assert "online" in k.status()
    assert all(c.proc.returncode is not None for c in k.children)  # reaped, no zombies
    assert all(_gone(pid) for pid in pids)
    assert not {k.smsc_port, k.admin_port, k.sendsms_port} & listening_ports()
    assert not k.workdir.exists()


def test_kannel_start_failure_is_an_error_with_log_tail(tmp_path: Path) -> None:
    # An invalid key in the smsc group makes bearerbox refuse the configuration.
    k = Kannel(extra_smsc="interface-address = 127.0.0.1", startup_timeout=10, workdir=tmp_path)
    with pytest.raises(PeerStartError) as info:
        k.start()
    assert isinstance(info.value, RuntimeError)
    assert "bearerbox" in str(info.value)
    assert "tail of" in str(info.value)
    assert all(c.proc.returncode is not None for c in k.children)


# --------------------------------------------------------------------------
# Prism (Twilio contract)
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def prism() -> Iterator[Prism]:
    with Prism() as p:
        yield p


def _messages_url(p: Prism) -> str:
    return f"{p.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"


def test_prism_default_spec_is_vendored_with_its_source_noted() -> None:
    root = Path(__file__).resolve().parents[2]
    assert TWILIO_SPEC.is_relative_to(root) and TWILIO_SPEC.exists(), TWILIO_SPEC
    spec = json.loads(TWILIO_SPEC.read_text())
    assert "/2010-04-01/Accounts/{AccountSid}/Messages.json" in spec["paths"]
    # the README beside it names the source commit and licence of exactly this file
    notes = (TWILIO_SPEC.parent / "README.md").read_text()
    assert hashlib.sha256(TWILIO_SPEC.read_bytes()).hexdigest() in notes
    assert "twilio/twilio-oai" in notes and "Apache License\n" in (TWILIO_SPEC.parent / "LICENSE").read_text()


def test_prism_valid_create_201(prism: Prism) -> None:
    r = httpx.post(_messages_url(prism), data={"To": TO, "From": "+15005550006", "Body": "hi"}, auth=AUTH)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["sid"].startswith("SM")
    assert body["status"] == "queued"


def test_prism_missing_to_422(prism: Prism) -> None:
    r = httpx.post(_messages_url(prism), data={"From": "+15005550006", "Body": "hi"}, auth=AUTH)
    assert r.status_code == 422, r.text
    assert any("To" in v["message"] for v in r.json()["validation"])


def test_prism_no_auth_401(prism: Prism) -> None:
    r = httpx.post(_messages_url(prism), data={"To": TO, "From": "+15005550006", "Body": "hi"})
    assert r.status_code == 401


def test_prism_media_variant_accepts_repeated_media_url(prism: Prism, tmp_path: Path) -> None:
    body = [("To", TO), ("From", "+15005550006"), ("MediaUrl", "https://e.x/a.png"), ("MediaUrl", "https://e.x/b.png")]
    # The original contract rejects Twilio's own wire form for media ...
    r = httpx.post(
        _messages_url(prism),
        content=urllib.parse.urlencode(body),
        auth=AUTH,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 422, r.text
    # ... the local variant accepts it.
    spec = media_variant_spec(tmp_path)
    with Prism(spec_path=spec) as variant:
        r = httpx.post(
            _messages_url(variant),
            content=urllib.parse.urlencode(body),
            auth=AUTH,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert r.status_code == 201, r.text
        pid = variant.children[0].pid
    assert _gone(pid)
    assert variant.port not in listening_ports()


def test_prism_missing_spec_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PeerStartError):
        Prism(spec_path=tmp_path / "nope.json", workdir=tmp_path / "w").start()


# --------------------------------------------------------------------------
# httpbin
# --------------------------------------------------------------------------


def test_httpbin_anything_echoes() -> None:
    with Httpbin() as hb:
        r = httpx.post(f"{hb.url}/anything/x?a=1", data={"To": TO, "Body": "hé"}, headers={"X-Test": "yes"})
        assert r.status_code == 200
        echo = r.json()
        assert echo["method"] == "POST"
        assert echo["args"] == {"a": "1"}
        assert echo["form"] == {"To": TO, "Body": "hé"}
        assert echo["headers"]["X-Test"] == "yes"
        assert echo["url"] == f"{hb.url}/anything/x?a=1"
        assert httpx.get(f"{hb.url}/status/503").status_code == 503
        pid = hb.children[0].pid
    assert _gone(pid)


def test_httpbin_start_failure_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PeerStartError) as info:
        Httpbin(python="/bin/false", startup_timeout=5, workdir=tmp_path).start()
    assert "exited" in str(info.value)


def test_free_port_is_bindable() -> None:
    import socket

    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


# -- PostgreSQL -------------------------------------------------------------------------------------------------


def test_postgres_starts_restarts_and_stops_by_pid() -> None:
    with Postgres() as pg:
        assert pg.startup_seconds is not None and pg.startup_seconds < 30
        url = pg.create_database()
        assert url == f"postgresql://smsgate@127.0.0.1:{pg.port}/db1"
        assert pg.psql("SELECT current_user").strip() == "smsgate"
        pid = pg.children[0].pid
        pg.stop(keep=True)  # an outage: the same cluster comes back on the same port
        with pytest.raises(OSError):
            os.kill(pid, 0)
        pg.start()
        assert pg.psql("SELECT 1", "db1").strip() == "1"
        pid, workdir = pg.children[0].pid, pg.workdir
    with pytest.raises(OSError):
        os.kill(pid, 0)  # stopped and reaped
    assert not workdir.exists()


def test_postgres_start_failure_is_an_error_with_log_tail(tmp_path: Path) -> None:
    with pytest.raises(PeerStartError) as info:
        Postgres(bin_dir=tmp_path, startup_timeout=5).start()
    assert "initdb" in str(info.value) and "install-peers" in str(info.value)
