"""The `kannel` channel's probes: smsbox answering sendsms (the link), and Kannel's verdict on the credentials
(`smsgate check --live`). The real smsbox's answers are pinned in tests/system/test_link_state.py."""

from __future__ import annotations

import httpx
from smsgate_kannel import KannelAdapter

SEND_URL = "http://kannel.example:13013/cgi-bin/sendsms?account=x"
BASE = {"adapter": "kannel", "send_url": SEND_URL, "username": "gate", "password": "pw-123456"}


def test_the_link_probe_sends_no_credentials_and_any_answer_is_up(smsgate_harness):
    h = smsgate_harness({"k": BASE}, adapters=[KannelAdapter],
                        respond=lambda r: httpx.Response(403, text="Authorization failed for sendsms"))
    assert h.run(h.gateway.adapters["k"].check_link()) == (
        "up", "smsbox answered on kannel.example:13013 (HTTP 403)")
    (request,) = h.requests
    assert str(request.url) == "http://kannel.example:13013/cgi-bin/sendsms"  # no query: no password

    def refused(request):
        raise httpx.ConnectError("no", request=request) from ConnectionRefusedError(111, "refused")

    h.respond = refused
    assert h.run(h.gateway.adapters["k"].check_link()) == (
        "down", "cannot connect to kannel.example:13013 (connection refused)")


def test_check_live_reads_kannels_verdict_on_the_credentials(smsgate_harness):
    answers = iter([httpx.Response(400, text="Missing receiver number, rejected"),
                    httpx.Response(403, text="Authorization failed for sendsms"),
                    httpx.Response(202, text="0: Accepted for delivery")])
    h = smsgate_harness({"k": BASE}, adapters=[KannelAdapter], respond=lambda r: next(answers))
    adapter = h.gateway.adapters["k"]
    assert h.run(adapter.probe()) is None
    refused = "smsbox refused the channel's username or password (HTTP 403: Authorization failed)"
    assert h.run(adapter.probe()) == refused
    assert h.run(adapter.probe()) == "unexpected answer from smsbox to a sendsms without recipient: HTTP 202"
    params = dict(h.requests[0].url.params)
    assert params == {"account": "x", "username": "gate", "password": "pw-123456"}  # and no `to`: nothing is sent
