"""Many instances: three `smsgate serve` processes on one PostgreSQL database, one SIGKILLed mid-run and restarted.

3,000 messages are posted to the API spread over the three (a post that finds its instance dead is retried on
the next one with the same id, as a load balancer would), while Kannel-style inbound callbacks with their own
ids arrive spread over them too (retried the same way). In the middle, once the aggregator has seen a third of
the sends, instance B is SIGKILLed; a second later it is started again. Then:

- every acknowledged message is stored exactly once, under its id, and so is every acknowledged inbound id;
- no message reached the aggregator twice; each is `wired` (sent exactly once) or `failed` as `in_doubt` (its
  request was out when B died: reported, never resent), and only B's in-flight sends can be in doubt;
- each instance sent some of the queue (the restarted B too), and the outbox delivered every event at least once.

The figures (time, rates, sends per instance, sends in doubt) are printed; docs/scaling.md quotes a run.
"""

from __future__ import annotations

import asyncio
import collections
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from smsgate.store import PostgresStore

from tests.support.aggregator import StubAggregator
from tests.support.peers import free_port
from tests.support.served import SMSGATE, Served

TOKEN = "instances-test-token-0123"
MESSAGES, INBOUND, SLOTS = 3000, 900, 8
FROM = "+12025550123"


class Clients:
    """Threads posting to the instances in turn; a request whose instance is down goes to the next one."""

    def __init__(self, instances: list[Served]) -> None:
        self.instances = instances
        self.acknowledged: dict[str, str] = {}  # our key -> the id the 2xx announced
        self.failovers = 0
        self.lock = threading.Lock()

    def post(self, client: httpx.Client, start: int, path: str, key: str, **request: Any) -> None:
        for attempt in range(60):
            server = self.instances[(start + attempt) % len(self.instances)]
            try:
                response = client.post(f"{server.url}{path}", **request)
            except httpx.HTTPError:
                with self.lock:
                    self.failovers += 1
                time.sleep(0.01)
                continue
            if response.status_code in (200, 202):
                with self.lock:
                    data = response.json()
                    self.acknowledged[key] = data["id"] if "id" in data else data["data"][0]["id"]
                return
            raise AssertionError(f"{path} answered {response.status_code}: {response.text}")
        raise AssertionError(f"{key}: no instance took it")


def _config(directory: Path, name: str, port: int, database: str, aggregator: str) -> Path:
    config = directory / f"{name}.toml"
    config.write_text(f"""
[gateway]
host = "127.0.0.1"
port = {port}
public_url = "http://127.0.0.1:{port}"
database = "{database}"
api_token = "{TOKEN}"
send_concurrency = {SLOTS}
send_lease = 2.0

[[gateway.webhooks]]
url = "{aggregator}/hook"
secret = "instances-webhook-secret"

[channels.ex]
adapter = "http"
country = "US"
content_type = "json"
send_url = "{aggregator}/send/{name}"
max_in_flight = {SLOTS}

[channels.kn]
adapter = "kannel"
country = "US"
send_url = "http://127.0.0.1:9/cgi-bin/sendsms"
username = "u"
password = "kannel-pass"
""")
    return config


def test_three_instances_one_sigkilled_lose_nothing_and_send_nothing_twice(pg_url, tmp_path):
    database = pg_url()
    aggregator = StubAggregator(delay=0.15)  # so each instance has sends in flight when B dies
    instances = [Served(_config(tmp_path, name, port, database, aggregator.url), port, tmp_path / f"{name}.log")
                 for name, port in (("a", free_port()), ("b", free_port()), ("c", free_port()))]
    upgrade = subprocess.run([str(SMSGATE), "--config", str(instances[0].config), "db", "upgrade"],
                             capture_output=True, text=True, timeout=60)
    assert upgrade.returncode == 0, upgrade.stderr
    outgoing = Clients(instances)
    inbound = Clients(instances)
    ids = [str(uuid.uuid4()) for _ in range(MESSAGES)]
    killed_at: dict[str, float] = {}
    try:
        for server in instances:
            server.start()
        started = time.monotonic()

        def post_messages(n: int, chunk: list[str]) -> None:
            with httpx.Client(timeout=30, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
                for i, message_id in enumerate(chunk):
                    outgoing.post(client, n + i, "/api/v1/messages", message_id,
                                  json={"channel": "ex", "to": FROM, "text": f"m {message_id}", "id": message_id})

        def post_inbound(n: int, keys: list[int]) -> None:
            with httpx.Client(timeout=30) as client:
                for key in keys:
                    inbound.post(client, n + key, "/c/kn/receive", f"mo-{key}",
                                 data={"sender": FROM, "id": f"mo-{key}", "ts": "1700000000",
                                       "message": f"hello {key}"})

        threads = [threading.Thread(target=post_messages, args=(n, ids[n::4])) for n in range(4)]
        threads += [threading.Thread(target=post_inbound, args=(n, list(range(n, INBOUND, 2)))) for n in range(2)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 180
        # a third of the way in, at a moment B has a send out (on a loaded machine it may have none for a while)
        while (aggregator.total() < MESSAGES // 3 or not aggregator.busy("b")) and time.monotonic() < deadline:
            time.sleep(0.005)
        instances[1].kill()  # B dies mid-run: posts, callbacks and sends in flight
        killed_at["sent"], killed_at["t"] = aggregator.total(), time.monotonic() - started
        time.sleep(1.0)
        instances[1].start()  # and comes back; its old claims expire after send_lease
        for thread in threads:
            thread.join(timeout=180)
        posted = time.monotonic() - started

        async def counts() -> dict[str, Any]:
            store = PostgresStore(database)
            try:
                rows = await store.execute(
                    "SELECT (SELECT count(*) FROM messages WHERE direction = 'out' AND status NOT IN"
                    " ('wired', 'failed')) AS open, (SELECT count(*) FROM outbox WHERE done_at IS NULL) AS outbox")
                return rows[0]
            finally:
                await store.close()

        sent_all = None
        while time.monotonic() < deadline:
            state = asyncio.run(counts())
            if state["open"] == 0 and sent_all is None:
                sent_all = time.monotonic() - started
            if state["open"] == 0 and state["outbox"] == 0:
                break
            time.sleep(0.2)
        drained = time.monotonic() - started

        async def stored() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
            store = PostgresStore(database)
            try:
                out = await store.execute("SELECT id, status, error_code FROM messages WHERE direction = 'out'")
                into = await store.execute("SELECT id, external_id FROM messages WHERE direction = 'in'")
                return out, into
            finally:
                await store.close()

        out, into = asyncio.run(stored())
    finally:
        for server in instances:
            server.stop()
        aggregator.close()

    # every acknowledged message stored once, under its id
    assert set(outgoing.acknowledged) == set(ids) and all(k == v for k, v in outgoing.acknowledged.items())
    assert len(out) == MESSAGES and {r["id"] for r in out} == set(ids)
    # no message sent twice; each wired one sent exactly once; the rest failed as in doubt, never resent
    assert [i for i, n in aggregator.sends.items() if n > 1] == []
    wired = {r["id"] for r in out if r["status"] == "wired"}
    failed = {r["id"]: r["error_code"] for r in out if r["status"] == "failed"}
    assert len(wired) + len(failed) == MESSAGES
    assert [i for i in wired if aggregator.sends[i] != 1] == []
    assert set(failed.values()) <= {"in_doubt"}, collections.Counter(failed.values())
    assert 0 < len(failed) <= SLOTS  # the kill caught sends in flight: at most B's, and none was resent
    # inbound: each acknowledged id stored once, under the id its 2xx announced
    by_external = collections.Counter(r["external_id"] for r in into)
    assert set(inbound.acknowledged) == {f"mo-{k}" for k in range(INBOUND)}
    assert [e for e, n in by_external.items() if n > 1] == [] and len(into) == INBOUND
    ids_in = {r["external_id"]: r["id"] for r in into}
    assert all(ids_in[key] == message_id for key, message_id in inbound.acknowledged.items())
    # all three instances sent, the restarted one included; every event reached the webhook at least once
    assert min(aggregator.by_instance[name] for name in "abc") > 0, aggregator.by_instance
    assert all((i, "wired") in aggregator.hook_events for i in wired)
    assert all((i, "failed") in aggregator.hook_events for i in failed)
    twice = sum(1 for n in aggregator.hooks.values() if n > 1)
    print(f"\n3 instances on one PostgreSQL: {MESSAGES} messages and {INBOUND} inbound callbacks posted in "
          f"{posted:.1f} s, every message sent or failed after {sent_all:.1f} s ({MESSAGES / sent_all:.0f}/s), the "
          f"outbox drained after {drained:.1f} s (B's held deliveries free within a 15 s lease); "
          f"B SIGKILLed at {killed_at['t']:.1f} s with "
          f"{killed_at['sent']} sent, restarted 1 s later; sends per instance "
          f"{dict(sorted(aggregator.by_instance.items()))}; "
          f"{len(wired)} wired once, {len(failed)} failed in doubt (not resent), 0 sent twice; "
          f"{outgoing.failovers + inbound.failovers} requests failed over to another instance; "
          f"{sum(aggregator.hooks.values())} webhook deliveries, {twice} delivered twice (at least once)")
