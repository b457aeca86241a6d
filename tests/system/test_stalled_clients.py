"""Clients that stall or vanish mid-request cannot hold `smsgate serve`'s sockets, slow others, or flood its log.

uvicorn alone gives a connection unlimited time for its headers and body (a byte every few seconds resets its
keep-alive timer), so a few thousand slow sockets exhaust a process's file descriptors. `[gateway]
header_timeout` / `body_timeout` close them; bench/stall.py measures the same thing with more sockets.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import httpx
import pytest

from tests.support.peers import free_port
from tests.support.served import Served

STALLED = 400  # each is a file descriptor in this process and in the server's


def _config(tmp_path: Path, port: int) -> Path:
    config = tmp_path / "smsgate.toml"
    config.write_text(
        f'[gateway]\nhost = "127.0.0.1"\nport = {port}\ndatabase = "{tmp_path / "db.sqlite3"}"\n'
        f'public_url = "http://127.0.0.1:{port}"\nheader_timeout = 1.0\nbody_timeout = 2.0\n'
        '[channels.ex]\nadapter = "http"\ncountry = "US"\nsend_url = "http://127.0.0.1:9/unused"\n')
    return config


@pytest.fixture
def server(tmp_path: Path):
    port = free_port()
    served = Served(_config(tmp_path, port), port, tmp_path / "serve.log")
    served.start()
    try:
        yield served
    finally:
        served.stop()


def _open(port: int, payload: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(payload)
    return sock


def _closed_by_server(sock: socket.socket, within: float) -> bool:
    """True when the server closes `sock` (EOF or reset) within `within` seconds."""
    sock.settimeout(within)
    try:
        while True:
            data = sock.recv(4096)
            if not data:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


def _open_fds(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/fd").iterdir()))


STALLS = {
    "silent": b"",
    "half a request line": b"POST /c/ex/rec",
    "headers never end": b"POST /c/ex/receive HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n",
    "body never ends": (b"POST /c/ex/receive HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded"
                        b"\r\nContent-Length: 1000\r\n\r\nfrom=%2B12025550123&text="),
}


@pytest.mark.parametrize("payload", STALLS.values(), ids=list(STALLS))
def test_stalled_sockets_are_dropped_and_others_are_served_meanwhile(server, payload):
    baseline = _open_fds(server.proc.pid)
    stalled = [_open(server.port, payload) for _ in range(STALLED)]
    try:
        time.sleep(0.3)
        assert _open_fds(server.proc.pid) >= baseline + STALLED // 2  # the server really holds them now
        started = time.perf_counter()
        with httpx.Client(base_url=server.url, timeout=5) as client:
            for i in range(20):  # an honest aggregator, while the stalled sockets wait
                response = client.post("/c/ex/receive", data={"from": "+12025550123", "text": f"ok {i}"})
                assert response.status_code == 200, response.text
        assert time.perf_counter() - started < 3
        deadline = 1.0 if b"\r\n\r\n" not in payload else 2.0
        assert all(_closed_by_server(sock, deadline + 3) for sock in stalled)
        time.sleep(0.3)
        assert _open_fds(server.proc.pid) <= baseline + 5  # every descriptor is back
    finally:
        for sock in stalled:
            sock.close()


def test_a_byte_at_a_time_does_not_buy_more_time(server):
    sock = _open(server.port, b"P")
    started = time.monotonic()
    try:
        for char in b"OST /c/ex/receive HTTP/1.1\r\nHost: x\r\n":  # each byte would reset uvicorn's own timer
            try:
                sock.sendall(bytes([char]))
            except (BrokenPipeError, ConnectionResetError):
                break
            time.sleep(0.1)
            if time.monotonic() - started > 3:
                break
        assert _closed_by_server(sock, 3)
        assert time.monotonic() - started < 3.5
    finally:
        sock.close()


def test_a_client_that_disconnects_mid_body_is_one_log_line_at_most(server):
    before = server.log.read_text()
    for _ in range(5):
        sock = _open(server.port, STALLS["body never ends"])
        sock.close()
    time.sleep(0.5)
    with httpx.Client(base_url=server.url) as client:  # still serving
        assert client.post("/c/ex/receive", data={"from": "+12025550123", "text": "hi"}).status_code == 200
    added = server.log.read_text()[len(before):]
    assert "Traceback" not in added and "ClientDisconnect" not in added, added
    assert len([line for line in added.splitlines() if line.strip()]) <= 5, added


def test_a_busy_keep_alive_connection_lives_and_is_dropped_once_idle(server):
    """The header deadline runs from the previous response: a client sending a request every 0.3 s keeps its
    connection well past `header_timeout` (1 s), and loses it about 1 s after it stops."""
    body = b"from=%2B12025550123&text=again"
    request = (b"POST /c/ex/receive HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
               b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    sock = _open(server.port, b"")
    try:
        started = time.monotonic()
        answers = 0
        while time.monotonic() - started < 2.5:
            sock.sendall(request)
            data = b""
            while b"Message Accepted" not in data:
                chunk = sock.recv(4096)
                assert chunk, f"dropped after {time.monotonic() - started:.1f}s while busy"
                data += chunk
            answers += 1
            time.sleep(0.3)
        assert answers >= 7
        idle = time.monotonic()
        assert _closed_by_server(sock, 3)
        assert 0.6 < time.monotonic() - idle < 2.0
    finally:
        sock.close()


def test_the_deadlines_sit_on_the_httptools_parser():
    # `smsgate serve` runs uvicorn's httptools protocol (a core dependency); the deadlines above were checked on it
    from smsgate.web._server import deadline_protocol
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    assert issubclass(deadline_protocol(1.0, 2.0), HttpToolsProtocol)
