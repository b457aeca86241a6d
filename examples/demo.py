"""`scripts/demo`: the whole loop smsgate exists for, in a few seconds, on 127.0.0.1 only.

It starts a stand-in aggregator (examples/aggregator.py) and `smsgate serve` on examples/smsgate.toml, then:
an application sends a message through the gateway's API; the send worker passes it to the aggregator through
the `http` adapter (the request is shown as the aggregator received it); the aggregator reports it sent and
delivered; a phone's reply arrives as an incoming message; and `smsgate messages` / `smsgate show` display
what the gateway stored. Each run starts from an empty demo database (in .smsgate/, or $SMSGATE_DEMO_DIR).
`--keep` leaves both servers running.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.parse
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from aggregator import Aggregator, wire_lines

ROOT = Path(__file__).resolve().parents[1]
CONFIG = Path("examples/smsgate.toml")
SMSGATE = Path(sys.executable).with_name("smsgate")
PHONE = "+250788123123"


def say(text: str = "") -> None:
    """Print now: the demo is read as it runs."""
    print(text, flush=True)


def step(title: str) -> None:
    """Start a numbered step."""
    step.number = getattr(step, "number", 0) + 1  # type: ignore[attr-defined]
    say()
    say(f"{step.number}. {title}")  # type: ignore[attr-defined]


def port_free(port: int) -> bool:
    """Whether nothing listens on 127.0.0.1:`port`."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: old TIME_WAITs do not count
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def any_free_port() -> int:
    """A port free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def smsgate(env: dict[str, str], *args: str) -> None:
    """Run `smsgate ARGS` as a user would, showing the command and its output."""
    say("$ smsgate " + shlex.join(args))
    done = subprocess.run([str(SMSGATE), *args], capture_output=True, text=True, env=env, timeout=60)
    for stream in (done.stdout, done.stderr):
        if stream:
            print(stream, end="" if stream.endswith("\n") else "\n", flush=True)
    if done.returncode != 0:
        raise SystemExit(f"demo: `smsgate {shlex.join(args)}` exited {done.returncode}")


def fit(text: str, width: int = 80) -> str:
    """`text` cut to `width` characters with `...`."""
    return text if len(text) <= width else text[:width - 3] + "..."


def answered(call: tuple[str, int, str], base: str) -> str:
    """`METHOD /path -> status message` for a callback the aggregator made."""
    what, status, body = call
    try:
        message = json.loads(body).get("message", "")
    except ValueError:
        message = body.strip()
    line = f"    {what.replace(base, '')} -> {status}"
    return f"{line} {message}" if len(line) + len(message) < 80 else line


def main() -> None:
    """Run the demo; with `--keep`, leave the gateway and the aggregator running until Ctrl-C."""
    keep = "--keep" in sys.argv[1:]
    signal.signal(signal.SIGTERM, _interrupted)  # `kill PID` stops the demo as Ctrl-C does: servers too
    started = time.monotonic()
    os.chdir(ROOT)
    config = tomllib.loads(CONFIG.read_text())
    gateway, channel = config["gateway"], config["channels"]["demo"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMSGATE_")}
    env["SMSGATE_CONFIG"] = str(CONFIG)
    port = int(gateway["port"])
    agg_port = int(httpx.URL(channel["send_url"]).port or 80)
    # another demo or service may hold the example's ports: move to free ones, said out loud, never fail
    if not port_free(port):
        port = any_free_port()
        env.update(SMSGATE_GATEWAY__PORT=str(port), SMSGATE_GATEWAY__PUBLIC_URL=f"http://127.0.0.1:{port}")
    if not port_free(agg_port):
        agg_port = any_free_port()
        env["SMSGATE_CHANNELS__DEMO__SEND_URL"] = f"http://127.0.0.1:{agg_port}/send"
    base = f"http://127.0.0.1:{port}"
    database = Path(gateway["database"])
    if os.environ.get("SMSGATE_DEMO_DIR"):  # elsewhere than the example's .smsgate/ (the suite runs the demo)
        database = Path(os.environ["SMSGATE_DEMO_DIR"]) / database.name
        env["SMSGATE_GATEWAY__DATABASE"] = str(database)
    database.parent.mkdir(parents=True, exist_ok=True)
    for leftover in database.parent.glob(database.name + "*"):  # each run starts empty: the same story every time
        leftover.unlink()

    say(f"smsgate demo: the whole round trip through channel `demo` ({channel['adapter']} adapter,")
    say(f"{CONFIG}) and a stand-in aggregator. Everything runs on 127.0.0.1.")
    say()
    smsgate(env, "check")
    aggregator = Aggregator(agg_port, f"{base}/c/demo")
    log_path = database.parent / "serve.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen([str(SMSGATE), "serve"], stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        _wait_until_up(server, base, log_path)
        say(f"smsgate serve: up on {base} (log: {log_path})")
        say(f"aggregator:    examples/aggregator.py on http://127.0.0.1:{aggregator.port}/send")
        message_id = _round_trip(env, base, gateway["api_token"], aggregator)
        say()
        say(f"Done in {time.monotonic() - started:.1f} s.")
        if keep:
            say(f"The gateway ({base}) and the aggregator keep running; Ctrl-C stops both.")
            say(f"The web console: {base}/ui (sign in with the api_token above).")
            say(f"Try: SMSGATE_CONFIG={CONFIG} .venv/bin/smsgate show {message_id}")
            server.wait()
        else:
            say("`scripts/demo --keep` leaves both running to try things by hand.")
    except KeyboardInterrupt:
        pass
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        aggregator.close()


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _wait_until_up(server: subprocess.Popen[bytes], base: str, log_path: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            say(log_path.read_text())
            raise SystemExit("demo: smsgate serve did not come up")
        time.sleep(0.05)


def _round_trip(env: dict[str, str], base: str, token: str, aggregator: Aggregator) -> str:
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    body = {"channel": "demo", "to": PHONE, "text": "Hello from smsgate"}

    step("Your application sends a message through the gateway's API:")
    say(f"$ curl -X POST {base}/api/v1/messages \\")
    say(f"    -H 'Authorization: Bearer {token}' \\")
    say("    -H 'Content-Type: application/json' \\")
    say(f"    -d '{json.dumps(body, separators=(',', ':'))}'")
    answer = api.post("/api/v1/messages", json=body)
    say(fit(f"{answer.status_code} {answer.text}"))
    if answer.status_code != 202:
        raise SystemExit("demo: the API did not queue the message")
    message_id = answer.json()["id"]

    step("The send worker sends it through the `http` adapter. The aggregator gets:")
    sent = aggregator.wait_for_send()
    for line in wire_lines(sent):
        say(fit(f"    {line}".rstrip()))
    _wait_for_status(api, message_id, "wired")
    say("It answered 200, so the message is `wired`.")

    step("The aggregator reports it sent, then delivered (its status callbacks):")
    for status in ("sent", "delivered"):
        say(answered(aggregator.report(message_id, status), base))

    step("A phone replies; the aggregator delivers the incoming message:")
    reply = "Thanks, got it!"
    say(answered(aggregator.deliver(PHONE, reply), base))
    say(f"    form body: {urllib.parse.urlencode({'from': PHONE, 'text': reply})}")

    step("What the gateway stored, newest first:")
    smsgate(env, "messages")
    say()
    smsgate(env, "show", message_id)
    step("What /metrics counted (Prometheus; the same bearer token):")
    for line in api.get("/metrics").text.splitlines():
        if line.startswith(("smsgate_messages_total", 'smsgate_sends_total{channel="demo",outcome="accepted"}')):
            say(fit(f"    {line}"))
    step("The web console shows all of it in a browser:")
    say(f"    {base}/ui  (sign in with the api_token)")
    say(f"    api_token: {token}")
    return str(message_id)


def _wait_for_status(api: httpx.Client, message_id: str, status: str) -> None:
    deadline = time.monotonic() + 20
    while api.get(f"/api/v1/messages/{message_id}").json().get("status") != status:
        if time.monotonic() > deadline:
            raise SystemExit(f"demo: message {message_id} never became {status}")
        time.sleep(0.05)


if __name__ == "__main__":
    main()
