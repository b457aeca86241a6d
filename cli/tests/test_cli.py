"""The `smsgate` command as a user meets it: run as a process, its output read from a pipe (not a terminal).

Errors are one line; a send from the command line is final (never retried later by a gateway); read-only
commands create nothing; tables and listings keep ids whole and fit 80 columns.
"""

from __future__ import annotations

import asyncio
import http.server
import importlib.metadata
import json
import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.peers import free_port

SMSGATE = Path(sys.executable).with_name("smsgate")
ENV = {k: v for k, v in os.environ.items() if not k.startswith("SMSGATE_") and k != "COLUMNS"}


def smsgate(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SMSGATE), *args], capture_output=True, text=True, timeout=60, env={**ENV, **(env or {})},
                          cwd=cwd)




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
    page = json.loads(as_json.stdout)  # one document: the page and the cursor of the next one
    assert [m["id"] for m in page["messages"]] == ids[:4] and as_json.stderr == ""
    rest = json.loads(smsgate("--config", str(config), "messages", "--limit", "4", "--json", "--cursor",
                              page["next_cursor"]).stdout)
    assert [m["id"] for m in rest["messages"]] == ids[4:] and rest["next_cursor"] is None
    forged = smsgate("--config", str(config), "messages", "--cursor", "forged")
    assert forged.returncode == 2 and forged.stderr.startswith("error: --cursor is not one a listing printed")


# -- check: every mistake at once -----------------------------------------------------------------------------------


INSTALLED = sorted(ep.name for ep in importlib.metadata.entry_points(group="smsgate"))


def test_check_names_every_broken_channel_in_one_run(tmp_path):
    config = tmp_path / "smsgate.toml"
    # a missing key in the first channel must not hide the unknown adapter of the second (nor the bad gateway port)
    config.write_text('[gateway]\nport = 99999\n\n[channels.ex]\nadapter = "http"\ncountry = "RW"\n\n'
                      '[channels.kn]\nadapter = "kanel"\nsend_url = "http://127.0.0.1:9/cgi-bin/sendsms"\n\n'
                      '[channels.ok]\nadapter = "http"\nsend_url = "http://127.0.0.1:9/send"\n')
    done = smsgate("--config", str(config), "check")
    assert done.returncode == 1 and done.stdout == ""
    lines = done.stderr.splitlines()
    assert lines == [f"error: {config}: gateway.port: Input should be less than or equal to 65535",
                     f"error: {config}: channels.ex.send_url: Field required",
                     f"error: {config}: channels.kn.adapter: unknown adapter 'kanel' (did you mean 'kannel'? "
                     f"installed: {', '.join(INSTALLED)})"], lines
    # any other command stops at the config too, in one line that says there is more
    served = smsgate("--config", str(config), "serve")
    assert served.returncode == 2 and served.stderr == (
        f"error: {config}: gateway.port: Input should be less than or equal to 65535 (and 2 more mistake(s): "
        "`smsgate check` lists every one)\n")


BLOCK_ASYNCPG = ("import sys; sys.modules['asyncpg'] = None  # the driver is not installed, as far as this process "
                 "sees\nfrom smsgate_cli.main import main\nsys.argv = ['smsgate', *sys.argv[1:]]\nmain()\n")


@pytest.mark.parametrize("blocked", [True, False], ids=["asyncpg missing", "asyncpg installed"])
def test_check_reports_a_postgresql_database_whose_driver_is_missing(tmp_path, blocked):
    config = tmp_path / "smsgate.toml"
    config.write_text('[gateway]\ndatabase = "postgresql://smsgate:pw@127.0.0.1:9/smsgate"\n\n[channels.ex]\n'
                      'adapter = "nope"\n')
    command = [sys.executable, "-c", BLOCK_ASYNCPG] if blocked else [str(SMSGATE)]
    done = subprocess.run([*command, "--config", str(config), "check"], capture_output=True, text=True, timeout=60,
                          env=ENV)
    assert done.returncode == 1 and done.stdout == ""
    driver = (f"error: {config}: gateway.database: a postgresql:// database needs the asyncpg driver, which is not "
              "installed: pip install 'smsgate[postgresql]'")
    assert (driver in done.stderr.splitlines()) is blocked, done.stderr
    assert f"error: {config}: channels.ex.adapter: unknown adapter 'nope'" in done.stderr  # and the rest still


# -- read-only commands ------------------------------------------------------------------------------------------


def _sent(config: Path, port: int, *texts: str, to: str = "0788123123") -> list[str]:
    aggregator = Aggregator(port)
    try:
        return [json.loads(smsgate("--config", str(config), "send", "--channel", "ex", "--to", to, text,
                                   "--json").stdout)["id"] for text in texts]
    finally:
        aggregator.close()


def test_read_only_commands_work_when_a_channels_adapter_is_missing(setup):
    config, port = setup
    (message_id,) = _sent(config, port, "hello")
    missing = {"SMSGATE_BLOCK_PLUGINS": "http"}  # as if smsgate-http were not installed on this box
    for command in (["messages"], ["show", message_id], ["logs"], ["outbox", "--all"], ["messages", "--json"]):
        done = smsgate("--config", str(config), *command, env=missing)
        assert done.returncode == 0, (command, done.stderr)
        [warning] = done.stderr.splitlines()  # one warning, naming the adapter and its channel
        assert warning.startswith("warning: adapter 'http' is not installed (channel(s) ex): reading what is stored"
                                  " only"), warning
    assert message_id in smsgate("--config", str(config), "show", message_id, env=missing).stdout
    # what needs the adapter still refuses, naming it
    refused = smsgate("--config", str(config), "send", "--channel", "ex", "--to", "0788123123", "x", env=missing)
    assert refused.returncode == 2 and "channels.ex.adapter: unknown adapter 'http'" in refused.stderr


def test_messages_filters_by_contact_and_text_as_the_console_does(setup):
    config, port = setup
    first, _, third = _sent(config, port, "Hello there", "good bye", "HELLO again")
    (other,) = _sent(config, port, "hello elsewhere", to="+250788999999")

    def listed(*filters: str) -> list[str]:
        done = smsgate("--config", str(config), "messages", "--json", *filters)
        assert done.returncode == 0, done.stderr
        return [m["id"] for m in json.loads(done.stdout)["messages"]]

    assert listed("--text", "hello") == [other, third, first]  # case-insensitive, newest first
    assert listed("--to", "+250788123123", "--text", "hello") == [third, first]
    assert listed("--to", "0788123123", "--channel", "ex", "--text", "hello") == [third, first]  # local: RW
    assert listed("--number", "+250788999999") == [other]
    assert listed("--to", "+250788000000") == []


# -- serve -----------------------------------------------------------------------------------------------------------


def test_serve_on_a_busy_port_says_so_in_one_line_before_serving(setup):
    config, _ = setup
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = smsgate("--config", str(config), "serve", "--port", str(port))
    assert done.returncode == 3 and done.stdout == ""
    assert done.stderr == (f"error: port {port} is already in use (on 127.0.0.1): stop what listens there or choose "
                           "another with --port\n")


# -- help ------------------------------------------------------------------------------------------------------------


def _commands() -> list[tuple[list[str], Any]]:
    """Every command of `smsgate` (the plugins' too) with its path, as the console script registers them."""
    import importlib

    import typer.main

    cli = importlib.import_module("smsgate_cli.main")
    cli._register_plugin_commands()
    found: list[tuple[list[str], Any]] = []

    def walk(path: list[str], command: Any) -> None:
        found.append((path, command))
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            walk([*path, name], sub)

    walk([], typer.main.get_command(cli.app))
    return found


def test_every_commands_help_keeps_its_brackets():
    from smsgate_cli.main import app
    from typer.testing import CliRunner

    commands = _commands()
    assert {"kannel-config", "db", "upgrade", "copy", "console-password"} <= {p[-1] for p, _ in commands if p}
    lost = []
    bracketed = 0
    for path, command in commands:
        written = " ".join([command.help or "", *(getattr(p, "help", None) or "" for p in command.params)])
        shown = " ".join(CliRunner().invoke(app, [*path, "--help"], terminal_width=100).output.split())
        for token in re.findall(r"\[[^\]\s]+\]", written):
            bracketed += 1
            if token not in shown:
                lost.append(f"smsgate {' '.join(path)} --help: {token}")
    assert bracketed >= 3  # [gateway] in serve and console-password, [default...] etc. are really checked
    assert lost == []
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
