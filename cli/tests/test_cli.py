"""The `smsgate` command as a user meets it: run as a process, its output read from a pipe (not a terminal).

Errors are one line; a send from the command line is final (never retried later by a gateway); read-only
commands create nothing; tables and listings keep ids whole and fit 80 columns.
"""

from __future__ import annotations

import asyncio
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

SMSGATE = Path(sys.executable).with_name("smsgate")
ENV = {k: v for k, v in os.environ.items() if not k.startswith("SMSGATE_") and k != "COLUMNS"}


def smsgate(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SMSGATE), *args], capture_output=True, text=True, timeout=60, env=ENV, cwd=cwd)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Aggregator:
    """An External API aggregator on 127.0.0.1:`port` that accepts every send and records it."""

    def __init__(self, port: int) -> None:
        self.bodies: list[bytes] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                outer.bodies.append(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """A config with one External API channel whose aggregator port has nothing listening (yet)."""
    port = free_port()
    config = tmp_path / "smsgate.toml"
    config.write_text(f'[gateway]\ndatabase = "{tmp_path / "db" / "smsgate.sqlite3"}"\n\n[channels.ex]\n'
                      f'adapter = "http"\ncountry = "RW"\nsend_url = "http://127.0.0.1:{port}/send"\n'
                      "max_attempts = 1\n")
    yield config, port


@pytest.mark.parametrize(("args", "line"), [
    (["send", "--channel", "ex", "hi"], "error: Missing option '--to' (see smsgate send --help)"),
    (["sendx"], "error: No such command 'sendx'. Did you mean 'send', 'resend'? (see smsgate --help)"),
    (["messages", "--limit", "0"], "error: Invalid value for '--limit': "),
    (["show"], "error: Missing argument 'ID' (see smsgate show --help)"),
    (["send", "--channel", "ex", "--to", "0788123123", "--id", "0c2a", "hi"], "error: --id must be a UUID such as "),
])
def test_usage_errors_are_one_line_and_exit_2(args, line):
    done = smsgate(*args)
    assert done.returncode == 2 and done.stdout == ""
    assert len(done.stderr.splitlines()) == 1 and done.stderr.startswith(line), done.stderr


def test_bare_command_prints_its_help():
    done = smsgate()
    assert done.returncode == 0 and "Usage: smsgate" in done.stdout and "send" in done.stdout


def test_a_failed_send_is_one_line_final_and_resendable(setup):
    config, port = setup
    done = smsgate("--config", str(config), "send", "--channel", "ex", "--to", "0788123123", "hello")
    assert done.returncode == 1 and done.stdout == ""
    [line] = done.stderr.splitlines()
    prefix = f"error: failed, not retried: cannot connect to 127.0.0.1:{port} (connection refused); "
    assert line.startswith(prefix + "to send it again: smsgate resend "), line
    message_id = line.rsplit(" ", 1)[1]
    shown = json.loads(smsgate("--config", str(config), "show", message_id, "--json").stdout)
    assert shown["status"] == "failed" and shown["error_code"] == "connection_failed"
    assert [h["status"] for h in shown["history"]] == ["queued", "errored", "failed"]

    aggregator = Aggregator(port)  # the aggregator is back: a gateway starting now must not send it behind our back
    try:
        assert _worker_sends(config) == 0 and aggregator.bodies == []
        again = smsgate("--config", str(config), "send", "--channel", "ex", "--to", "0788123123", "--id", message_id,
                        "hello")
        assert again.returncode == 1 and aggregator.bodies == []
        assert again.stderr.startswith("error: failed earlier, not sent again: cannot connect to")
        resent = smsgate("--config", str(config), "resend", message_id)
        assert resent.returncode == 0, resent.stderr
        assert resent.stdout.startswith("wired: id ") and f"(resend of {message_id})" in resent.stdout
        assert len(aggregator.bodies) == 1
    finally:
        aggregator.close()


def _worker_sends(config: Path) -> int:
    """What one round of `smsgate serve`'s send worker sends from the database of `config`."""
    from smsgate.host import installed_adapters, load_config, open_gateway, open_worker

    async def go() -> int:
        async with open_gateway(load_config(config, installed_adapters())) as gateway:
            return await open_worker(gateway).run_once()

    return asyncio.run(go())


@pytest.mark.parametrize("command", [["messages"], ["show", "5b1a7a52-5a4f-4b8e-9c55-0e6f0d1b8a21"], ["logs"],
                                     ["outbox"]])
def test_read_only_commands_create_nothing_and_name_the_path(setup, command):
    config, _ = setup
    before = sorted(p.name for p in config.parent.iterdir())
    done = smsgate("--config", str(config), *command)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == (f"error: no database at {config.parent / 'db' / 'smsgate.sqlite3'} ([gateway] database "
                           f"in {config}; `smsgate serve` or `smsgate send` creates it)\n")
    assert sorted(p.name for p in config.parent.iterdir()) == before  # no db/ folder, no file


def test_read_only_commands_refuse_a_file_that_is_not_a_database(tmp_path):
    (tmp_path / "smsgate.sqlite3").write_text("not a database")
    done = smsgate("messages", cwd=tmp_path)  # no config file: the default database in the current folder
    assert done.returncode == 1
    assert done.stderr.startswith("error: smsgate.sqlite3 is not an smsgate database (file is not a database) (")
    assert (tmp_path / "smsgate.sqlite3").read_text() == "not a database"


def test_listings_keep_ids_whole_and_fit_80_columns_in_a_pipe(setup):
    config, port = setup
    aggregator = Aggregator(port)
    try:
        ids = []
        for text in ("hello", "a much longer message " * 6):
            done = smsgate("--config", str(config), "send", "--channel", "ex", "--to", "0788123123", text, "--json")
            ids.append(json.loads(done.stdout)["id"])
    finally:
        aggregator.close()
    listed = smsgate("--config", str(config), "messages")
    lines = listed.stdout.splitlines()
    assert [line.split()[0] for line in lines[::2]] == ids[::-1]
    assert all(len(line) <= 80 for line in lines), lines
    assert lines[3] == "    to +250788123123: hello" and lines[1].endswith("...")  # newest first
    shown = smsgate("--config", str(config), "show", ids[0]).stdout.splitlines()
    assert shown[0] == f"{ids[0]}  out  ex" and all(len(line) <= 80 for line in shown), shown
    assert [line.split()[2] for line in shown if line.startswith("20")] == ["queued", "wired"]


def test_messages_page_with_the_cursor_a_listing_prints(setup):
    from smsgate import OutgoingMessage
    from smsgate.store import SQLiteStore

    config, _ = setup

    async def fill() -> list[str]:
        store = SQLiteStore(config.parent / "db" / "smsgate.sqlite3")
        try:
            return [(await store.add_outgoing(OutgoingMessage("ex", "+250788123123", f"m{i}"))).record.id
                    for i in range(5)]
        finally:
            await store.close()

    ids = asyncio.run(fill())[::-1]  # newest first
    seen, cursor = [], []
    for _ in range(3):
        done = smsgate("--config", str(config), "messages", "--limit", "2", *cursor)
        lines = done.stdout.splitlines()
        seen += [line.split()[0] for line in lines if not line.startswith((" ", "more:"))]
        more = [line for line in lines if line.startswith("more: --cursor ")]
        cursor = ["--cursor", more[0].removeprefix("more: --cursor ")] if more else []
        assert len(more) == (1 if len(seen) < 5 else 0) and all(len(line) <= 80 for line in lines)
    assert seen == ids
    as_json = smsgate("--config", str(config), "messages", "--limit", "4", "--json")
    assert [m["id"] for m in json.loads(as_json.stdout)] == ids[:4] and as_json.stderr.startswith("more: --cursor ")
    forged = smsgate("--config", str(config), "messages", "--cursor", "forged")
    assert forged.returncode == 2 and forged.stderr.startswith("error: --cursor is not one a listing printed")


def test_send_without_a_channel_is_routed_and_route_explains_it(tmp_path: Path):
    dead, live = free_port(), free_port()
    config = tmp_path / "smsgate.toml"
    config.write_text(
        f'[gateway]\ndatabase = "{tmp_path / "smsgate.sqlite3"}"\n\n'
        f'[channels.primary]\nadapter = "http"\ncountry = "RW"\nsend_url = "http://127.0.0.1:{dead}/send"\n'
        "max_attempts = 1\n\n"
        f'[channels.backup]\nadapter = "http"\ncountry = "RW"\nsend_url = "http://127.0.0.1:{live}/send"\n\n'
        '[[routes]]\nto = ["+250"]\nchannels = ["primary", "backup"]\n')
    explained = smsgate("--config", str(config), "route", "0788123123")
    assert explained.returncode == 0, explained.stderr
    assert explained.stdout.splitlines()[:4] == [
        "+250788123123 takes route 1 and channel primary, now",
        "  route 1: to +250; channels primary, backup; failover -> matches",
        "    1. primary  +250788123123  link up",
        "    2. backup  +250788123123  link up"]
    nowhere = smsgate("--config", str(config), "route", "+12025550123")
    assert nowhere.returncode == 1 and nowhere.stderr == (
        "error: no route matches '+12025550123': a send without a channel is refused (422)\n")
    assert "is not a number that starts with +250" in nowhere.stdout
    aggregator = Aggregator(live)
    try:
        done = smsgate("--config", str(config), "send", "--to", "0788123123", "hello")
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("wired: id ") and "via backup" in done.stdout
        assert len(aggregator.bodies) == 1
        message_id = done.stdout.split()[2]
        shown = smsgate("--config", str(config), "show", message_id).stdout
        assert "routed: primary -> backup" in shown and "primary" in shown.split("history")[1]
        refused = smsgate("--config", str(config), "send", "--to", "+12025550123", "hello")
        assert refused.returncode == 1 and "no route matches +12025550123" in refused.stderr
    finally:
        aggregator.close()
