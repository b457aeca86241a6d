"""`smsgate serve --split`: HTTP in the process started, sending in a forked second one, on one SQLite file.

What the API accepts is sent exactly once by the sender, which hears of new messages at once (not at its next
poll); the two processes live and die together, so a SIGKILL of `smsgate serve` leaves no sender behind.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

import httpx

from tests.support.aggregator import StubAggregator
from tests.support.peers import free_port
from tests.support.served import Served

TOKEN = "split-test-api-token"


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    if int(fh.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except OSError:
                continue
    return found


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"  # exited, not yet reaped
    except OSError:
        return True


def _wait(what: str, done, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_split_sends_what_the_api_accepts_once_and_dies_with_its_parent(tmp_path: Path):
    aggregator = StubAggregator()
    port = free_port()
    config = tmp_path / "smsgate.toml"
    config.write_text(
        f'[gateway]\nhost = "127.0.0.1"\nport = {port}\ndatabase = "{tmp_path / "gateway.sqlite3"}"\n'
        f'api_token = "{TOKEN}"\nsend_concurrency = 8\n'
        f'[channels.ex]\nadapter = "http"\ncountry = "US"\nsend_url = "{aggregator.url}/send/ex"\n'
        'content_type = "json"\n')
    server = Served(config, port, tmp_path / "serve.log", args=("--split",))
    try:
        server.start()
        assert server.proc is not None
        (sender,) = _children(server.proc.pid)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        ids = [str(uuid.uuid4()) for _ in range(40)]
        with httpx.Client(base_url=server.url, headers=headers, timeout=10) as client:
            for message_id in ids[:20]:
                response = client.post("/api/v1/messages", json={"channel": "ex", "to": "+12025550123",
                                                                  "text": "one", "id": message_id})
                assert response.status_code == 202
            batch = client.post("/api/v1/messages/batch", json={"messages": [
                {"channel": "ex", "to": "+12025550123", "text": "many", "id": i} for i in ids[20:]]})
            assert [r["status"] for r in batch.json()["results"]] == [202] * 20
            _wait("every message at the aggregator", lambda: aggregator.total() >= len(ids), seconds=20)
            assert dict(aggregator.sends) == {i: 1 for i in ids}
            _wait("the statuses", lambda: {m["status"] for m in client.get(
                "/api/v1/messages", params={"limit": 100}).json()["messages"]} == {"wired"})
        server.kill()  # SIGKILL: the parent cannot stop its child itself
        _wait("the sender to die with its parent", lambda: _gone(sender), seconds=15)
    finally:
        server.kill()
        aggregator.close()


def test_split_stops_serving_when_its_sender_dies(tmp_path: Path):
    port = free_port()
    config = tmp_path / "smsgate.toml"
    config.write_text(
        f'[gateway]\nhost = "127.0.0.1"\nport = {port}\ndatabase = "{tmp_path / "gateway.sqlite3"}"\n'
        '[channels.ex]\nadapter = "http"\ncountry = "US"\nsend_url = "http://127.0.0.1:9/unused"\n')
    server = Served(config, port, tmp_path / "serve.log", args=("--split",))
    try:
        server.start()
        assert server.proc is not None
        (sender,) = _children(server.proc.pid)
        os.kill(sender, signal.SIGKILL)  # a crashed sender: the service must be seen as down, not half up
        server.proc.wait(timeout=20)
        assert "the sending process ended" in server.log.read_text()
    finally:
        server.kill()
