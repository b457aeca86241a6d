"""Routes, failover and tenants against real peers: `smsgate serve`, a real Kannel as the live aggregator, httpbin as
one that takes a request and never answers in time, a port nothing listens on as one that refuses connections,
and PostgreSQL for two instances sharing a tenant's daily limit.

- A message posted without a channel, routed to `primary` (refusing connections, `max_attempts = 1`, not probed)
  then `backup` (Kannel): it ends sent on `backup`, Kannel got it exactly once, its history shows `primary` tried.
- A route whose first channel's probe found its link down sends on the next at once, without trying it.
- A message whose send on its first channel is in doubt (the request left, no answer) is never sent on the next.
- Tenant `acme` (channels = ["backup"]): a send naming `primary` is refused; a routed send goes to `backup`; its
  listing shows only `backup`'s messages; an unknown id and another tenant's id are the same 404.
- Its daily limit holds across two instances on one PostgreSQL database.
"""

from __future__ import annotations

import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.peers import Httpbin, Kannel, free_port
from tests.support.served import SMSGATE, Served

OPERATOR = "routing-operator-token-0123"
ACME = "routing-acme-token-0123456789"
GLOBEX = "routing-globex-token-012345678"


def _config(path: Path, port: int, database: str, kannel: Kannel, slow_url: str, *, daily_limit: int = 0) -> Path:
    dead = free_port()  # nothing listens there: every connection is refused
    kannel_keys = (f'adapter = "kannel"\ncountry = "RW"\naddress = "2020"\nsend_url = "{kannel.sendsms_url}"\n'
                   f'username = "{kannel.username}"\npassword = "{kannel.password}"\nmax_attempts = 1\n')
    limit = f"daily_limit = {daily_limit}\n" if daily_limit else ""
    path.write_text(
        f'[gateway]\nhost = "127.0.0.1"\nport = {port}\npublic_url = "http://127.0.0.1:{port}"\n'
        f'database = "{database}"\nsynchronous = "NORMAL"\napi_token = "{OPERATOR}"\nsend_retry_base = 0.5\n\n'
        # not probed: its link is unknown until a send finds it refusing, so failover happens on the send
        f'[channels.primary]\nadapter = "http"\ncountry = "RW"\nsend_url = "http://127.0.0.1:{dead}/send"\n'
        "max_attempts = 1\nhealth_interval = 0\n\n"
        # probed every second: its link is known down before anything is sent
        f'[channels.probed]\nadapter = "http"\ncountry = "RW"\nsend_url = "http://127.0.0.1:{dead}/send"\n'
        "max_attempts = 1\nhealth_interval = 1\n\n"
        f'[channels.slow]\nadapter = "http"\ncountry = "RW"\nsend_url = "{slow_url}"\ntimeout = 1\n'
        "max_attempts = 1\n\n"
        f"[channels.backup]\n{kannel_keys}\n[channels.other]\n{kannel_keys}\n"
        '[[routes]]\nto = ["+250"]\nchannels = ["primary", "backup"]\n\n'
        '[[routes]]\nto = ["+256"]\nchannels = ["slow", "backup"]\n\n'
        '[[routes]]\nto = ["+255"]\nchannels = ["probed", "backup"]\n\n'
        f'[tenants.acme]\ntoken = "{ACME}"\nchannels = ["backup"]\n{limit}\n'
        f'[tenants.globex]\ntoken = "{GLOBEX}"\nchannels = ["other"]\n')
    return path


@pytest.fixture(scope="module")
def gateway(tmp_path_factory) -> Iterator[tuple[Served, Kannel]]:
    tmp = tmp_path_factory.mktemp("routing")
    with Kannel() as kannel, Httpbin() as httpbin:
        port = free_port()
        config = _config(tmp / "smsgate.toml", port, str(tmp / "smsgate.sqlite3"), kannel,
                         f"{httpbin.url}/delay/5")  # answers after 5 s: the channel's 1 s timeout runs out first
        served = Served(config, port, tmp / "serve.log")
        served.start()
        try:
            yield served, kannel
        finally:
            served.stop()


def _post(served: Served, token: str, **body: Any) -> httpx.Response:
    return httpx.post(f"{served.url}/api/v1/messages", headers={"Authorization": f"Bearer {token}"},
                      json=body, timeout=10)


def _get(served: Served, token: str, path: str) -> httpx.Response:
    return httpx.get(f"{served.url}/api/v1{path}", headers={"Authorization": f"Bearer {token}"}, timeout=10)


def _settled(served: Served, message_id: str, *, statuses: tuple[str, ...]) -> dict[str, Any]:
    """The message once its status is one of `statuses` (the worker and Kannel's reports take a moment)."""
    deadline = time.monotonic() + 30
    while True:
        message = _get(served, OPERATOR, f"/messages/{message_id}").json()
        if message["status"] in statuses:
            return message
        assert time.monotonic() < deadline, message
        time.sleep(0.1)


def _mts(kannel: Kannel, text: str) -> int:
    return sum(1 for mt in kannel.received_mts() if mt["text"] == text)


def test_a_message_without_a_channel_fails_over_to_the_live_aggregator_once(gateway):
    served, kannel = gateway
    text = f"failover {uuid.uuid4().hex[:8]}"
    answer = _post(served, OPERATOR, to="0788383383", text=text)
    assert answer.status_code == 202, answer.text
    assert answer.json()["channel"] == "primary" and answer.json()["route"] == ["primary", "backup"]
    message = _settled(served, answer.json()["id"], statuses=("sent", "delivered"))
    assert message["channel"] == "backup"
    kannel.wait_for_mt(lambda mt: mt["text"] == text)
    time.sleep(0.5)  # anything sent twice would have reached the fake SMSC by now
    assert _mts(kannel, text) == 1
    tried = [(h["status"], h["channel"]) for h in message["history"]]
    assert tried[:3] == [("queued", "primary"), ("errored", "primary"), ("wired", "backup")], tried
    assert "connection refused" in message["history"][1]["error_reason"]
    assert "moved to channel backup" in message["history"][1]["error_reason"]


def test_a_route_skips_a_channel_its_probe_found_down(gateway):
    served, kannel = gateway
    deadline = time.monotonic() + 30
    while True:  # the first probe round comes within a second or two of start
        links = {c["channel"]: c for c in _get(served, OPERATOR, "/channels").json()["channels"]}
        if links["probed"]["link"] == "down":
            break
        assert time.monotonic() < deadline, links["probed"]
        time.sleep(0.2)
    assert "connection refused" in links["probed"]["reason"]
    text = f"skips {uuid.uuid4().hex[:8]}"
    answer = _post(served, OPERATOR, to="+255754123456", text=text)
    assert answer.status_code == 202, answer.text
    # the failover order at queue time: the channel found down comes last
    assert answer.json()["channel"] == "backup" and answer.json()["route"] == ["backup", "probed"]
    message = _settled(served, answer.json()["id"], statuses=("sent", "delivered"))
    assert {h["channel"] for h in message["history"]} == {"backup"}
    kannel.wait_for_mt(lambda mt: mt["text"] == text)
    assert _mts(kannel, text) == 1


def test_a_message_in_doubt_on_its_first_channel_is_not_sent_on_the_next(gateway):
    served, kannel = gateway
    text = f"in doubt {uuid.uuid4().hex[:8]}"
    answer = _post(served, OPERATOR, to="+256772123456", text=text)
    assert answer.status_code == 202 and answer.json()["channel"] == "slow"
    message = _settled(served, answer.json()["id"], statuses=("failed", "wired", "sent", "delivered"))
    assert message["status"] == "failed" and message["channel"] == "slow"
    assert message["error_code"] == "read_timeout"
    assert {h["channel"] for h in message["history"]} == {"slow"}
    time.sleep(1.0)  # a resend on backup would have reached Kannel by now
    assert _mts(kannel, text) == 0


def test_a_tenant_sends_and_sees_only_within_its_channels(gateway):
    served, kannel = gateway
    refused = _post(served, ACME, channel="primary", to="0788383383", text="not mine")
    assert refused.status_code == 422 and refused.json()["error"] == "unknown channel 'primary' (known: backup)"
    text = f"acme {uuid.uuid4().hex[:8]}"
    routed = _post(served, ACME, to="0788383383", text=text)
    assert routed.status_code == 202 and routed.json()["channel"] == "backup"
    _settled(served, routed.json()["id"], statuses=("sent", "delivered"))
    kannel.wait_for_mt(lambda mt: mt["text"] == text)
    theirs = _post(served, GLOBEX, channel="other", to="0788383383", text="globex's")
    assert theirs.status_code == 202
    _post(served, OPERATOR, to="0788383383", text="the operator's, routed")

    listed = _get(served, ACME, "/messages?limit=1000").json()["messages"]
    assert routed.json()["id"] in {m["id"] for m in listed}
    assert {m["channel"] for m in listed} == {"backup"}
    everything = _get(served, OPERATOR, "/messages?limit=1000").json()["messages"]
    assert {"backup", "other", "slow"} <= {m["channel"] for m in everything}  # the operator sees all

    unknown = str(uuid.uuid4())
    foreign = _get(served, ACME, f"/messages/{theirs.json()['id']}")
    missing = _get(served, ACME, f"/messages/{unknown}")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == {"error": f"no message with id {theirs.json()['id']!r}"}
    assert missing.json() == {"error": f"no message with id {unknown!r}"}
    assert _get(served, GLOBEX, f"/messages/{theirs.json()['id']}").status_code == 200


def test_a_tenants_daily_limit_holds_across_two_instances_on_postgresql(pg_url, tmp_path):
    url = pg_url()
    config_a = tmp_path / "a.toml"
    upgraded = subprocess.run([str(SMSGATE), "--config", str(_placeholder(config_a, url)), "db", "upgrade"],
                              capture_output=True, text=True, timeout=120)
    assert upgraded.returncode == 0, upgraded.stderr
    with Kannel() as kannel:
        instances = []
        for name in ("a", "b"):
            port = free_port()
            config = _config(tmp_path / f"{name}.toml", port, url, kannel, "http://127.0.0.1:9/never",
                             daily_limit=10)
            instances.append(Served(config, port, tmp_path / f"{name}.log"))
        try:
            for served in instances:
                served.start()
            answers: list[httpx.Response] = []
            lock = threading.Lock()

            def post(served: Served, n: int) -> None:
                for i in range(n):
                    answer = _post(served, ACME, to="0788383383", text=f"limited {i}")
                    with lock:
                        answers.append(answer)

            threads = [threading.Thread(target=post, args=(served, 12)) for served in instances for _ in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            codes = sorted(a.status_code for a in answers)
            assert codes.count(202) == 10 and codes.count(429) == 38, codes
            for refused in (a for a in answers if a.status_code == 429):
                assert "daily_limit of 10" in refused.json()["error"]
                assert 1 <= int(refused.headers["Retry-After"]) <= 86400
            listed = _get(instances[1], ACME, "/messages?limit=1000").json()["messages"]
            assert len([m for m in listed if m["tenant"] == "acme"]) == 10
            # the operator has no limit, on either instance
            assert _post(instances[0], OPERATOR, channel="backup", to="0788383383", text="ops").status_code == 202
        finally:
            for served in instances:
                served.stop()


def _placeholder(path: Path, database: str) -> Path:
    """A config naming only the database, for `smsgate db upgrade` before the instances start."""
    path.write_text(f'[gateway]\ndatabase = "{database}"\n')
    return path
