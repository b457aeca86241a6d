"""The `http` channel's link probe: a TCP connection to send_url's host, or a GET of its `health_url`."""

from __future__ import annotations

import socket

import httpx
from smsgate_http import HttpAdapter


def test_without_health_url_the_probe_connects_to_the_send_urls_host(smsgate_harness):
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen()
    port = listening.getsockname()[1]
    try:
        h = smsgate_harness({"ex": {"adapter": "http", "send_url": f"http://127.0.0.1:{port}/send?to={{{{to}}}}"}},
                            adapters=[HttpAdapter])
        adapter = h.gateway.adapters["ex"]
        assert h.run(adapter.check_link()) == ("up", f"127.0.0.1:{port} reachable")
        assert h.run(adapter.probe()) is None
        listening.close()
        state, reason = h.run(adapter.check_link())
        assert (state, reason) == ("down", f"cannot connect to 127.0.0.1:{port} (connection refused)")
        assert h.requests == []  # nothing was sent: the aggregator sees a connection, not a request
    finally:
        listening.close()


def test_a_health_url_must_answer_2xx_or_3xx(smsgate_harness):
    answers = iter([httpx.Response(204), httpx.Response(503)])
    h = smsgate_harness({"ex": {"adapter": "http", "send_url": "https://agg.example/send",
                                "health_url": "https://agg.example/health"}},
                        adapters=[HttpAdapter], respond=lambda request: next(answers))
    adapter = h.gateway.adapters["ex"]
    assert h.run(adapter.check_link()) == ("up", "agg.example reachable")
    assert h.run(adapter.check_link()) == ("down", "health URL answered HTTP 503")
    assert [(r.method, str(r.url)) for r in h.requests] == [("GET", "https://agg.example/health")] * 2
