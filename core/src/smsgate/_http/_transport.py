"""An httpx transport that moves bytes with aiohttp: the same httpx API, about twice the requests per second.

httpcore's pool re-checks every idle connection with a socket poll and anyio attribute lookups on each request;
at 8 requests in flight that costs more than the rest of smsgate's send path (bench/RESULTS.md). aiohttp's
connector does not. Adapters, tests (`httpx.MockTransport`) and vcrpy still see plain httpx: this class is an
`httpx.AsyncHTTPTransport` whose connection pool is an aiohttp session, so vcrpy's patch of
`AsyncHTTPTransport.handle_async_request` records and replays it like the default transport.

Errors are mapped to httpcore's (httpx then maps them to its own) by one rule: only a failure known to happen
before the request left is a connect error (safe to retry); anything later is a read error, so the send is
treated as possibly delivered and never repeated unless the channel allows it. The PyPI `httpx-aiohttp`
package maps read timeouts and server disconnects to `ConnectTimeout`, which would make smsgate resend SMS
the aggregator may already have: that is why this small module exists instead of that dependency.

`AiohttpTransport.send` is the gateway's fast path: an `httpx.Request` in, an `httpx.Response` (body read) out,
straight over the pool, without `AsyncClient.send`'s auth, redirect and cookie machinery (smsgate's client uses
none of them) or httpcore's request and response objects in between. `HttpClient` takes it only while httpx's
transport is not intercepted (vcrpy and respx patch `AsyncHTTPTransport.handle_async_request`), so recorders
and mocks still see every request.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    import aiohttp
    import httpcore

__all__ = ["AiohttpTransport"]

# httpx already sets these; aiohttp must not add its own (`Content-Type: application/octet-stream` on bytes)
_SKIP_AUTO_HEADERS = ("User-Agent", "Accept", "Accept-Encoding", "Content-Type")


class AiohttpTransport(httpx.AsyncHTTPTransport):
    """`httpx.AsyncHTTPTransport` with an aiohttp connection pool (HTTP/1.1, TLS with httpx's verify rules)."""

    def __init__(self, verify: ssl.SSLContext | str | bool = True, limits: httpx.Limits = httpx.Limits()) -> None:
        # no super().__init__(): it would build the httpcore pool this class replaces
        self._pool = _AiohttpPool(httpx.create_ssl_context(verify=verify), limits)  # type: ignore[assignment]

    @staticmethod
    def intercepted() -> bool:
        """Whether httpx's transport is wrapped (vcrpy) or replaced (respx, a mock): then `HttpClient` must not
        take the fast path, which does not go through it."""
        handle = httpx.AsyncHTTPTransport.handle_async_request
        return getattr(handle, "__module__", None) != "httpx._transports.default" or hasattr(handle, "__wrapped__")

    async def send(self, request: httpx.Request) -> httpx.Response:
        """Send `request` over the pool and read the whole answer: the same bytes on the wire and the same
        response as through `httpx.AsyncClient.send` with this transport, with httpx's exceptions."""
        pool: _AiohttpPool = self._pool  # type: ignore[assignment]
        url = request.url
        host = url.raw_host.decode("ascii")
        if ":" in host:
            host = f"[{host}]"
        port = f":{url.port}" if url.port is not None else ""
        target = f"{url.scheme}://{host}{port}{url.raw_path.decode('ascii')}"
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw
                   if k.lower() != b"transfer-encoding"]  # the body is buffered: aiohttp sets Content-Length
        body = await request.aread()
        try:
            response, content = await pool.exchange(request.method, target, headers, body, request.extensions)
        except _Mapped as exc:
            kind = _HTTPX.get(type(exc.mapped))
            if kind is None:
                raise exc.mapped from exc.__cause__
            raise kind(str(exc.mapped), request=request) from exc.__cause__
        version = response.version
        return httpx.Response(
            response.status, headers=list(response.raw_headers), content=content, request=request,
            extensions={"http_version": f"HTTP/{version.major}.{version.minor}".encode() if version else b"HTTP/1.1",
                        "reason_phrase": (response.reason or "").encode("latin-1", "replace")})


class _AiohttpPool:
    """The subset of `httpcore.AsyncConnectionPool` that `httpx.AsyncHTTPTransport` calls."""

    def __init__(self, ssl_context: ssl.SSLContext, limits: httpx.Limits) -> None:
        self._ssl = ssl_context
        self._limits = limits
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timeouts: dict[tuple[Any, Any, Any], aiohttp.ClientTimeout] = {}

    def _timeout(self, extensions: Mapping[str, Any]) -> aiohttp.ClientTimeout:
        """httpx's per-request timeouts as aiohttp's (made once per distinct value: one per channel, in practice)."""
        timeouts = extensions.get("timeout", {})
        key = (timeouts.get("pool"), timeouts.get("connect"), timeouts.get("read"))
        found = self._timeouts.get(key)
        if found is None:
            import aiohttp

            found = self._timeouts[key] = aiohttp.ClientTimeout(total=None, connect=key[0], sock_connect=key[1],
                                                                sock_read=key[2])
        return found

    async def exchange(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes,
                       extensions: Mapping[str, Any]) -> tuple[aiohttp.ClientResponse, bytes]:
        """One request with its whole answer read; failures raised as `_Mapped` (httpcore's kinds inside)."""
        import yarl

        session = self._session_for_loop()
        try:
            response = await session.request(
                method, yarl.URL(target, encoded=True), headers=headers, data=body or None, allow_redirects=False,
                compress=None, timeout=self._timeout(extensions), server_hostname=extensions.get("sni_hostname"))
        except Exception as exc:
            raise _Mapped(_mapped(exc)) from exc
        try:
            content = await response.read()
        except Exception as exc:
            raise _Mapped(_mapped(exc, reading=True)) from exc
        return response, content

    def _session_for_loop(self) -> aiohttp.ClientSession:
        import aiohttp

        loop = asyncio.get_running_loop()
        if self._session is None or self._loop is not loop or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._limits.max_connections or 0, limit_per_host=0, ssl=self._ssl,
                keepalive_timeout=self._limits.keepalive_expiry or 5.0)
            self._session = aiohttp.ClientSession(
                connector=connector, cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False, trust_env=False,
                skip_auto_headers=_SKIP_AUTO_HEADERS, timeout=aiohttp.ClientTimeout(total=None))
            # aiohttp resends a GET or PUT once when a reused connection drops; for an SMS send that can be a
            # duplicate (Kannel's sendsms is a GET), and the channel's own retry policy decides instead
            self._session._retry_connection = False
            self._loop = loop
        return self._session

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        """Send `request` with aiohttp; answer an httpcore response whose body streams from aiohttp."""
        import httpcore
        import yarl

        session = self._session_for_loop()
        url = request.url
        host = url.host.decode("ascii")
        if ":" in host:
            host = f"[{host}]"
        port = f":{url.port}" if url.port is not None else ""
        target = yarl.URL(f"{url.scheme.decode('ascii')}://{host}{port}{url.target.decode('ascii')}", encoded=True)
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers
                   if k.lower() != b"transfer-encoding"]  # the body is buffered: aiohttp sets Content-Length
        body = b"".join([chunk async for chunk in request.stream])  # type: ignore[union-attr]
        try:
            response = await session.request(
                request.method.decode("ascii"), target, headers=headers, data=body or None, allow_redirects=False,
                compress=None, timeout=self._timeout(request.extensions),
                server_hostname=request.extensions.get("sni_hostname"))
        except Exception as exc:
            raise _mapped(exc) from exc
        version = response.version
        return httpcore.Response(
            status=response.status, headers=list(response.raw_headers), content=_Body(response),
            extensions={"http_version": f"HTTP/{version.major}.{version.minor}".encode() if version else b"HTTP/1.1",
                        "reason_phrase": (response.reason or "").encode("latin-1", "replace")})

    async def aclose(self) -> None:
        """Close the session's connections (only from the loop that opened them)."""
        session, self._session = self._session, None
        if session is not None and not session.closed and self._loop is asyncio.get_running_loop():
            await session.close()

    async def __aenter__(self) -> _AiohttpPool:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class _Body:
    """An aiohttp response body as the async byte stream httpx reads; errors mapped like the request's."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except Exception as exc:
            raise _mapped(exc, reading=True) from exc

    async def aclose(self) -> None:
        """Return the connection to the pool (aiohttp closes it instead if the body was not read)."""
        self._response.release()


class _Mapped(Exception):
    """A failure of the fast path, carrying the httpcore exception the slow path would have raised."""

    def __init__(self, mapped: Exception) -> None:
        super().__init__(str(mapped))
        self.mapped = mapped


def _httpx_kinds() -> dict[type[Exception], type[httpx.TransportError]]:
    import httpcore

    return {httpcore.ConnectError: httpx.ConnectError, httpcore.ConnectTimeout: httpx.ConnectTimeout,
            httpcore.UnsupportedProtocol: httpx.UnsupportedProtocol, httpcore.ReadTimeout: httpx.ReadTimeout,
            httpcore.RemoteProtocolError: httpx.RemoteProtocolError, httpcore.ReadError: httpx.ReadError}


_HTTPX = _httpx_kinds()
"""httpcore's exception kinds as httpx names them (what httpx's own transport maps them to)."""


def _mapped(exc: BaseException, *, reading: bool = False) -> Exception:
    import aiohttp
    import httpcore

    detail = str(exc) or type(exc).__name__
    kind: type[Exception]
    if isinstance(exc, aiohttp.ClientConnectorError) and not reading:
        kind = httpcore.ConnectError  # refused, unresolvable, TLS handshake: nothing was sent
    elif isinstance(exc, aiohttp.ConnectionTimeoutError) and not reading:
        kind = httpcore.ConnectTimeout  # no connection (or pool slot) in time: nothing was sent
    elif isinstance(exc, aiohttp.InvalidURL) and not reading:
        kind = httpcore.UnsupportedProtocol
    elif isinstance(exc, asyncio.TimeoutError):
        kind = httpcore.ReadTimeout
    elif isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientResponseError):
        kind = httpcore.RemoteProtocolError
    elif isinstance(exc, aiohttp.ClientError | OSError):
        kind = httpcore.ReadError  # the request may have arrived
    else:
        return exc if isinstance(exc, Exception) else RuntimeError(detail)
    return kind(detail)
