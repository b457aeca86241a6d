"""What the gateway gives away and what it keeps: /healthz, HEAD requests, blank tokens, refused callbacks."""

from __future__ import annotations

import logging

import httpx
import pytest
from smsgate.errors import ConfigError
from smsgate.host import config_from_dict

from tests.support.toy_adapter import Toy

CHANNELS = {"secret-channel-name": {"adapter": "toy", "country": "RW"}}


@pytest.fixture
def h(smsgate_harness):
    return smsgate_harness(CHANNELS, adapters=[Toy], respond=lambda r: httpx.Response(200, text="ext-1"))


def test_healthz_names_no_channel(h):
    response = h.request("GET", "/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "channels_down": 0}
    assert "secret-channel-name" not in response.text


def test_head_on_a_get_route_stores_nothing(h):
    before_logs = len(h.logs(limit=1000))
    response = h.request("HEAD", "/c/secret-channel-name/receive", params={"from": "+250788383383", "text": "x"})
    assert response.status_code == 200
    assert h.messages() == [] and len(h.logs(limit=1000)) == before_logs
    # the same request as a GET is stored: HEAD was the only difference
    assert h.request("GET", "/c/secret-channel-name/receive",
                     params={"from": "+250788383383", "text": "x"}).status_code == 200
    assert len(h.messages()) == 1


@pytest.mark.parametrize("token", ["", " ", "\t\n"])
def test_a_blank_api_token_is_a_config_error_not_an_api_without_a_usable_token(token):
    with pytest.raises(ConfigError, match="api_token") as caught:
        config_from_dict({"gateway": {"api_token": token}}, {"toy": Toy}, file="cfg.toml")
    assert "cfg.toml" in str(caught.value) and "blank" in str(caught.value)


def test_callback_logs_name_their_message_and_take_real_time(h):
    sent = h.send("secret-channel-name", "+250788383383", "hi").message
    h.request("POST", "/c/secret-channel-name/status", data={"id": sent.id, "status": "delivered"})
    h.request("POST", "/c/secret-channel-name/receive", data={"from": "+250788383383", "text": "reply"})
    incoming = h.messages(direction="in")[0]
    by_message = h.logs(message_id=sent.id)
    assert {log["kind"] for log in by_message} == {"send", "status"}  # `smsgate logs --message ID`
    assert [log["kind"] for log in h.logs(message_id=incoming.id)] == ["receive"]
    callback = next(log for log in by_message if log["kind"] == "status")
    assert callback["elapsed_ms"] > 0 and callback["traces"][0]["elapsed_ms"] > 0


def test_a_refused_callback_is_one_warning_line(h, caplog):
    caplog.set_level(logging.INFO, logger="smsgate")
    h.request("POST", "/c/secret-channel-name/receive", data={"text": "no sender"})
    h.request("POST", "/c/nobody/receive", data={"from": "+250788383383"})
    refused = [r for r in caplog.records if r.name == "smsgate.app" and "refused" in r.getMessage()]
    assert len(refused) == 2 and all(r.levelno == logging.WARNING for r in refused)
    assert "field 'from' required" in refused[0].getMessage() and "-> 404" in refused[1].getMessage()
    assert all("\n" not in r.getMessage() for r in refused)
