"""The PostgreSQL backend around the store: migrations and `smsgate db`, copying an installation (never one a
running gateway holds), the URL's password, losing the database and getting it back, NUL characters, and a
channel's tps across instances.

(The store's own behaviour is core/tests/test_store_conformance.py; every harness test of core/tests runs on
PostgreSQL too; tests/system/test_instances.py runs three `smsgate serve` processes on one database.)
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from smsgate import IncomingMessage, OutgoingMessage, SendResult, Status, StatusUpdate
from smsgate.errors import StoreUnavailable
from smsgate.host import config_from_dict, create_app, open_gateway, utcnow
from smsgate.store import PostgresStore, SQLiteStore, copy_database, describe, open_store
from smsgate.store._postgres._migrations import POSTGRES

from tests.support.peers import Postgres, free_port
from tests.support.served import Served

SMSGATE = Path(sys.executable).with_name("smsgate")
PHONE = "+250788383383"


def smsgate(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SMSGATE), *args], capture_output=True, text=True, timeout=120, cwd=cwd)


# -- migrations --------------------------------------------------------------------------------------------------


def test_db_upgrade_twice_at_once_migrates_once_and_serve_refuses_a_schema_behind(pg_url, tmp_path):
    url = pg_url()
    (tmp_path / "smsgate.toml").write_text(f'[gateway]\ndatabase = "{url}"\n')
    refused = smsgate("serve", cwd=tmp_path)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
    assert "schema version 0" in refused.stderr and "smsgate db upgrade" in refused.stderr
    # two upgrades at once (two instances of a deploy script): the advisory lock lets one migrate
    procs = [subprocess.Popen([str(SMSGATE), "db", "upgrade"], cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = sorted(p.communicate(timeout=60)[0] for p in procs)
    assert [p.returncode for p in procs] == [0, 0]
    every = [m.version for m in POSTGRES]
    assert f"applied migration(s) {', '.join(map(str, every))}" in outputs[0], outputs
    assert f"up to date (schema version {every[-1]})" in outputs[1], outputs

    async def versions() -> list[dict[str, object]]:
        store = PostgresStore(url)
        try:
            return await store.execute("SELECT version FROM schema_migrations ORDER BY version")
        finally:
            await store.close()

    assert asyncio.run(versions()) == [{"version": v} for v in every]


def test_a_store_on_a_schema_behind_refuses_with_the_command_to_run(pg_url):
    async def go() -> None:
        store = PostgresStore(pg_url())
        try:
            with pytest.raises(StoreUnavailable, match="run `smsgate db upgrade`"):
                await store.list_messages()
        finally:
            await store.close()

    asyncio.run(go())


# -- db copy ----------------------------------------------------------------------------------------------------


async def _fill(store) -> None:
    """A little of everything: sends with external ids and reports, a duplicate inbound, an opt-out, logs, and
    outbox items both delivered and pending."""
    from smsgate.store import OutboxItem

    store.set_planner(lambda e: [OutboxItem("webhook:x", e.key, e.type, {"data": e.data})])
    for i in range(30):
        message = OutgoingMessage("a", PHONE, f"out {i} ☃", metadata={"n": i})
        added = await store.add_outgoing(message, claim_for=60)
        if i % 3:
            await store.record_send(added.record.id, SendResult(Status.WIRED, [f"ext-{i}"]), None)
            await store.record_inbound("a", [StatusUpdate("a", Status.DELIVERED, None, f"ext-{i}")], None)
    for i in range(20):
        await store.record_inbound("a", [IncomingMessage("a", PHONE, f"in {i}", external_id=f"mo-{i % 15}")], None)
    await store.record_inbound("a", [StatusUpdate("a", Status.DELIVERED, None, "nobody")], None)
    from smsgate import OptOut

    await store.record_inbound("a", [OptOut("a", PHONE, reason="STOP")], None)
    for row in await store.outbox_due(limit=10):
        await store.outbox_done(row.id)
    from smsgate._http._channellog import ChannelLog, Redactor

    for kind in ("send", "receive"):
        log = ChannelLog(channel="a", kind=kind, redactor=Redactor())
        log.error(f"{kind} went wrong")
        await store.add_log(log)
    from smsgate.store import Fragment

    await store.add_fragment("a", Fragment("held", 1, 2, {"text": "Hello "}), _join, None)  # waits for part 2
    await store.revoke_session("signed-out", utcnow() + timedelta(hours=12))  # a copied cookie stays refused


def _join(parts: list) -> list[IncomingMessage]:
    return [IncomingMessage("a", PHONE, "".join(p.data["text"] for p in parts), external_id=f"joined-{parts[0].key}")]


async def _snapshot(store) -> dict[str, object]:
    messages = await store.list_messages(limit=1000)
    return {"messages": [(await store.get_message(m.id)).as_dict() for m in messages],
            "opt_outs": await store.opt_outs(), "logs": await store.list_logs(limit=1000),
            "outbox": [{k: v for k, v in item.items() if k != "lease_until"}
                       for item in await store.outbox_items(limit=1000)]}


def test_db_copy_moves_everything_both_ways_with_counts_checked(pg_url, tmp_path):
    sqlite_db = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    url, back = pg_url(), f"sqlite:///{tmp_path / 'back.sqlite3'}"

    async def fill_sqlite() -> dict[str, object]:
        store = SQLiteStore(tmp_path / "old.sqlite3")
        try:
            await _fill(store)
            return await _snapshot(store)
        finally:
            await store.close()

    before = asyncio.run(fill_sqlite())
    done = smsgate("db", "copy", "--from", sqlite_db, "--to", url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "counts match: 45 messages" in done.stdout and "2 channel_logs" in done.stdout
    assert "1 fragments" in done.stdout and "1 console_revoked" in done.stdout
    again = smsgate("db", "copy", "--from", sqlite_db, "--to", url, cwd=tmp_path)
    assert again.returncode == 1 and "already holds data" in again.stderr

    async def read(database: str) -> dict[str, object]:
        store = open_store(database)
        try:
            return await _snapshot(store)
        finally:
            await store.close()

    on_postgres = asyncio.run(read(url))
    assert on_postgres == before  # every message, history, log, opt-out and outbox item, field by field
    assert asyncio.run(copy_database(url, back))["outbox"][1] == len(before["outbox"])
    assert asyncio.run(read(back)) == before

    async def still_works() -> None:  # new rows continue after the copied sequence numbers
        store = open_store(url)
        try:
            await store.record_inbound("a", [IncomingMessage("a", PHONE, "after", external_id="mo-new")], None)
            assert [m.text for m in await store.list_messages(limit=1)] == ["after"]
            from smsgate.store import Fragment

            # a part held before the copy is joined by the one arriving after it
            _, joined = await store.add_fragment("a", Fragment("held", 2, 2, {"text": "world"}), _join, None)
            assert [o.event.text for o in joined] == ["Hello world"]
            assert await store.session_revoked("signed-out")
        finally:
            await store.close()

    asyncio.run(still_works())


def test_db_copy_refuses_a_source_a_running_gateway_holds(pg_url, tmp_path):
    port = free_port()
    config = tmp_path / "smsgate.toml"
    config.write_text(f'[gateway]\nport = {port}\ndatabase = "{tmp_path / "live.sqlite3"}"\n')
    served = Served(config, port, tmp_path / "serve.log")
    target = pg_url()
    served.start()
    try:
        refused = smsgate("db", "copy", "--from", str(tmp_path / "live.sqlite3"), "--to", target, cwd=tmp_path)
        assert refused.returncode == 1 and refused.stdout == ""
        assert refused.stderr == (f"error: {tmp_path / 'live.sqlite3'} is in use by 1 running smsgate serve "
                                  "instance(s): stop every one first, so nothing is written while it is copied (a "
                                  "stopped instance lets go at once, one that crashed within 30 s)\n")
    finally:
        served.stop()  # a clean stop gives the presence lease up at once
    done = smsgate("db", "copy", "--from", str(tmp_path / "live.sqlite3"), "--to", target, cwd=tmp_path)
    assert done.returncode == 0 and "counts match" in done.stdout, done.stderr


def test_db_copy_refuses_a_postgresql_source_while_an_instance_runs_on_it(pg_url, tmp_path):
    source = pg_url()
    assert smsgate("db", "upgrade", "--database", source, cwd=tmp_path).returncode == 0
    port = free_port()
    config = tmp_path / "smsgate.toml"
    config.write_text(f'[gateway]\nport = {port}\ndatabase = "{source}"\n')
    served = Served(config, port, tmp_path / "serve.log")
    served.start()
    try:
        refused = smsgate("db", "copy", "--from", source, "--to", str(tmp_path / "copy.sqlite3"), cwd=tmp_path)
        assert refused.returncode == 1 and "in use by 1 running smsgate serve instance(s)" in refused.stderr
        assert not (tmp_path / "copy.sqlite3").exists()  # refused before the target is touched
    finally:
        served.kill()  # a crash: the lease lapses by itself
    lapsed = smsgate("db", "copy", "--from", source, "--to", str(tmp_path / "copy.sqlite3"), cwd=tmp_path)
    assert lapsed.returncode == 1  # still held: the crashed instance's lease has not lapsed yet

    async def lapse() -> None:  # what 30 s would do
        store = PostgresStore(source)
        try:
            await store.execute("UPDATE leases SET until = now() - interval '1 second' WHERE name LIKE 'serve:%'")
        finally:
            await store.close()

    asyncio.run(lapse())
    done = smsgate("db", "copy", "--from", source, "--to", str(tmp_path / "copy.sqlite3"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr


# -- the URL's password ------------------------------------------------------------------------------------------


def test_the_database_password_is_masked_wherever_the_url_shows(postgres, tmp_path):
    postgres.psql("DO $$ BEGIN CREATE ROLE masked LOGIN PASSWORD 'pg-s3cret-42'; EXCEPTION WHEN duplicate_object"
                  " THEN NULL; END $$")
    postgres.psql("GRANT ALL ON DATABASE tests TO masked")
    postgres.psql("CREATE SCHEMA IF NOT EXISTS masked AUTHORIZATION masked", "tests")
    url = f"postgresql://masked:pg-s3cret-42@127.0.0.1:{postgres.port}/tests?search_path=masked"
    (tmp_path / "smsgate.toml").write_text(
        f'[gateway]\ndatabase = "{url}"\n[channels.ex]\nadapter = "http"\ncountry = "US"\n'
        'send_url = "http://127.0.0.1:9/send"\n')
    outputs = [smsgate("db", "upgrade", cwd=tmp_path), smsgate("check", cwd=tmp_path),
               smsgate("messages", cwd=tmp_path), smsgate("show", "nope", cwd=tmp_path)]
    assert [o.returncode for o in outputs] == [0, 0, 0, 1]
    text = "".join(o.stdout + o.stderr for o in outputs)
    assert "pg-s3cret-42" not in text and "masked:***@127.0.0.1" in text
    assert describe(url) == f"postgresql://masked:***@127.0.0.1:{postgres.port}/tests?search_path=masked"
    config = config_from_dict({"gateway": {"database": url}}, {})
    assert "pg-s3cret-42" in config.secrets()  # so every channel log masks it too


# -- losing the database -----------------------------------------------------------------------------------------


def test_an_instance_that_loses_the_database_answers_503_and_recovers_by_itself(tmp_path):
    from tests.support.toy_adapter import Toy

    with Postgres() as cluster:
        url = cluster.create_database("gone")
        config = config_from_dict({"gateway": {"database": url}, "channels": {"t": {"adapter": "toy",
                                                                                    "country": "RW"}}},
                                  {"toy": Toy})

        async def go() -> None:
            config.gateway.api_token = SecretStr("outage-token-123")
            gateway = open_gateway(config, store=PostgresStore(url, migrate=True, connect_timeout=2),
                                   transport=httpx.MockTransport(lambda r: httpx.Response(200, text="x")))
            app = create_app(gateway)
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:

                async def receive(text: str) -> httpx.Response:
                    return await client.post("/c/t/receive", data={"from": PHONE, "text": text})

                assert (await receive("before")).status_code == 200
                assert (await client.get("/healthz")).json() == {"status": "ok", "database": "ok",
                                                                 "channels_down": 0}
                await asyncio.to_thread(cluster.stop, keep=True)  # the database goes away
                lost = await receive("while down")
                assert lost.status_code == 503 and "retry later" in lost.text
                health = await client.get("/healthz")
                assert health.status_code == 503 and health.json()["database"] == "unreachable"
                api = await client.post("/api/v1/messages", headers={"Authorization": "Bearer outage-token-123"},
                                        json={"channel": "t", "to": PHONE, "text": "queued while down"})
                assert api.status_code == 503 and api.headers["retry-after"] == "5"
                await asyncio.to_thread(cluster.start)  # and comes back on the same port
                for _ in range(100):  # the pool replaces its broken connections on its own
                    if (await client.get("/healthz")).status_code == 200:
                        break
                    await asyncio.sleep(0.1)
                assert (await receive("after")).status_code == 200
                texts = sorted(m.text for m in await gateway.store.list_messages(direction="in"))
                assert texts == ["after", "before"]  # the refused one was not stored: its sender retries
            await gateway.close()

        asyncio.run(go())


def test_text_with_nul_is_stored_not_refused(pg_url):
    async def go() -> None:
        store = PostgresStore(pg_url(), migrate=True)
        try:
            for _ in range(2):  # and a retried delivery of it is still recognised
                await store.record_inbound("a", [IncomingMessage("a", PHONE, "a\x00b", external_id="n\x00")], None)
            (stored,) = await store.list_messages()
            assert stored.text == "a\ufffdb"
        finally:
            await store.close()

    asyncio.run(go())


# -- tps across instances ----------------------------------------------------------------------------------------


class Stamps:
    """A local aggregator recording when each request arrived."""

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.times: list[float] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                outer.times.append(time.monotonic())
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/send"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def busiest_second(self) -> int:
        times = sorted(self.times)
        return max(sum(1 for t in times[i:] if t < start + 1.0) for i, start in enumerate(times))


def test_a_channels_tps_holds_across_instances(pg_url):
    """Two gateways on one database, their send workers draining one queue as fast as the channel lets them:
    together they keep its tps (each on its own would send at the full tps)."""
    from smsgate.host import installed_adapters, open_worker

    tps, total = 20, 60
    by_instance = [0, 0]
    aggregator = Stamps()
    url = pg_url()
    config = config_from_dict({"gateway": {"database": url, "send_concurrency": 8}, "channels": {"ex": {
        "adapter": "http", "country": "US", "send_url": aggregator.url, "tps": tps}}}, installed_adapters())

    async def run() -> float:
        gateways = [open_gateway(config, store=PostgresStore(url, migrate=True)) for _ in range(2)]
        for i in range(total):
            await gateways[0].enqueue(await gateways[0].prepare("ex", "+12025550123", f"m{i}"))
        for n, gateway in enumerate(gateways):  # count who sent what
            def counting(record, send=gateway.send_claimed, n=n):
                by_instance[n] += 1
                return send(record)

            gateway.send_claimed = counting
        workers = [open_worker(g, poll_interval=0.2) for g in gateways]
        started = time.monotonic()
        for worker in workers:
            worker.start()
        try:
            while len(aggregator.times) < total and time.monotonic() - started < 30:
                await asyncio.sleep(0.05)
            elapsed = time.monotonic() - started
            for worker in workers:
                await worker.stop()
            wired = [m for m in await gateways[0].store.list_messages(limit=100) if m.status == "wired"]
            assert len(wired) == total
            return elapsed
        finally:
            for gateway in gateways:
                await gateway.close()

    elapsed = asyncio.run(run())
    sent, busiest = len(aggregator.times), aggregator.busiest_second()
    assert sent == total and sum(by_instance) == total and min(by_instance) > 0, by_instance  # once each
    print(f"\n{sent} requests by 2 instances ({by_instance}) on one channel at tps {tps}: {elapsed:.2f} s "
          f"({sent / elapsed:.1f}/s overall), busiest second {busiest}")
    # 60 requests at 20/s take about 3 s; two instances spacing only their own requests would take 1.5 s
    assert elapsed >= (sent - 1) / tps * 0.95, elapsed
    assert busiest <= tps + 2, busiest  # a start later than its slot takes a new one: no catching up in bursts


def test_an_adapter_without_http_requests_gets_the_shared_throttle_too(pg_url):
    """`HttpClient.throttle(channel, tps)` (what an SMPP bind waits on) is the same shared rate: two instances'
    starts on one channel stay 1/tps apart together."""
    from smsgate.http import HttpClient

    tps, per_instance = 20, 15
    url = pg_url()

    async def run() -> list[float]:
        stores = [PostgresStore(url, migrate=True) for _ in range(2)]
        clients = [HttpClient(rate=store.rate_slot) for store in stores]
        starts: list[float] = []

        async def instance(client: HttpClient) -> None:
            throttle = client.throttle("smpp-channel", tps)
            assert client.throttle("smpp-channel", tps) is throttle  # one per channel, as `request` uses
            for _ in range(per_instance):
                await throttle.wait()
                starts.append(time.monotonic())

        try:
            await asyncio.gather(*(instance(c) for c in clients))
        finally:
            for client, store in zip(clients, stores, strict=True):
                await client.aclose()
                await store.close()
        return sorted(starts)

    starts = asyncio.run(run())
    elapsed = starts[-1] - starts[0]
    # 30 starts at 20/s span about 1.45 s; each instance spacing only its own would span 0.7 s
    assert elapsed >= (len(starts) - 1) / tps * 0.9, elapsed


def test_an_instance_that_lost_its_claim_does_not_send(pg_url):
    """An instance stalled past its send lease while another took the message over: when it wakes, its request
    does not go out (the claim check in `mark_sending`), and it records nothing; the other sends it once."""
    from smsgate.host import installed_adapters

    aggregator = Stamps()
    url = pg_url()
    config = config_from_dict({"gateway": {"database": url}, "channels": {"ex": {
        "adapter": "http", "country": "US", "send_url": aggregator.url}}}, installed_adapters())

    async def run() -> tuple[bool, bool, str]:
        stalled, other = (open_gateway(config, store=PostgresStore(url, migrate=True)) for _ in range(2))
        try:
            await stalled.enqueue(await stalled.prepare("ex", "+12025550123", "once"))
            (claimed,) = await stalled.store.claim_due("ex", lease_seconds=0.2)
            await asyncio.sleep(0.3)  # the stall: the lease lapses
            (taken,) = await other.store.claim_due("ex", lease_seconds=60)
            late = await stalled.send_claimed(claimed)
            done = await other.send_claimed(taken)
            return late.sent, done.sent, done.message.status
        finally:
            await stalled.close()
            await other.close()

    late, done, status = asyncio.run(run())
    assert (late, done, status) == (False, True, "wired")
    assert len(aggregator.times) == 1  # sent once, by the instance holding the claim


def test_a_write_on_one_instance_wakes_the_others(pg_url):
    """LISTEN/NOTIFY: a message queued through one store wakes the worker of another at once (not at its next
    poll), and a store is not woken twice by its own writes."""
    from smsgate.store import OutboxItem

    async def go() -> None:
        url = pg_url()
        writer, reader = PostgresStore(url, migrate=True), PostgresStore(url)
        woken: list[tuple[str, float]] = []
        own: list[str] = []
        reader.subscribe(lambda topic: woken.append((topic, time.monotonic())))
        writer.subscribe(own.append)
        writer.set_planner(lambda e: [OutboxItem("webhook:x", e.key, e.type, {})])
        try:
            await writer.list_messages()  # migrates
            await reader.list_messages()  # opens its pool, and its LISTEN connection
            await asyncio.sleep(0.3)
            woken.clear()
            own.clear()
            sent = time.monotonic()
            await writer.add_outgoing(OutgoingMessage("a", PHONE, "wake up"))
            for _ in range(100):
                if {t for t, _ in woken} >= {"queued", "outbox"}:
                    break
                await asyncio.sleep(0.01)
            assert {t for t, _ in woken} >= {"queued", "outbox"}, woken
            assert max(at for _, at in woken) - sent < 0.5
            await asyncio.sleep(0.2)
            assert sorted(own) == ["outbox", "queued"]  # at once, in-process; its own NOTIFY is not a second call
        finally:
            await writer.close()
            await reader.close()

    asyncio.run(go())


def test_pruning_runs_on_one_instance_at_a_time(pg_url):
    """Retention pruning takes an advisory lock: while another instance prunes, a second returns at once."""
    from datetime import timedelta

    from smsgate._http._channellog import ChannelLog, Redactor
    from smsgate.host import utcnow

    async def go() -> None:
        url = pg_url()
        first, second = PostgresStore(url, migrate=True), PostgresStore(url)
        try:
            for _ in range(3):
                await first.add_log(ChannelLog(channel="a", kind="send", redactor=Redactor()))
            later = utcnow() + timedelta(seconds=1)
            holder = await first._ready()  # hold the prune lock as a pruning instance would
            async with holder.acquire() as conn:
                from smsgate.store._postgres._connection import _lock_key

                key = _lock_key("public" if "search_path" not in url else url.rsplit("=", 1)[1], "prune")
                assert await conn.fetchval("SELECT pg_try_advisory_lock($1)", key)
                assert await second.prune(later) == 0  # the other instance is at it: nothing done twice
                await conn.execute("SELECT pg_advisory_unlock($1)", key)
            assert await second.prune(later) == 3
            assert await first.list_logs() == []
        finally:
            await first.close()
            await second.close()

    asyncio.run(go())
