"""Running the app under uvicorn with deadlines a hostile client cannot stretch.

uvicorn gives a connection all the time it wants to send a request: a socket that never sends a byte, or
sends a header line every few seconds (each byte resets its keep-alive timer), or a body one byte at a time,
holds a file descriptor and a task forever, and a few thousand of them exhaust the process. `DeadlineProtocol`
gives every request `header_timeout` seconds from the connection (or the previous response) to its complete
headers, and `body_timeout` seconds to its complete body, then closes the connection.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import resource
import socket
from typing import Any

from ..config._settings import GatewaySettings

__all__ = ["PortUnavailable", "deadline_protocol", "listen", "raise_fd_limit", "serve"]

log = logging.getLogger("smsgate.server")


def deadline_protocol(header_timeout: float, body_timeout: float) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol class (h11 or httptools, as uvicorn picks) with per-request deadlines."""
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    base: Any = AutoHTTPProtocol

    class DeadlineProtocol(base):  # type: ignore[misc]
        """Closes a connection whose request headers or body do not arrive in time."""

        _timer: asyncio.TimerHandle | None = None
        _armed_cycle: Any = None
        _armed_at = 0.0

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm()  # the next request on this connection gets its own time

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel()
            super().connection_lost(exc)

        def _cancel(self) -> None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

        def _arm(self) -> None:
            if self.transport.is_closing():
                return
            self._armed_cycle = self.cycle
            self._armed_at = self.loop.time()
            # a timer still pending checks the new deadline when it fires: one timer per connection and
            # deadline, not a new one per request (a keep-alive client sends thousands)
            if self._timer is None:
                self._timer = self.loop.call_later(header_timeout, self._check)

        def _check(self) -> None:
            self._timer = None
            if self.transport.is_closing():
                return
            cycle = self.cycle
            if cycle is None or cycle is self._armed_cycle:  # no complete request headers since armed
                remaining = self._armed_at + header_timeout - self.loop.time()
                if remaining > 0:  # re-armed since this timer started (a later response completed)
                    self._timer = self.loop.call_later(remaining, self._check)
                else:
                    self._drop("headers", header_timeout)
                return
            if not cycle.more_body or cycle.response_complete:
                return  # the request is in; how long the app takes is not the client's doing
            remaining = self._armed_at + body_timeout - self.loop.time()
            if remaining <= 0:
                self._drop("body", body_timeout)
            else:
                self._timer = self.loop.call_later(remaining, self._check)

        def _drop(self, what: str, seconds: float) -> None:
            log.info("closed a connection from %s: its request %s took over %gs", _peer(self.client), what,
                     seconds)
            self.transport.close()

    return DeadlineProtocol


def _peer(client: Any) -> str:
    return f"{client[0]}:{client[1]}" if client else "?"


def raise_fd_limit() -> int:
    """Raise the soft open-files limit to the hard one (each connection holds a descriptor); the new limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


class PortUnavailable(OSError):
    """The address `smsgate serve` should listen on cannot be taken; the message says why in one line."""


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to `host`:`port`, taken before anything starts so a busy port is one line, not a traceback
    after the gateway said it was serving (uvicorn listens on it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        # as uvicorn does: a port whose last connections are in TIME_WAIT is free; one another socket listens on is not
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortUnavailable(exc.errno, f"port {port} is already in use (on {host}): stop what listens there "
                                             "or choose another with --port") from None
        if exc.errno == errno.EACCES:
            raise PortUnavailable(exc.errno, f"no permission to listen on port {port} (on {host}): ports below "
                                             "1024 need privileges; choose another with --port") from None
        reason = exc.strerror or str(exc)
        raise PortUnavailable(exc.errno, f"cannot listen on {host}:{port}: {reason}") from None
    sock.set_inheritable(True)
    return sock


def serve(app: Any, settings: GatewaySettings, *, host: str | None = None, port: int | None = None,
          log_level: str = "info", sock: socket.socket | None = None) -> None:
    """Run `app` with uvicorn until interrupted, with the request deadlines of `settings`; on `sock` when given
    (from `listen`), else on `host`:`port`."""
    import uvicorn

    raise_fd_limit()
    config = uvicorn.Config(
        app, host=host or settings.host, port=settings.port if port is None else port, log_level=log_level,
        access_log=False, timeout_graceful_shutdown=5,
        http=deadline_protocol(settings.header_timeout, settings.body_timeout))
    uvicorn.Server(config).run(sockets=[sock] if sock is not None else None)
