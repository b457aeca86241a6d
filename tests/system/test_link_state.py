"""What an operator sees when an aggregator dies, on a real `smsgate serve` process: its output, `smsgate status`,
`/metrics`, `smsgate check --live`; and a real Kannel whose smsbox is killed and started again.

- an `http` channel whose aggregator refuses connections and one whose aggregator answers, both probed every
  second: serve's output has a WARNING naming the dead channel and the queued message's id within seconds,
  `smsgate status --json` shows the dead channel `down` and the live one `up`, `/metrics` has
  `smsgate_channel_up` 0 and 1, and `smsgate check --live` has one line per channel;
- a `kannel` channel: smsbox SIGKILLed → the channel is `down` (a line in serve's output says so); a message
  queued meanwhile waits; smsbox back → `up`, and the message reaches the fake SMSC.

No step asserts a duration: each waits, with a generous deadline, for what it expects.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.aggregator import StubAggregator
from tests.support.peers import Kannel, free_port
from tests.support.served import SMSGATE, Served

pytestmark = pytest.mark.peers

TOKEN = "link-state-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ENV = {k: v for k, v in os.environ.items() if not k.startswith("SMSGATE_")}


def wait(what: str, found: Callable[[], Any], served: Served, timeout: float = 30.0) -> Any:
    """The first truthy `found()`, asked every 0.1 s; fails naming `what`, with serve's output."""
    deadline = time.monotonic() + timeout
    while True:
        value = found()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what} not seen within {timeout}s\n{served.log.read_text()[-4000:]}"
        time.sleep(0.1)


def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SMSGATE), "--config", str(config), *args], capture_output=True, text=True,
                          timeout=60, env=ENV)


def links(config: Path) -> dict[str, dict[str, Any]]:
    done = cli(config, "status", "--json")
    assert done.returncode == 0, done.stderr
    return {item["channel"]: item for item in json.loads(done.stdout)}


def channel_up(served: Served) -> dict[str, float]:
    answer = httpx.get(f"{served.url}/metrics", headers=AUTH, timeout=10)
    assert answer.status_code == 200
    return {s.labels["channel"]: s.value for family in text_string_to_metric_families(answer.text)
            for s in family.samples if s.name == "smsgate_channel_up"}


def warnings_about(served: Served, *words: str) -> list[str]:
    lines = served.log.read_text().splitlines()
    return [line for line in lines if " WARNING " in line and all(w in line for w in words)]


def test_a_dead_aggregator_is_loud_in_the_log_status_and_metrics(tmp_path):
    stub = StubAggregator()
    dead_port, port = free_port(), free_port()  # nothing listens on dead_port: connections are refused
    config = tmp_path / "smsgate.toml"
    config.write_text(textwrap.dedent(f"""
        [gateway]
        host = "127.0.0.1"
        port = {port}
        database = "{tmp_path / 'gw.sqlite3'}"
        api_token = "{TOKEN}"
        send_retry_base = 1

        [channels.dead]
        adapter = "http"
        country = "RW"
        send_url = "http://127.0.0.1:{dead_port}/send"
        health_interval = 1
        max_attempts = 1

        [channels.live]
        adapter = "http"
        country = "RW"
        content_type = "json"
        send_url = "{stub.url}/send/live"
        health_interval = 1
    """))
    served = Served(config, port, tmp_path / "serve.log")
    served.start()
    try:
        queued = httpx.post(f"{served.url}/api/v1/messages", headers=AUTH, timeout=10,
                            json={"channel": "dead", "to": "0788383383", "text": "into the void"})
        assert queued.status_code == 202, queued.text
        message_id = queued.json()["id"]

        # serve's own output (run with --log-level warning) names the channel, the message and the attempt
        (line, *_) = wait("a WARNING naming the channel and the message",
                          lambda: warnings_about(served, "channel dead", message_id), served)
        assert "attempt 1 of 10 failed: cannot connect to" in line and "(connection refused)" in line, line
        assert "; next attempt at " in line
        assert wait("the link down line", lambda: warnings_about(served, "channel dead: link down"), served)

        seen = wait("status showing dead down and live up",
                    lambda: (found := links(config)) and found["dead"]["link"] == "down"
                    and found["live"]["link"] == "up" and found, served)
        dead, live = seen["dead"], seen["live"]
        assert dead["reason"] == f"cannot connect to 127.0.0.1:{dead_port} (connection refused)"
        assert dead["since"] and dead["probed_at"] and dead["queued"] == 1 and dead["oldest_queued_s"] >= 0
        assert "connection refused" in dead["last_error"]["error"]
        assert dead["last_error"]["message_id"] == message_id
        assert live["reason"] == f"{stub.url.removeprefix('http://')} reachable" and live["last_error"] is None
        assert stub.total() == 0  # the live channel's probe is a connection only: nothing was sent

        assert wait("smsgate_channel_up 0 and 1", lambda: channel_up(served) == {"dead": 0.0, "live": 1.0}, served)

        text = cli(config, "status")  # the table a person reads
        assert text.returncode == 0
        row = [ln for ln in text.stdout.splitlines() if ln.startswith("dead ")]
        assert row and " down " in row[0] and "cannot connect to" in row[0], text.stdout

        live_check = cli(config, "check", "--live")
        assert live_check.returncode == 1
        lines = [ln for ln in live_check.stdout.splitlines() if ln.strip().startswith("channel ")]
        assert len(lines) == 2
        assert lines[0].endswith(f"connection failed: cannot connect to 127.0.0.1:{dead_port} (connection refused)")
        assert lines[1].endswith("connection ok")
    finally:
        served.stop()
        stub.close()


def test_kannel_smsbox_killed_is_down_and_back_up(tmp_path):
    port = free_port()
    with Kannel() as kannel:
        config = tmp_path / "smsgate.toml"
        config.write_text(textwrap.dedent(f"""
            [gateway]
            host = "127.0.0.1"
            port = {port}
            database = "{tmp_path / 'gw.sqlite3'}"
            api_token = "{TOKEN}"
            send_retry_base = 1
            send_retry_max = 2

            [channels.kn]
            adapter = "kannel"
            country = "RW"
            address = "2020"
            send_url = "{kannel.sendsms_url}"
            username = "{kannel.username}"
            password = "{kannel.password}"
            health_interval = 1
            max_attempts = 1
        """))
        served = Served(config, port, tmp_path / "serve.log")
        served.start()
        try:
            up = wait("the channel up", lambda: (s := links(config)["kn"])["link"] == "up" and s, served)
            assert up["reason"] == f"smsbox answered on 127.0.0.1:{kannel.sendsms_port} (HTTP 403)"
            assert cli(config, "check", "--live").returncode == 0  # Kannel accepted the credentials

            kannel.kill_smsbox()
            down = wait("the channel down", lambda: (s := links(config)["kn"])["link"] == "down" and s, served)
            assert down["reason"] == f"cannot connect to 127.0.0.1:{kannel.sendsms_port} (connection refused)"
            assert down["since"] > up["since"]
            assert wait("the link down line", lambda: warnings_about(served, "channel kn: link down"), served)
            assert channel_up(served) == {"kn": 0.0}
            text = f"while smsbox was away {uuid.uuid4().hex[:8]}"
            queued = httpx.post(f"{served.url}/api/v1/messages", headers=AUTH, timeout=10,
                                json={"channel": "kn", "to": "0788383383", "text": text})
            assert queued.status_code == 202, queued.text

            kannel.start_smsbox()
            back = wait("the channel up again", lambda: (s := links(config)["kn"])["link"] == "up" and s, served)
            assert back["since"] > down["since"]
            kannel.wait_for_mt(lambda mt: mt["text"] == text, timeout=60)  # the queued message went out
            assert channel_up(served) == {"kn": 1.0}
        finally:
            served.stop()
