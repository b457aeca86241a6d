"""The one shared HTTP client: pooling, timeouts, retries (tenacity), throttling and channel-log traces."""

from __future__ import annotations

import asyncio
import email.utils
import errno
import http.cookiejar
import logging
import os
import re
import socket
import ssl
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from ..config._settings import ChannelSettings
from ..errors import ConnectionFailed, ResponseStatusError, RetryableError, SendError, SentButUnanswered, Throttled
from ._channellog import ChannelLog

if TYPE_CHECKING:
    from ._transport import AiohttpTransport

__all__ = ["HttpClient", "Throttle", "check_response", "merge_headers", "parse_retry_after", "retrying", "with_retries",
           "transport_error_reason"]

ResponseCheck = Callable[[httpx.Response], None]
log = logging.getLogger("smsgate.http")
T = TypeVar("T")


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header given as seconds or as an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def check_response(response: httpx.Response) -> None:
    """RapidPro's rule: 5xx → connection failed, 429 → throttled, other non-2xx → failed; 2xx passes."""
    code = response.status_code
    if 200 <= code < 300:
        return
    if code == 429:
        raise Throttled(f"HTTP 429 from {response.request.url.host}",
                        retry_after=parse_retry_after(response.headers.get("retry-after")), ext_code="429")
    if code >= 500:
        raise ConnectionFailed(f"HTTP {code} from {response.request.url.host}", ext_code=str(code))
    raise ResponseStatusError(f"HTTP {code} from {response.request.url.host}", ext_code=str(code))


class Throttle:
    """Spaces request starts at least 1/tps seconds apart for one channel (also for adapters not using HTTP)."""

    def __init__(self, tps: float) -> None:
        self.interval = 1.0 / tps
        self.next_at = 0.0
        self.lock = asyncio.Lock()

    async def wait(self) -> None:
        """Return when the next request may start."""
        async with self.lock:
            now = time.monotonic()
            delay = self.next_at - now
            self.next_at = max(now, self.next_at) + self.interval
        if delay > 0:
            await asyncio.sleep(delay)


class _SharedThrottle(Throttle):
    """Spaces request starts 1/tps apart across every instance on one database (`rate`: `Store.rate_slot`).

    If the database cannot be asked, this instance falls back to spacing its own requests, rather than failing
    a send for want of a rate slot."""

    def __init__(self, rate: Callable[[str, float], Awaitable[float]], channel: str, tps: float) -> None:
        super().__init__(tps)
        self.rate, self.key = rate, f"tps:{channel}"

    async def wait(self) -> None:
        # A start later than its slot would bunch up with the next ones (a busy loop, a slow answer), so a slot
        # missed by more than `late` is given up and a fresh one taken: no instance ever starts a backlog at once.
        late = max(self.interval, 0.02)
        for _ in range(5):
            asked = time.monotonic()
            try:
                delay = await self.rate(self.key, self.interval)
            except Exception as exc:
                log.warning("shared tps slot unavailable (%s): spacing this instance's requests only", exc)
                await super().wait()
                return
            # the slot is `delay` after the database ran the query, somewhere between asking and the answer: wait
            # from the answer (never early), and judge lateness from the asking (never too lenient)
            if delay > 0:
                await asyncio.sleep(delay)
            if time.monotonic() - (asked + delay) <= late:
                return


class _NoCookies(http.cookiejar.CookieJar):
    """Keeps no cookie: an aggregator's Set-Cookie must not ride along on later requests, maybe another account's."""

    def extract_cookies(self, response: Any, request: Any) -> None:
        """Ignore the response's cookies."""

    def set_cookie(self, cookie: http.cookiejar.Cookie) -> None:
        """Ignore a cookie set by hand."""


class HttpClient:
    """Wraps one `httpx.AsyncClient` for the whole process; adapters call `request()`."""

    def __init__(self, transport: httpx.AsyncBaseTransport | None = None, *, max_connections: int = 200,
                 verify: Any = True, backend: str = "aiohttp",
                 rate: Callable[[str, float], Awaitable[float]] | None = None) -> None:
        self._transport = transport
        self._rate = rate
        self._verify = verify
        self._backend = backend
        self._limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        self._clients: dict[Any, httpx.AsyncClient] = {}
        self._fast: dict[Any, AiohttpTransport] = {}  # transports `request` may call directly (AiohttpTransport.send)
        self._throttles: dict[str, Throttle] = {}
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._urls: dict[str, httpx.URL] = {}

    def client(self, verify: Any = None) -> httpx.AsyncClient:
        """The pooled client (one per TLS verification setting: a CA bundle needs its own pool)."""
        key = self._verify if verify is None else verify
        client = self._clients.get(key)
        if client is None:
            transport = self._transport
            if transport is None and self._backend == "aiohttp" and not _env_proxies():
                from ._transport import AiohttpTransport  # aiohttp's import is paid by senders only, not the CLI

                transport = AiohttpTransport(verify=key, limits=self._limits)
            # one client serves every channel, and courier (RapidPro) keeps no cookie jar either
            client = httpx.AsyncClient(transport=transport, limits=self._limits, verify=key, cookies=_NoCookies(),
                                       follow_redirects=False, headers={"User-Agent": "smsgate"})
            self._clients[key] = client
            if _is_aiohttp_transport(transport):
                self._fast[key] = transport  # type: ignore[assignment]
        return client

    def _url(self, url: str) -> httpx.URL:
        """`url` parsed (httpx's parser is pure Python: half of building a request); a channel's fixed send URL
        is parsed once. Bounded, since URLs carrying each message's text (a GET sendsms) never repeat."""
        parsed = self._urls.get(url)
        if parsed is None:
            if len(self._urls) >= 256:
                self._urls.clear()
            parsed = self._urls[url] = httpx.URL(url)
        return parsed

    async def aclose(self) -> None:
        """Close every pooled connection."""
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()
        self._fast.clear()

    def throttle(self, channel: str, tps: float) -> Throttle:
        """The throttle spacing `channel`'s request starts at `tps`: across every instance when the gateway's
        store is shared (PostgreSQL), else this process's own. For adapters that do not send through `request`
        (an SMPP bind), so their `tps` holds across instances too."""
        throttle = self._throttles.get(channel)
        if throttle is None or throttle.interval != 1.0 / tps:
            throttle = self._throttles[channel] = (Throttle(tps) if self._rate is None else
                                                   _SharedThrottle(self._rate, channel, tps))
        return throttle

    async def request(self, log: ChannelLog, settings: ChannelSettings, method: str, url: str, *,
                      check: ResponseCheck = check_response, verify: Any = None, **kwargs: Any) -> httpx.Response:
        """Send one request with the channel's retries, throttle and timeout; every attempt is traced in `log`.

        Raises a `SendError` when `check` rejects the final answer or the transport fails.
        """
        throttle = self.throttle(log.channel, settings.tps) if settings.tps else None
        client = self.client(verify)
        fast = self._fast.get(self._verify if verify is None else verify)
        # httpx's pool slows down sharply with many connections to one host (it rescans every waiting request
        # on each event), and aggregators cap concurrent connections anyway: bound the requests in flight.
        slots = self._slots.get(log.channel)
        if slots is None:
            slots = self._slots[log.channel] = asyncio.Semaphore(settings.max_in_flight)
        request = client.build_request(method, self._url(url), timeout=settings.timeout, **kwargs)  # for every try

        async def attempt() -> httpx.Response:
            if throttle is not None:
                await throttle.wait()
            # durable before the request leaves (after a crash the send is in doubt, not resent), and before the
            # slot is taken, so a slot never waits for a commit
            await log.going_out()
            async with slots:
                return await self._once(client, fast, log, settings, request, check)

        return await with_retries(settings, attempt)

    async def _once(self, client: httpx.AsyncClient, fast: AiohttpTransport | None, log: ChannelLog,
                    settings: ChannelSettings, request: httpx.Request, check: ResponseCheck) -> httpx.Response:
        start = time.perf_counter()
        try:
            if fast is not None and not fast.intercepted():
                response = await fast.send(request)
            else:
                response = await client.send(request)
                await response.aread()
        except httpx.TransportError as exc:
            elapsed = (time.perf_counter() - start) * 1000
            reason = transport_error_reason(exc, request.url)
            log.trace(request.method, str(request.url), request.headers, request.content, elapsed_ms=elapsed,
                      error=reason)
            # once the request is written, a timeout or a dropped connection leaves it unknown whether it arrived
            if isinstance(exc, httpx.ReadTimeout | httpx.ReadError | httpx.RemoteProtocolError):
                raise SentButUnanswered(reason) from None
            # no connection was made (refused, reset while connecting, a name that does not resolve, no pool
            # slot): nothing was written, so the aggregator cannot have the message. A failure while writing is
            # not proof: part of the request may have arrived.
            untaken = isinstance(exc, _NEVER_SENT)
            if untaken:
                log.refused()
            raise ConnectionFailed(reason, not_taken=untaken) from None
        elapsed = (time.perf_counter() - start) * 1000
        log.trace(request.method, str(request.url), request.headers, request.content, response.status_code,
                  response.headers, response.content, elapsed)
        try:
            check(response)
        except SendError as exc:
            log.error(f"{exc.code}: {exc.reason}")
            code = response.status_code
            if exc.retryable and (code >= 500 or code == 429):
                exc.not_taken = True  # the aggregator answered that it did not take it, whoever's check said so
            if exc.not_taken:
                log.refused()
            raise
        return response


# httpx errors raised before any byte of the request was written
_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


def transport_error_reason(exc: httpx.TransportError, url: httpx.URL) -> str:
    """One line saying what went wrong where, the same for both HTTP backends:
    `cannot connect to 127.0.0.1:13013 (connection refused)`, `no answer from host:443 after the request was sent
    (timed out)`."""
    where = f"{url.host}:{url.port or (443 if url.scheme == 'https' else 80)}"
    if isinstance(exc, httpx.ConnectTimeout):
        return f"cannot connect to {where} (timed out)"
    if isinstance(exc, httpx.PoolTimeout):
        return f"cannot connect to {where} (no free connection in time)"
    if isinstance(exc, httpx.ReadTimeout):
        return f"no answer from {where} after the request was sent (timed out)"
    if isinstance(exc, httpx.WriteTimeout):
        return f"cannot send the request to {where} (timed out)"
    why = _root_reason(exc)
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect to {where} ({why})"
    if isinstance(exc, httpx.ReadError | httpx.RemoteProtocolError):
        return f"no answer from {where} after the request was sent ({why})"
    if isinstance(exc, httpx.WriteError):
        return f"cannot send the request to {where} ({why})"
    return f"cannot send to {url.scheme}://{where} ({why})"


# errno → the words an operator knows; anything else is os.strerror in lower case
_ERRNO_WORDS = {errno.ECONNREFUSED: "connection refused", errno.ECONNRESET: "connection reset",
                errno.ECONNABORTED: "connection aborted", errno.EPIPE: "connection closed",
                errno.ETIMEDOUT: "timed out", errno.EHOSTUNREACH: "host unreachable",
                errno.ENETUNREACH: "network unreachable", errno.EADDRNOTAVAIL: "address not available"}
_ERRNO_IN_TEXT = re.compile(r"\[Errno (\d+)\]")


def _root_reason(exc: BaseException) -> str:
    """The innermost cause in words, without a library's decoration (aiohttp adds `ssl:default [...]`)."""
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and seen not in chain and len(chain) < 10:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    for cause in reversed(chain):  # innermost first
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS certificate not trusted: {cause.verify_message or cause.reason}"
        if isinstance(cause, ssl.SSLError):
            return f"TLS error: {cause.reason or cause}"
        if isinstance(cause, socket.gaierror):
            return "host name not found"
        if isinstance(cause, OSError):
            code = cause.errno
            if code is None:  # asyncio's "Multiple exceptions: [Errno 111] ..., [Errno 99] ..." (every address)
                found = _ERRNO_IN_TEXT.search(str(cause))
                code = int(found.group(1)) if found else None
            if code is not None:
                return _ERRNO_WORDS.get(code) or os.strerror(code).lower()
    for cause in chain:  # no OS error underneath: the outermost message that says something
        text = str(cause).strip()
        if text:
            return text
    return type(exc).__name__


async def with_retries(settings: ChannelSettings, attempt: Callable[[], Awaitable[T]]) -> T:
    """`await attempt()` under the channel's retry policy (`retrying`), without building the retry machinery for
    the first try: most requests succeed at once. Adapters not using HTTP retry each of their requests with it."""
    try:
        return await attempt()
    except RetryableError as exc:
        if settings.max_attempts <= 1 or not _should_retry(exc, settings):
            raise
        first: RetryableError = exc
    tries = 0
    doubt = not first.not_taken  # an earlier try that may have arrived: the last error proves nothing then

    async def again() -> T:  # tenacity's attempt 1 is the one that just failed
        nonlocal tries, doubt
        tries += 1
        if tries == 1:
            raise first
        try:
            return await attempt()
        except SendError as exc:
            if doubt and exc.not_taken:
                exc.not_taken = False
            doubt = doubt or not exc.not_taken
            raise

    result: T = await retrying(settings)(again)
    return result


def retrying(settings: ChannelSettings) -> AsyncRetrying:
    """The channel's retry policy for one request: `max_attempts` on a RetryableError, exponential backoff with
    jitter up to `max_retry_wait` (or the error's `retry_after`), never a request that may have been delivered
    unless `retry_on_timeout`. Adapters not using HTTP retry each of their requests with it too."""
    return AsyncRetrying(
        stop=stop_after_attempt(settings.max_attempts),
        wait=_wait(settings.max_retry_wait),
        retry=retry_if_exception(lambda e: _should_retry(e, settings)),
        reraise=True,
    )


def _is_aiohttp_transport(transport: Any) -> bool:
    """Whether `transport` is smsgate's AiohttpTransport (without importing aiohttp when it cannot be)."""
    module = sys.modules.get("smsgate._http._transport")
    return module is not None and isinstance(transport, module.AiohttpTransport)


def _env_proxies() -> bool:
    """Whether HTTP_PROXY, HTTPS_PROXY or ALL_PROXY is set: httpx honours them (and NO_PROXY) only when it
    builds its own transport, so behind a proxy smsgate leaves the transport to httpx."""
    import urllib.request

    return any(scheme in urllib.request.getproxies() for scheme in ("http", "https", "all"))


def _should_retry(exc: BaseException, settings: ChannelSettings) -> bool:
    if not isinstance(exc, RetryableError):
        return False
    if isinstance(exc, SentButUnanswered) and not settings.retry_on_timeout:
        return False  # the aggregator may have the message already: a retry could send the SMS twice
    return exc.retry_after is None or exc.retry_after <= settings.max_retry_wait


def _wait(max_wait: float) -> Callable[[Any], float]:
    backoff = wait_exponential_jitter(multiplier=0.5, max=max(max_wait, 0.0), jitter=0.5)

    def wait(state: Any) -> float:
        exc = state.outcome.exception() if state.outcome else None
        hinted = getattr(exc, "retry_after", None)
        if hinted is not None:
            return min(float(hinted), max_wait)
        return min(backoff(state), max_wait)

    return wait


def merge_headers(*maps: Mapping[str, str] | None) -> dict[str, str]:
    """Later maps override earlier ones, case-insensitively."""
    out: dict[str, str] = {}
    index: dict[str, str] = {}
    for m in maps:
        for key, value in (m or {}).items():
            old = index.get(key.lower())
            if old is not None:
                out.pop(old, None)
            out[key] = value
            index[key.lower()] = key
    return out
