"""Every shell example in README.md and docs/ that can run offline runs as written, with the outcome its page implies.

Each ```sh block carries a marker on the line before it: `<!-- doc-test: run -->` or `<!-- doc-test: skip: why -->`.
A page's `run` blocks execute in order, one command at a time, in a temporary folder holding the page's own TOML
blocks (joined) as `smsgate.toml`; `smsgate serve` starts in the background and stays up for the rest of the
page. Two things are adjusted, never the commands' text otherwise: the gateway listens on a free port (and
`127.0.0.1:8080` in a command is read as that port), and every URL in the config other than `public_url` is
pointed at a port this test holds closed, so nothing leaves 127.0.0.1 and no other local service answers.

`EXPECTED` holds each command's exit code and what its output must contain; a command without a row fails,
so a new example comes with its expected outcome.
"""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
import textwrap
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))]
ID = "5b1a7a52-5a4f-4b8e-9c55-0e6f0d1b8a21"
CLOSED = "{closed}"  # in EXPECTED: the port held closed that the config's aggregator URLs point at

# (page, command with comments and line continuations folded) -> (exit code, fragments the output contains)
EXPECTED: dict[tuple[str, str], tuple[int, list[str]]] = {
    ("README.md", "smsgate adapters"): (0, ["http ", "kannel ", "twilio ", "smsgate-kannel"]),
    ("README.md", "smsgate check"): (0, ["ok: smsgate.toml: 2 channel(s)", "channel kn: adapter kannel"]),
    ("README.md", "smsgate kannel-config --channel kn"): (
        0, ["group = sms-service", 'get-url = "https://sms.example.com/c/kn/receive?']),
    ("README.md", 'smsgate send --channel kn --to +250788123123 "hello"'): (
        1, [f"error: failed, not retried: cannot connect to 127.0.0.1:{CLOSED} (connection refused); "
            "to send it again: smsgate resend "]),
    ("README.md", f'smsgate send --channel kn --to 0788123123 --id {ID} "hello"'): (
        1, [f"error: failed, not retried: cannot connect to 127.0.0.1:{CLOSED} (connection refused); "
            f"to send it again: smsgate resend {ID}"]),
    ("README.md", "smsgate serve"): (0, ["smsgate serving 2 channel(s)"]),
    ("README.md", f"smsgate resend {ID}"): (1, ["error: failed, not retried: cannot connect to 127.0.0.1:"]),
    ("README.md", "smsgate messages --channel kn --limit 20"): (
        0, [f"{ID}  ", "  out  failed     kn", "    to +250788123123: hello"]),
    ("README.md", "smsgate messages --channel kn --to 0788123123 --text hel"): (
        0, [f"{ID}  ", "    to +250788123123: hello"]),
    ("README.md", f"smsgate show {ID}"): (
        0, [f"{ID}  out  kn", "status failed, 1 attempt(s)", "sent from the command line, which does not retry"]),
    ("README.md", "smsgate logs --channel kn --errors"): (
        0, [f"cannot connect to 127.0.0.1:{CLOSED} (connection refused)", "**********"]),
    ("README.md", "smsgate outbox --all"): (0, ["outbox: none"]),
    ("README.md", 'echo "my long console password" | smsgate console-password --stdin'): (
        0, ['console_password_hash = "scrypt$32768$8$1$']),
    ("docs/gateway.md", "smsgate check"): (0, ["ok: smsgate.toml: 1 channel(s)", "channel ex: adapter http"]),
    ("docs/gateway.md", "smsgate serve"): (0, ["API /api/v1: on; webhooks: 1; bridges: /b/rp/send"]),
    ("docs/gateway.md", "curl -X POST http://127.0.0.1:8080/api/v1/messages "
                        '-H "Authorization: Bearer change-me-to-a-long-random-string" '
                        '-H "Content-Type: application/json" '
                        '-d \'{"channel": "ex", "to": "0788123123", "text": "Hello from smsgate", '
                        f'"id": "{ID}", "metadata": {{"order": 1234}}}}\''): (
        0, [f'"id":"{ID}"', '"status":"queued"', '"to":"+250788123123"', '"metadata":{"order":1234}']),
    ("docs/gateway.md", f"curl http://127.0.0.1:8080/api/v1/messages/{ID} "
                        '-H "Authorization: Bearer change-me-to-a-long-random-string"'): (
        0, [f'"id":"{ID}"', '"history":[']),
    ("docs/gateway.md", 'curl "http://127.0.0.1:8080/api/v1/messages?channel=ex&status=wired&limit=20" '
                        '-H "Authorization: Bearer change-me-to-a-long-random-string"'): (0, ['"messages":[]']),
    ("docs/gateway.md", 'curl -X POST "http://127.0.0.1:8080/b/rp/send?secret=another-long-random-string" '
                        '-H "Content-Type: application/json" '
                        '-d \'{"id": "2b2ab2a0-3cda-4f4e-9c3c-7b8f4a1f0d55", "text": "Love is patient.", '
                        '"to": "+250788123123", "to_no_plus": "250788123123", "from": "+5582999489287", '
                        '"from_no_plus": "5582999489287", "channel": "c4e0b1f5"}\''): (
        0, ['"rapidpro_id":"2b2ab2a0-3cda-4f4e-9c3c-7b8f4a1f0d55"', '"status":"queued"', '"duplicate":false']),
    # the message above is still the worker's to retry (errored or queued), so both refuse with the reason
    ("docs/gateway.md", f"smsgate resend {ID}"): (1, [f"error: message {ID} is ", "only failed messages are resent"]),
    ("docs/gateway.md", f"curl -X POST http://127.0.0.1:8080/api/v1/messages/{ID}/resend "
                        '-H "Authorization: Bearer change-me-to-a-long-random-string"'): (
        0, ["only failed messages are resent"]),
    ("docs/routing.md", "smsgate check"): (
        0, ["ok: smsgate.toml: 3 channel(s)", "route 1: to +25078, +25079; channels mtn, vonage; failover",
            "route 2: country UG; channels ug; failover",
            "tenant acme: channels vonage, daily_limit 10000, webhooks: 1"]),
    ("docs/routing.md", "smsgate route 0788123123"): (
        0, ["+250788123123 takes route 1 and channel mtn, now", "1. mtn  +250788123123  link up",
            "2. vonage  +250788123123  link up", "route 2: country UG; channels ug; failover -> matches, but an "
            "earlier route wins"]),
    ("docs/routing.md", "smsgate route +12025550123"): (
        1, ["+12025550123 is not a number that starts with +25078 or +25079",
            "+12025550123 is not a number that is in UG", "error: no route matches '+12025550123'"]),
    ("docs/routing.md", f'smsgate send --to 0788123123 --id {ID} "hello"'): (
        1, [f"error: failed, not retried: cannot connect to 127.0.0.1:{CLOSED} (connection refused); "
            f"to send it again: smsgate resend {ID}"]),
    ("docs/routing.md", f"smsgate show {ID}"): (
        0, [f"{ID}  out  vonage", "routed: mtn -> vonage", "status failed, 1 attempt(s)", "moved to channel"]),
    ("docs/routing.md", "smsgate serve"): (0, ["smsgate serving 3 channel(s)"]),
    ("docs/routing.md", "curl -X POST http://127.0.0.1:8080/api/v1/messages "
                        '-H "Authorization: Bearer change-me-to-a-long-random-string" '
                        '-H "Content-Type: application/json" '
                        '-d \'{"to": "0788123123", "text": "routed by its number"}\''): (
        0, ['"channel":"mtn"', '"to":"+250788123123"', '"route":["mtn","vonage"]', '"tenant":null']),
    ("docs/routing.md", "curl -X POST http://127.0.0.1:8080/api/v1/messages "
                        '-H "Authorization: Bearer acme-long-random-token-0123456789" '
                        '-H "Content-Type: application/json" '
                        '-d \'{"channel": "mtn", "to": "0788123123", "text": "not its channel"}\''): (
        0, ['{"error":"unknown channel \'mtn\' (known: vonage)"}']),
    ("docs/routing.md", "curl -X POST http://127.0.0.1:8080/api/v1/messages "
                        '-H "Authorization: Bearer acme-long-random-token-0123456789" '
                        '-H "Content-Type: application/json" '
                        '-d \'{"to": "0788123123", "text": "from acme", '
                        '"id": "0d6f2a3e-8c1b-4b7e-9f0a-5d3c2b1a0f9e"}\''): (
        0, ['"id":"0d6f2a3e-8c1b-4b7e-9f0a-5d3c2b1a0f9e"', '"channel":"vonage"', '"tenant":"acme"']),
    ("docs/routing.md", 'curl "http://127.0.0.1:8080/api/v1/messages?channel=mtn" '
                        '-H "Authorization: Bearer acme-long-random-token-0123456789"'): (
        0, ['{"messages":[],"next_cursor":null}']),
}


def marked_blocks(page: str) -> list[tuple[str, str]]:
    """(marker, body) of every ```sh block of `page`; the marker is "" when the line before is not one."""
    lines = (ROOT / page).read_text().splitlines()
    found = []
    for i, line in enumerate(lines):
        if line.strip() == "```sh":
            end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
            marker = re.fullmatch(r"<!-- doc-test: (run|skip: .+) -->", lines[i - 1].strip()) if i else None
            found.append((marker.group(1) if marker else "", "\n".join(lines[i + 1:end])))
    return found


def commands(block: str) -> list[tuple[str, str]]:
    """The block's commands as (key, text): the text exactly as written (continuations, quotes spanning lines
    and a trailing comment included, as bash reads them), the key folded onto one line without the comment."""
    out, pending = [], []
    for line in block.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue  # a blank line, or a comment showing what the command before printed
        pending.append(line)
        text = "\n".join(pending)
        if text.endswith("\\"):
            continue
        try:
            shlex.split(text, comments=True)
        except ValueError:  # a quote still open: the command goes on
            continue
        out.append((_key(text), text))
        pending = []
    return out


def _key(command: str) -> str:
    """`command` without line continuations and its trailing comment, whitespace runs made one space."""
    kept, quote = [], ""
    for char in command.replace("\\\n", " "):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (not kept or kept[-1].isspace()):
            break
        kept.append(char)
    return " ".join("".join(kept).split())


def test_every_shell_block_is_marked_run_or_skip():
    unmarked = [(page, body.splitlines()[0]) for page in PAGES for marker, body in marked_blocks(page) if not marker]
    assert unmarked == [], "mark each with <!-- doc-test: run --> or <!-- doc-test: skip: why -->"


def test_commands_are_read_as_written():
    block = textwrap.dedent('''\
        smsgate send --channel kn "hello"   # a comment, with 'quotes'
        curl -X POST http://x \\
          -d '{"a": 1,
               "b": "#not a comment"}'
        # {"output": "shown in the docs"}
    ''')
    assert [key for key, _ in commands(block)] == [
        'smsgate send --channel kn "hello"', 'curl -X POST http://x -d \'{"a": 1, "b": "#not a comment"}\'']
    assert commands(block)[1][1] == block.splitlines()[1] + "\n" + "\n".join(block.splitlines()[2:4])


def _config(page: str, closed: int) -> str:
    text = "\n".join(m.group(1) for m in re.finditer(r"^```toml\n(.*?)^```", (ROOT / page).read_text(),
                                                        flags=re.M | re.S))
    # aggregators, webhooks and platforms: a port held closed, so nothing leaves this machine
    text = re.sub(r'^(?!public_url)(\w+\s*=\s*")https?://[^/"]+', rf"\g<1>http://127.0.0.1:{closed}", text,
                  flags=re.M)
    tomllib.loads(text)
    return text


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port bound but not listening: every connection to it is refused, and nobody else can take it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


@pytest.mark.parametrize("page", [p for p in PAGES if any(m == "run" for m, _ in marked_blocks(p))])
def test_page_examples_run_as_written(page, tmp_path, closed_port):
    port = _free_port()
    (tmp_path / "smsgate.toml").write_text(_config(page, closed_port))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMSGATE_")}
    env.update(PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}", COLUMNS="100",
               SMSGATE_GATEWAY__HOST="127.0.0.1", SMSGATE_GATEWAY__PORT=str(port))
    ran, server = [], None
    try:
        for marker, block in marked_blocks(page):
            if marker != "run":
                continue
            for command, text in commands(block):
                assert (page, command) in EXPECTED, f"no expected outcome for {page}: {command}"
                code, fragments = EXPECTED[(page, command)]
                if command == "smsgate serve":
                    server, output = _serve(tmp_path, env, port)
                else:
                    done = subprocess.run(["bash", "-c", text.replace("127.0.0.1:8080", f"127.0.0.1:{port}")],
                                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
                    assert done.returncode == code, f"{command}\n{done.stdout}{done.stderr}"
                    output = done.stdout + done.stderr
                for fragment in fragments:
                    assert fragment.replace(CLOSED, str(closed_port)) in output, f"{command}\n{output}"
                ran.append(command)
    finally:
        if server is not None:
            server.terminate()
            server.wait(15)
    assert ran == [c for (p, c) in EXPECTED if p == page]  # every row was used, in the page's order


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(folder: Path, env: dict[str, str], port: int) -> tuple[subprocess.Popen[str], str]:
    log = folder / "serve.log"
    with log.open("w") as out:
        server = subprocess.Popen(["smsgate", "serve"], cwd=folder, env=env, stdout=out, stderr=subprocess.STDOUT,
                                  text=True)
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server, log.read_text()
        except httpx.TransportError:
            pass
        assert server.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)
