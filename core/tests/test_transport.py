"""AiohttpTransport puts the same bytes on the wire as httpx's own transport, and reads answers the same way.

A raw socket server records each request exactly as received and answers with a scripted response; every case
runs over both backends, and over `AiohttpTransport.send` (the direct path `HttpClient` takes), and the
recordings must match (header order aside), so switching `gateway.http_backend` never changes what an
aggregator sees. TLS runs against a real certificate made with
openssl, trusted through a CA bundle, not trusted by default, and unverified on request.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from smsgate.host import AiohttpTransport, transport_error_reason

ANSWER = (b"HTTP/1.1 202 Accepted for delivery\r\nContent-Type: text/plain\r\nSet-Cookie: a=1\r\n"
          b"Set-Cookie: b=2\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
          b"3\r\n0: \r\n15\r\nAccepted for delivery\r\n0\r\n\r\n")


class Recorder:
    """Accepts connections (TLS when given a context), records each whole request, answers ANSWER."""

    def __init__(self, context: ssl.SSLContext | None = None) -> None:
        self.requests: list[bytes] = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.context = context
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            if self.context is not None:
                conn = self.context.wrap_socket(conn, server_side=True)
            conn.settimeout(5)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            while len(body) < length:
                body += conn.recv(65536)
            self.requests.append(head + b"\r\n\r\n" + body)
            conn.sendall(ANSWER)
        except (OSError, ssl.SSLError):
            return
        finally:
            conn.close()

    def close(self) -> None:
        self.sock.close()


def _transport(backend: str, verify: Any = True) -> httpx.AsyncBaseTransport:
    return AiohttpTransport(verify=verify) if backend == "aiohttp" else httpx.AsyncHTTPTransport(verify=verify)


def _exchange(backend: str, url: str, verify: Any = True, **request: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = _transport(backend.removesuffix("-direct"), verify)
        async with httpx.AsyncClient(transport=transport, headers={"User-Agent": "smsgate"}) as c:
            if backend == "aiohttp-direct":  # what HttpClient does: build with the client, send with the transport
                auth = request.pop("auth", None)
                built = c.build_request(url=url, **request)
                if auth is not None:
                    next(httpx.BasicAuth(*auth).auth_flow(built))
                assert isinstance(transport, AiohttpTransport) and not transport.intercepted()
                return await transport.send(built)
            response = await c.request(url=url, **request)
            await response.aread()
            return response

    return asyncio.run(go())


def _normalised(raw: bytes) -> tuple[bytes, list[bytes], bytes]:
    """Request line, headers sorted (the two stacks order them differently), body."""
    head, _, body = raw.partition(b"\r\n\r\n")
    line, *headers = head.split(b"\r\n")
    return line, sorted(h.lower() for h in headers), body


CASES = {
    "query bytes kept as given": {"method": "GET", "path": "/cgi-bin/sendsms?text=caf%C3%A9+1%2B1%3D2%20%7E&to=%2B250"
                                                            "&udh=%05%00%03&coding=2"},
    "form body": {"method": "POST", "path": "/send", "data": {"from": "+250788", "text": "hola & adiós"}},
    "bytes without a content type get none": {"method": "POST", "path": "/send", "content": b"\x00raw\xff"},
    "json and basic auth": {"method": "PUT", "path": "/send", "json": {"id": 1, "text": "ñ"},
                            "auth": ("user", "pässword")},
    "empty POST": {"method": "POST", "path": "/empty"},
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_both_backends_send_the_same_bytes_and_read_the_same_answer(case):
    spec = dict(CASES[case])
    path = spec.pop("path")
    answers = []
    server = Recorder()
    try:
        for backend in ("httpcore", "aiohttp", "aiohttp-direct"):
            response = _exchange(backend, f"http://127.0.0.1:{server.port}{path}", **spec)
            answers.append((response.status_code, response.reason_phrase, response.headers.get_list("set-cookie"),
                            response.text, response.http_version))
    finally:
        server.close()
    httpcore_sent, aiohttp_sent, direct_sent = (_normalised(r) for r in server.requests)
    assert aiohttp_sent == httpcore_sent and direct_sent == httpcore_sent
    assert answers[0] == answers[1] == answers[2] == (202, "Accepted for delivery", ["a=1", "b=2"],
                                                      "0: Accepted for delivery", "HTTP/1.1")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> Iterator[tuple[Path, Path]]:
    """A self-signed certificate for 127.0.0.1 (openssl), as (cert, key); the cert is its own CA bundle."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    yield cert, key


@pytest.mark.parametrize("backend", ["aiohttp", "aiohttp-direct", "httpcore"])
def test_tls_verifies_with_a_ca_bundle_and_refuses_an_unknown_certificate(certificate, backend):
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server = Recorder(context)
    url = f"https://127.0.0.1:{server.port}/send"
    try:
        trusted = ssl.create_default_context(cafile=str(cert))
        assert _exchange(backend, url, verify=trusted, method="POST", data={"a": "b"}).status_code == 202
        assert _exchange(backend, url, verify=False, method="GET").status_code == 202
        with pytest.raises(httpx.ConnectError) as refused:  # nothing was sent: safe to retry elsewhere
            _exchange(backend, url, method="GET")
        assert transport_error_reason(refused.value, httpx.URL(url)) == (
            f"cannot connect to 127.0.0.1:{server.port} (TLS certificate not trusted: self-signed certificate)")
    finally:
        server.close()
    assert len(server.requests) == 2


def test_the_direct_path_steps_aside_while_vcrpy_records(tmp_path):
    """HttpClient sends straight over AiohttpTransport only while httpx's transport is httpx's own: under a vcrpy
    cassette its requests go through the patched transport, so they are recorded, and replayed offline."""
    import vcr
    from smsgate import ChannelLog, ChannelSettings, Redactor
    from smsgate._http._client import HttpClient

    server = Recorder()
    url = f"http://127.0.0.1:{server.port}/send"
    settings = ChannelSettings(adapter="x", max_attempts=1)
    cassette = str(tmp_path / "cassette.yaml")

    async def send(http: HttpClient) -> str:
        log = ChannelLog(channel="c", kind="send", redactor=Redactor())
        response = await http.request(log, settings, "POST", url, data={"a": "b"})
        return response.text

    async def record() -> None:
        http = HttpClient()
        try:
            assert await send(http) == "0: Accepted for delivery" and not AiohttpTransport.intercepted()
            with vcr.VCR(record_mode="all").use_cassette(cassette):
                assert AiohttpTransport.intercepted()
                assert await send(http) == "0: Accepted for delivery"
            assert not AiohttpTransport.intercepted()
        finally:
            await http.aclose()

    try:
        asyncio.run(record())
    finally:
        server.close()
    assert len(server.requests) == 2

    async def replay() -> str:
        http = HttpClient()
        try:
            with vcr.VCR(record_mode="none").use_cassette(cassette):
                return await send(http)
        finally:
            await http.aclose()

    assert asyncio.run(replay()) == "0: Accepted for delivery"  # the server is gone: only the cassette answers
