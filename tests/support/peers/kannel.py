"""A real Kannel (bearerbox + fakesmsc + smsbox): the kannel adapter's end-to-end tests and
cassettes, and bench/kannel_send.py."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .process import LOOPBACK, Child, Peer, PeerStartError, free_ports, http_get, listening_ports

__all__ = ["KANNEL_GET_URL_QUERY", "Kannel"]


#: Query string for a Kannel sms-service get-url carrying everything an MO has.
KANNEL_GET_URL_QUERY = "sender=%p&to=%P&message=%a&ts=%T&id=%I&coding=%c&charset=%C"

BEARERBOX = os.environ.get("SMSGATE_BEARERBOX", "/usr/sbin/bearerbox")
SMSBOX = os.environ.get("SMSGATE_SMSBOX", "/usr/sbin/smsbox")
FAKESMSC = os.environ.get("SMSGATE_FAKESMSC", "/usr/lib/kannel/test/fakesmsc")

_GOT_RE = re.compile(r"Got message (\d+): <(.*)>\s*$")


def _kannel_unquote(value: str) -> bytes:
    """Undo Kannel's octstr_url_encode (space -> '+', the rest %XX)."""
    return urllib.parse.unquote_to_bytes(value.replace("+", "%20"))


def _parse_fakesmsc_line(n: int, line: str) -> dict[str, Any]:
    """``<from> <to> <type> <payload>`` as printed by fakesmsc -> dict."""
    sender, receiver, mtype, rest = [*line.split(" ", 3), "", "", ""][:4]
    mt: dict[str, Any] = {"n": n, "from": sender, "to": receiver, "type": mtype, "raw": rest, "udh": None}
    if mtype == "text":
        mt["data"] = rest.encode("utf-8", "surrogateescape")
        mt["text"] = rest
        mt["coding"] = 0
    elif mtype == "ucs-2":
        data = _kannel_unquote(rest)
        mt["data"] = data
        mt["text"] = data.decode("utf-16-be", "replace")
        mt["coding"] = 2
    elif mtype == "data":
        data = _kannel_unquote(rest)
        mt["data"] = data
        mt["text"] = data.decode("latin-1")
        mt["coding"] = 1
    elif mtype == "udh":
        # "<udh-urlencoded> data <data-urlencoded>"
        udh, _, payload = rest.partition(" data ")
        data = _kannel_unquote(payload)
        mt["udh"] = _kannel_unquote(udh)
        mt["data"] = data
        mt["text"] = data.decode("latin-1")
        mt["coding"] = 1
    else:
        mt["data"] = rest.encode("utf-8", "surrogateescape")
        mt["text"] = rest
        mt["coding"] = None
    return mt


class Kannel(Peer):
    """A real Kannel 1.4.5 on loopback: bearerbox, fakesmsc (fake SMSC client) and smsbox.

    - ``sendsms_url``: ``http://127.0.0.1:N/cgi-bin/sendsms`` (sendsms-user
      ``username``/``password``, concatenation on);
    - ``admin_url``: bearerbox admin (``admin_password``);
    - ``received_mts()``: every MT that reached the fake SMSC, decoded;
    - ``send_mo(sender, to, text)``: a mobile-originated message, delivered by
      smsbox to ``get_url`` (a Kannel URL template, e.g.
      ``"http://127.0.0.1:8080/mo?" + KANNEL_GET_URL_QUERY``).

    ``dlr=True`` writes ``dlr-storage = internal`` explicitly; Kannel 1.4.5
    defaults to internal storage anyway, so ``dlr=False`` only omits the line
    (DLRs still work: the fake SMSC produces them for any ``dlr-mask``).
    No ``store-type``/``store-file`` is configured: nothing is replayed
    between runs. Each instance uses a fresh temp dir and 4 free ports.

    fakesmsc runs in interactive mode (no message arguments, no ``-m``): it
    reads MO lines from stdin, which we keep open as a pipe. A small thread
    writes an empty line every ``poke_interval`` s: fakesmsc only reads the
    socket (and prints received MTs) after select() on stdin returns, which
    otherwise happens once per second.
    """

    name = "kannel"

    def __init__(
        self,
        get_url: str | None = None,
        dlr: bool = True,
        *,
        username: str = "gate",
        password: str = "secretpw",
        admin_password: str = "adminpw",
        concatenation: bool = True,
        max_messages: int = 10,
        log_level: int = 0,
        extra_core: str = "",
        extra_smsc: str = "",
        extra_smsbox: str = "",
        extra_sendsms_user: str = "",
        extra_sms_service: str = "",
        mo_interval: float = 0.1,
        poke_interval: float = 0.05,
        startup_timeout: float = 20.0,
        workdir: str | Path | None = None,
        keep_workdir: bool = False,
    ) -> None:
        super().__init__(startup_timeout=startup_timeout, workdir=workdir, keep_workdir=keep_workdir)
        self.get_url = get_url
        self.dlr = dlr
        self.username = username
        self.password = password
        self.admin_password = admin_password
        self.concatenation = concatenation
        self.max_messages = max_messages
        self.log_level = log_level
        self._extra = dict(
            core=extra_core, smsc=extra_smsc, smsbox=extra_smsbox, user=extra_sendsms_user, service=extra_sms_service
        )
        self.mo_interval = mo_interval
        self.poke_interval = poke_interval
        self.admin_port, self.smsbox_port, self.smsc_port, self.sendsms_port = free_ports(4)
        self.smsc_id = "fake1"
        self.admin_url = f"http://{LOOPBACK}:{self.admin_port}"
        self.status_url = f"{self.admin_url}/status.txt?password={urllib.parse.quote(admin_password)}"
        self.sendsms_url = f"http://{LOOPBACK}:{self.sendsms_port}/cgi-bin/sendsms"
        self.conf_path = self.workdir / "kannel.conf"
        self.bearerbox_log = self.workdir / "bearerbox.log"
        self.smsbox_log = self.workdir / "smsbox.log"
        self.fakesmsc_out = self.workdir / "fakesmsc.out"
        self._stdin_lock = threading.Lock()
        self._poke_stop = threading.Event()
        self._poker: threading.Thread | None = None
        self._fakesmsc: Child | None = None

    # -- configuration --------------------------------------------------------
    @staticmethod
    def _q(value: str) -> str:
        if '"' in value or "\n" in value:
            raise ValueError(f"Kannel config value may not contain quotes or newlines: {value!r}")
        return f'"{value}"'

    def config_text(self) -> str:
        q = self._q
        lines = [
            "group = core",
            f"admin-port = {self.admin_port}",
            f"admin-password = {q(self.admin_password)}",
            f"admin-interface = {LOOPBACK}",
            f"smsbox-port = {self.smsbox_port}",
            f"smsbox-interface = {LOOPBACK}",
            f'box-allow-ip = "{LOOPBACK}"',
            f"log-file = {q(str(self.bearerbox_log))}",
            f"log-level = {self.log_level}",
        ]
        if self.dlr:
            lines.append("dlr-storage = internal")
        # No store-type / store-file: nothing is replayed between runs.
        lines += [self._extra["core"], ""]
        lines += [
            "group = smsc",
            "smsc = fake",
            f"smsc-id = {self.smsc_id}",
            f"host = {LOOPBACK}",
            f"port = {self.smsc_port}",
            # The fake SMSC listens on all interfaces; only let loopback in.
            f'connect-allow-ip = "{LOOPBACK}"',
            self._extra["smsc"],
            "",
            "group = smsbox",
            f"bearerbox-host = {LOOPBACK}",
            f"bearerbox-port = {self.smsbox_port}",
            f"sendsms-port = {self.sendsms_port}",
            f"sendsms-interface = {LOOPBACK}",
            f"log-file = {q(str(self.smsbox_log))}",
            f"log-level = {self.log_level}",
            self._extra["smsbox"],
            "",
            "group = sendsms-user",
            f"username = {q(self.username)}",
            f"password = {q(self.password)}",
            f"concatenation = {'true' if self.concatenation else 'false'}",
            f"max-messages = {self.max_messages}",
            self._extra["user"],
            "",
            "group = sms-service",
            "keyword = default",
            "catch-all = true",
            # Never text a reply back to the handset (avoids
            # "<Empty reply from service provider>" MTs).
            "max-messages = 0",
        ]
        if self.get_url:
            lines.append(f"get-url = {q(self.get_url)}")
        else:
            lines.append('text = "no get-url configured"')
        lines += [self._extra["service"], ""]
        return "\n".join(lines)

    # -- start ------------------------------------------------------------------
    def _log_files(self) -> Iterable[Path]:
        return [*(c.log_path for c in self.children), self.bearerbox_log, self.smsbox_log]

    def _start(self) -> None:
        for exe in (BEARERBOX, SMSBOX, FAKESMSC):
            if not os.access(exe, os.X_OK):
                raise PeerStartError(f"Kannel: {exe} not found or not executable; run .ci/install-peers")
        deadline = time.monotonic() + self.startup_timeout
        self.conf_path.write_text(self.config_text())

        # 1. bearerbox; wait (without connecting!) for the fake SMSC and smsbox ports.
        self._spawn("bearerbox", [BEARERBOX, "-v", "1", str(self.conf_path)], cwd=self.workdir)
        self._wait(
            f"bearerbox listening on smsc port {self.smsc_port} and smsbox port {self.smsbox_port}",
            lambda: {self.smsc_port, self.smsbox_port} <= listening_ports(),
            deadline,
        )

        # 2. fakesmsc in interactive mode: stdin is a pipe we keep open.
        self._fakesmsc = self._spawn(
            "fakesmsc",
            [FAKESMSC, "-H", LOOPBACK, "-r", str(self.smsc_port), "-i", str(self.mo_interval), "-v", "0"],
            cwd=self.workdir,
            stdin=subprocess.PIPE,
        )
        self._poker = threading.Thread(target=self._poke_loop, name="fakesmsc-poke", daemon=True)
        self._poker.start()

        # 3. smsbox, then wait for bearerbox to report SMSC online + smsbox connected.
        self._spawn("smsbox", [SMSBOX, "-v", "1", str(self.conf_path)], cwd=self.workdir)
        self._wait("bearerbox status: smsc online and smsbox connected", self._is_ready, deadline, interval=0.1)
        self._wait(
            f"smsbox sendsms port {self.sendsms_port} listening",
            lambda: self.sendsms_port in listening_ports(),
            deadline,
        )

    def kill_smsbox(self) -> None:
        """SIGKILL smsbox alone (by PID): its sendsms port closes; bearerbox and the fake SMSC keep running."""
        (child,) = [c for c in self.children if c.name == "smsbox"]
        child.stop(sig=signal.SIGKILL)
        self.children.remove(child)

    def start_smsbox(self) -> None:
        """Start smsbox again (after `kill_smsbox`) and wait until bearerbox sees it and its sendsms port listens."""
        self._spawn("smsbox", [SMSBOX, "-v", "1", str(self.conf_path)], cwd=self.workdir)
        deadline = time.monotonic() + self.startup_timeout
        self._wait("smsbox connected to bearerbox again", self._is_ready, deadline, interval=0.1)
        self._wait(f"smsbox sendsms port {self.sendsms_port} listening",
                   lambda: self.sendsms_port in listening_ports(), deadline)

    def status(self) -> str:
        """bearerbox's /status.txt."""
        code, body = http_get(self.status_url, 2.0)
        if code != 200:
            raise RuntimeError(f"Kannel admin status returned {code}: {body[:200]!r}")
        return body.decode("utf-8", "replace")

    def _is_ready(self) -> bool:
        text = self.status()
        smsc_online = re.search(rf"^\s*{re.escape(self.smsc_id)}\[.*\(online \d", text, re.M) is not None
        box_connected = re.search(r"^\s*smsbox:.*\(on-line ", text, re.M) is not None
        return smsc_online and box_connected

    # -- fakesmsc stdin ------------------------------------------------------------
    def _write_stdin(self, data: bytes) -> None:
        child = self._fakesmsc
        if child is None or child.proc.stdin is None:
            raise RuntimeError("fakesmsc is not running")
        with self._stdin_lock:
            child.proc.stdin.write(data)
            child.proc.stdin.flush()

    def _poke_loop(self) -> None:
        while not self._poke_stop.wait(self.poke_interval):
            try:
                self._write_stdin(b"\n")  # an empty line: fakesmsc just reads the socket
            except (OSError, ValueError, RuntimeError):
                return

    def send_mo(self, sender: str, to: str, text: str | None = None, *, data: bytes | None = None) -> None:
        """Make the fake SMSC deliver a mobile-originated message.

        ``text``: sent as fakesmsc type ``text`` (coding 0; non-ASCII travels as
        UTF-8 bytes and reaches the get-url with ``charset=UTF-8``).
        ``data``: sent as type ``data`` (8-bit, url-encoded on the wire).
        Kannel 1.4.5's fake SMSC has no UCS-2 MO type. fakesmsc reads stdin
        in 256-byte lines, so one line must stay below 255 bytes.
        """
        if (text is None) == (data is None):
            raise ValueError("give exactly one of text= or data=")
        for field in (sender, to):
            if not field or any(c.isspace() for c in field):
                raise ValueError(f"sender/receiver must be non-empty without spaces: {field!r}")
        if text is not None:
            if "\n" in text or "\r" in text:
                raise ValueError("fakesmsc text MOs cannot contain newlines; use data=")
            line = f"{sender} {to} text {text}\n".encode()
        else:
            line = f"{sender} {to} data {urllib.parse.quote_from_bytes(data or b'', safe='')}\n".encode()
        if len(line) > 254:
            raise ValueError(f"fakesmsc reads at most 255 bytes per line; this MO line has {len(line)}")
        self._write_stdin(line)

    # -- MTs seen by the fake SMSC ---------------------------------------------------
    def received_mts(self) -> list[dict[str, Any]]:
        """Every MT fakesmsc printed so far, in order, as dicts:
        ``n, from, to, type ('text'|'ucs-2'|'data'|'udh'), text (decoded str),
        data (bytes), udh (bytes|None), coding, raw``."""
        try:
            content = self.fakesmsc_out.read_bytes().decode("utf-8", "surrogateescape")
        except FileNotFoundError:
            return []
        mts = []
        for line in content.splitlines():
            m = _GOT_RE.search(line)
            if m:
                mts.append(_parse_fakesmsc_line(int(m.group(1)), m.group(2)))
        return mts

    def wait_for_mt(
        self, predicate: Callable[[dict[str, Any]], bool] | None = None, timeout: float = 10.0
    ) -> dict[str, Any]:
        """First received MT matching ``predicate`` (default: any); TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            for mt in self.received_mts():
                if predicate is None or predicate(mt):
                    return mt
            if time.monotonic() > deadline:
                seen = self.received_mts()
                raise TimeoutError(f"no matching MT within {timeout}s; fakesmsc saw {len(seen)}: {seen[-5:]}")
            time.sleep(0.02)

    # -- stop -------------------------------------------------------------------------
    def stop(self, cleanup: bool | None = None) -> None:
        """smsbox, then fakesmsc, then bearerbox (reverse start order), each by PID."""
        self._poke_stop.set()
        if self._poker is not None:
            self._poker.join(2)
        super().stop(cleanup)
