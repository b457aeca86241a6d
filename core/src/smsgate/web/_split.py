"""`smsgate serve --split`: the intake and the sending in two processes on one database, so both cores work.

One `smsgate serve` is one Python process: the API, the callbacks, the send worker and the SQLite writer share
one interpreter lock, and on a machine with two cores it tops out near one. With `--split` the process that
was started serves HTTP (the API, channel callbacks, bridges, the console, /metrics, /healthz) and stores
what it receives, and a child forked from it before anything is opened does the sending: the adapters'
long-lived connections (SMPP binds, and the receipts that arrive on them), the send worker, the outbox
dispatcher and retention. Both open the same database; SQLite lets one of them write at a time (WAL: a read
never waits), and each groups its writes into commits as before. Nothing about durability changes: each
process answers only after its own commit.

What one process learned about rows it wrote, the other hears through a pipe from the intake to the sender:
one byte per write of new queued messages (`q`) or outbox rows (`o`), so the sender's worker starts at once
instead of at its next poll. The child dies with the parent (`PR_SET_PDEATHSIG`), and the parent stops when
the child ends, so a supervisor sees one service. /metrics and /healthz are the intake's: they count the
callbacks and API calls, not the sends, and do not see the sender's binds (see docs/scaling.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import socket
import threading
from typing import Any

from ..config import Config
from ..gateway import Gateway, open_gateway, open_outbox, open_prober, open_retention, open_worker
from ._server import serve, share_the_interpreter

__all__ = ["serve_split"]

log = logging.getLogger("smsgate.server")

_PR_SET_PDEATHSIG = 1
_TOPICS = {b"q"[0]: "queued", b"o"[0]: "outbox"}


def serve_split(config: Config, *, host: str | None = None, port: int | None = None, log_level: str = "info",
                sock: socket.socket | None = None, on_intake: Any = None, own_logging: bool = False) -> None:
    """Fork the sender, then serve HTTP here (on `sock` when given, from `listen`) until interrupted;
    `on_intake(gateway)` may return the ASGI app to serve (default: `create_app` without background tasks).
    With `own_logging` the caller configured logging (`configure_logging`), as for `serve`."""
    from ._app import create_app

    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    child = os.fork()
    if child == 0:  # the sender
        os.close(write_end)
        if sock is not None:  # the intake's: a sender holding it would keep the port taken after the intake
            sock.close()
        code = 0
        try:
            _die_with_parent()
            share_the_interpreter()  # its writer thread and its event loop share one lock too
            asyncio.run(_sender(config, read_end))
        except BaseException:
            log.exception("the sending process failed")
            code = 1
        finally:
            os._exit(code)
    os.close(read_end)
    stopping = threading.Event()
    threading.Thread(target=_stop_when_child_ends, args=(child, stopping), name="smsgate-sender-watch",
                     daemon=True).start()
    gateway = open_gateway(config)
    gateway.store.subscribe(lambda topic: _nudge(write_end, topic))
    app = on_intake(gateway) if on_intake is not None else create_app(gateway, own_gateway=True, background=False)
    try:
        serve(app, config.gateway, host=host, port=port, log_level=log_level, sock=sock, own_logging=own_logging)
    finally:
        stopping.set()
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGTERM)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(child, 0)
        os.close(write_end)


def _nudge(fd: int, topic: str) -> None:
    """Tell the sender that rows of `topic` were written (called on the intake's writer thread)."""
    with contextlib.suppress(BlockingIOError, BrokenPipeError):  # a full pipe wakes the sender already
        os.write(fd, b"q" if topic == "queued" else b"o")


def _die_with_parent() -> None:
    """Ask Linux to send SIGTERM to this process when its parent dies (a SIGKILL of `smsgate serve`)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() == 1:  # the parent died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _stop_when_child_ends(child: int, stopping: threading.Event) -> None:
    """The sender ended (a crash, a kill): stop serving too, so the service is seen as down and restarted."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(child, 0)
    if not stopping.is_set():
        log.error("the sending process ended; stopping")
        os.kill(os.getpid(), signal.SIGTERM)


async def _sender(config: Config, read_end: int) -> None:
    """The sending side: adapters' connections, link probes, the worker, the outbox and retention, until
    SIGTERM/SIGINT."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    gateway: Gateway = open_gateway(config)
    await gateway.start_adapters()
    worker, outbox, retention = open_worker(gateway), open_outbox(gateway), open_retention(gateway)
    prober = open_prober(gateway)

    def readable() -> None:
        try:
            data = os.read(read_end, 4096)
        except BlockingIOError:
            return
        if not data:  # the intake closed its end: it is stopping
            stop.set()
            return
        topics = {_TOPICS.get(byte) for byte in data}
        if "queued" in topics:
            worker.wake()
        if "outbox" in topics:
            outbox.wake()

    os.set_blocking(read_end, False)
    loop.add_reader(read_end, readable)
    prober.start()  # as under plain serve: links known before the worker's first round, or soon after
    worker.start()
    outbox.start()
    retention.start()
    try:
        await stop.wait()
    finally:
        loop.remove_reader(read_end)
        await worker.stop()
        await prober.stop()
        await outbox.stop()
        await retention.stop()
        await gateway.stop_adapters()
        await gateway.close()
