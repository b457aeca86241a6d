"""Sends through a real HTTP server that nobody here wrote (httpbin), recorded as cassettes and replayed offline.

httpbin's `/anything` echoes exactly what it received, so each cassette holds both the request the adapter built
and the server's independent reading of it; `/status/<code>` gives the error classes.

Re-record every cassette (starts httpbin on 127.0.0.1:18080, or $SMSGATE_HTTPBIN_PORT):

    .venv/bin/python -m pytest adapters/http/tests/test_cassettes.py --record-mode=rewrite

Without `--record-mode` (pytest-recording's default "none") nothing touches the network: the tests replay
`cassettes/http/*.yaml` against the base URL recorded in `cassettes/http/httpbin.json`, since a cassette only
matches requests to the same host and port.
"""

from __future__ import annotations

import json
import os
import urllib.parse
from importlib import metadata
from pathlib import Path

import httpx
import pytest
import yaml
from smsgate.testing import RecordingTransport
from smsgate_http import HttpAdapter

REPO = Path(__file__).resolve().parents[3]
CASSETTES = REPO / "cassettes" / "http"
RECORDING = CASSETTES / "httpbin.json"
DEFAULT_PORT = 18080

MSG_ID = "5b0c2b4e-7a8f-4a51-9a36-2f1d8e0c9b11"
TO = "+250788383383"
FROM = "+12065550100"
TEXT = 'Hi "there" & <you> ☺ 100% +1'
LONG = "This is a long message that will be longer than 30....... characters"


@pytest.fixture(scope="module")
def vcr_cassette_dir() -> str:
    """Cassettes live at the repository root, next to the other adapters' (one folder per adapter)."""
    return str(CASSETTES)


@pytest.fixture(scope="module")
def httpbin_url(request):
    """The recorded base URL when replaying; a fresh httpbin (whose URL is then recorded) when recording."""
    if (request.config.getoption("--record-mode") or "none") == "none":
        yield json.loads(RECORDING.read_text())["base_url"]
        return
    from tests.support.peers import Httpbin

    with Httpbin(port=int(os.environ.get("SMSGATE_HTTPBIN_PORT") or DEFAULT_PORT)) as hb:
        CASSETTES.mkdir(parents=True, exist_ok=True)
        RECORDING.write_text(json.dumps({
            "base_url": hb.url,
            "server": f"httpbin {metadata.version('httpbin')} (python -m httpbin.core, started by tests/support/peers)",
            "recorded_by": "python -m pytest adapters/http/tests/test_cassettes.py --record-mode=rewrite",
        }, indent=2) + "\n")
        yield hb.url



def send(factory, url: str, text: str = TEXT, quick_replies=(), **keys):
    recorder = RecordingTransport()
    h = factory({"hb": {"adapter": "http", "address": FROM, "country": "US", "max_attempts": 1, "send_url": url,
                        **keys}}, adapters=[HttpAdapter], transport=recorder)
    outcome = h.send("hb", TO, text, id=MSG_ID, quick_replies=list(quick_replies))
    return outcome, recorder.exchanges


def _semiflat(pairs: list[tuple[str, str]]) -> dict:
    """httpbin's shape for parameters: one value as a string, a repeated key as a list."""
    out: dict = {}
    for key, value in pairs:
        out.setdefault(key, []).append(value)
    return {k: v[0] if len(v) == 1 else v for k, v in out.items()}


def echo_of(request: httpx.Request, response: httpx.Response) -> dict:
    """httpbin's echo, checked against the request the adapter really sent (httpbin decodes what it shows)."""
    assert response.status_code == 200
    echo = response.json()
    assert echo["method"] == request.method
    assert echo["url"].partition("?")[0] == str(request.url.copy_with(query=None))
    assert echo["args"] == _semiflat(list(request.url.params.multi_items()))
    if request.headers.get("content-type") == "application/x-www-form-urlencoded":
        assert echo["data"] == ""  # httpbin moves a form body into "form"
        assert echo["form"] == _semiflat(urllib.parse.parse_qsl(request.content.decode(), keep_blank_values=True))
    else:
        assert echo["data"] == request.content.decode()
    for name in ("Content-Type", "User-Agent"):
        assert echo["headers"].get(name) == request.headers.get(name)
    return echo


@pytest.mark.vcr
def test_json_default_body(smsgate_harness, httpbin_url):
    outcome, [(request, response)] = send(smsgate_harness, f"{httpbin_url}/anything/json", content_type="json")
    echo = echo_of(request, response)
    assert outcome.message.status == "wired"
    assert echo["headers"]["Content-Type"] == "application/json"
    assert echo["json"] == {"id": MSG_ID, "text": TEXT, "to": TO, "to_no_plus": TO[1:], "from": FROM,
                            "from_no_plus": FROM[1:], "channel": "hb"}


@pytest.mark.vcr
def test_urlencoded_with_quick_replies(smsgate_harness, httpbin_url):
    outcome, [(request, response)] = send(
        smsgate_harness, f"{httpbin_url}/anything/form", quick_replies=["Yes", "No & stop"],
        body="to={{to}}&text={{text}}&from={{from}}{{quick_replies}}")
    echo = echo_of(request, response)
    assert outcome.message.status == "wired"
    assert echo["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert echo["form"] == {"to": TO, "text": TEXT, "from": FROM, "quick_reply": ["Yes", "No & stop"]}


@pytest.mark.vcr
def test_xml(smsgate_harness, httpbin_url):
    outcome, [(request, response)] = send(
        smsgate_harness, f"{httpbin_url}/anything/xml", content_type="xml", quick_replies=["A<B"],
        body="<msg><to>{{to}}</to><text>{{text}}</text><qr>{{quick_replies}}</qr></msg>")
    echo = echo_of(request, response)
    assert outcome.message.status == "wired"
    assert echo["headers"]["Content-Type"] == "text/xml; charset=utf-8"
    assert echo["data"] == (f"<msg><to>{TO}</to><text>Hi &#34;there&#34; &amp; &lt;you&gt; ☺ 100% +1</text>"
                            "<qr><item>A&lt;B</item></qr></msg>")


@pytest.mark.vcr
def test_literal_content_type_is_unescaped(smsgate_harness, httpbin_url):
    outcome, [(request, response)] = send(
        smsgate_harness, f"{httpbin_url}/anything/literal", content_type="text/plain; charset=utf-8",
        body="{{to_no_plus}}: {{text}}", headers={"X-Source": "smsgate-tests"})
    echo = echo_of(request, response)
    assert outcome.message.status == "wired"
    assert echo["headers"]["Content-Type"] == "text/plain; charset=utf-8"
    assert echo["headers"]["X-Source"] == "smsgate-tests"
    assert echo["data"] == f"{TO[1:]}: {TEXT}"


@pytest.mark.vcr
def test_get_with_query_template(smsgate_harness, httpbin_url):
    outcome, [(request, response)] = send(
        smsgate_harness, httpbin_url + "/anything/get?to={{to}}&text={{text}}&from={{from}}{{quick_replies}}",
        method="GET", quick_replies=["Yes please"])
    echo = echo_of(request, response)
    assert outcome.message.status == "wired"
    assert echo["method"] == "GET" and echo["data"] == ""
    assert echo["headers"]["Content-Type"] == "application/x-www-form-urlencoded"  # set even on GET, as courier
    assert echo["args"] == {"to": TO, "text": TEXT, "from": FROM, "quick_reply": "Yes please"}


@pytest.mark.vcr
def test_long_text_in_parts(smsgate_harness, httpbin_url):
    outcome, exchanges = send(smsgate_harness, f"{httpbin_url}/anything/parts", text=LONG, quick_replies=["One"],
                              content_type="json", max_length="30",
                              body='{"text": {{text}}, "qr": {{quick_replies}}}')
    assert outcome.message.status == "wired" and outcome.message.segments == 3
    assert [echo_of(*x)["json"] for x in exchanges] == [
        {"text": "This is a long message that", "qr": []},
        {"text": "will be longer than 30.......", "qr": []},
        {"text": "characters", "qr": ["One"]},
    ]


@pytest.mark.vcr
def test_response_check_found(smsgate_harness, httpbin_url):
    outcome, [exchange] = send(smsgate_harness, f"{httpbin_url}/anything/check", mt_response_check='"form": {')
    assert outcome.message.status == "wired" and echo_of(*exchange)["form"]["text"] == TEXT


@pytest.mark.vcr
def test_response_check_missing_is_failed(smsgate_harness, httpbin_url):
    outcome, [exchange] = send(smsgate_harness, f"{httpbin_url}/anything/check",
                               mt_response_check="<return>0</return>")
    assert exchange[1].status_code == 200
    assert (outcome.message.status, outcome.message.error_code) == ("failed", "response_content")


@pytest.mark.vcr
@pytest.mark.parametrize(("code", "status"), [(401, "failed"), (429, "errored"), (500, "errored")])
def test_status_codes(smsgate_harness, httpbin_url, code, status):
    outcome, [(_, response)] = send(smsgate_harness, f"{httpbin_url}/status/{code}")
    assert response.status_code == code
    assert (outcome.message.status, outcome.message.error_code) == (status, str(code))


EXPECTED_CASSETTES = {
    "test_json_default_body", "test_urlencoded_with_quick_replies", "test_xml",
    "test_literal_content_type_is_unescaped", "test_get_with_query_template", "test_long_text_in_parts",
    "test_response_check_found", "test_response_check_missing_is_failed", "test_status_codes[401-failed]",
    "test_status_codes[429-errored]", "test_status_codes[500-errored]",
}


def test_cassettes_are_complete_and_from_one_recording():
    """Every test above has its cassette, no stale one is left, and all were recorded against one httpbin."""
    base = json.loads(RECORDING.read_text())["base_url"]
    found = {p.stem: yaml.safe_load(p.read_text()) for p in CASSETTES.glob("*.yaml")}
    assert set(found) == EXPECTED_CASSETTES
    for name, cassette in found.items():
        uris = [i["request"]["uri"] for i in cassette["interactions"]]
        assert uris and all(u.startswith(base + "/") for u in uris), (
            f"{name} was recorded against another server than {base}: re-record all cassettes")
