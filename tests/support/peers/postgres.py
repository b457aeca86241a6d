"""A throwaway PostgreSQL cluster: the suite's `postgres` fixture (the root conftest.py) and the benches."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from .process import LOOPBACK, Child, Peer, PeerStartError, free_port, tail

__all__ = ["PG_BIN", "Postgres"]


PG_BIN = Path(os.environ.get("SMSGATE_PG_BIN", "/usr/lib/postgresql/15/bin"))


class Postgres(Peer):
    """A throwaway PostgreSQL 15 cluster on 127.0.0.1: `initdb`, then `postgres` itself as our child.

    `initdb` and `postgres` refuse to run as root, so as root both run as the `postgres` user (the work
    directory is handed to it). The server runs in the foreground as our child rather than through
    `pg_ctl start`, which detaches it: so the PID we stop (SIGINT, PostgreSQL's fast shutdown) is the
    postmaster's, and it is reaped. Ready when `pg_isready` says so. User `smsgate`, trust authentication.

    `durable=False` (the default, for tests) turns fsync off: a crash of the machine may lose the cluster,
    which a test throws away anyway. Benchmarks pass `durable=True` to pay for every commit as production
    does. `stop(keep=True)` then `start()` restarts the same cluster on the same port (a database outage).
    """

    name = "postgres"

    def __init__(
        self,
        port: int | None = None,
        *,
        durable: bool = False,
        settings: dict[str, str] | None = None,
        bin_dir: str | Path | None = None,
        startup_timeout: float = 60.0,
        workdir: str | Path | None = None,
        keep_workdir: bool = False,
    ) -> None:
        super().__init__(startup_timeout=startup_timeout, workdir=workdir, keep_workdir=keep_workdir)
        self.bin_dir = Path(bin_dir) if bin_dir else PG_BIN
        self.port = port or free_port()
        self.data_dir = self.workdir / "data"
        self.user = "smsgate"
        self.settings = {"listen_addresses": LOOPBACK, "max_connections": "300", "log_min_messages": "warning",
                         **({} if durable else {"fsync": "off", "synchronous_commit": "off",
                                                  "full_page_writes": "off"}),
                         **(settings or {})}
        self._server: Child | None = None
        self._initialised = False
        self._databases = 0

    def url(self, database: str = "postgres") -> str:
        """A libpq URL of `database` on this cluster (no password: trust authentication)."""
        return f"postgresql://{self.user}@{LOOPBACK}:{self.port}/{database}"

    def _as_postgres(self) -> dict[str, Any]:
        """Popen arguments running a command as the `postgres` user when we are root."""
        if os.geteuid() != 0:
            return {}
        import pwd

        entry = pwd.getpwnam("postgres")
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}

    def _start(self) -> None:
        for exe in ("initdb", "postgres", "pg_isready", "psql"):
            if not os.access(self.bin_dir / exe, os.X_OK):
                raise PeerStartError(f"Postgres: {self.bin_dir / exe} not found; run .ci/install-peers")
        deadline = time.monotonic() + self.startup_timeout
        ids = self._as_postgres()
        if ids:
            os.chown(self.workdir, ids["user"], ids["group"])
        if not self._initialised:
            log = self.workdir / "initdb.out"
            with open(log, "wb") as out:
                code = subprocess.run(
                    [str(self.bin_dir / "initdb"), "-D", str(self.data_dir), "-A", "trust", "-U", self.user,
                     "--no-sync", "-E", "UTF8", "--locale=C.UTF-8"],
                    stdout=out, stderr=subprocess.STDOUT, cwd=self.workdir, timeout=self.startup_timeout,
                    **ids).returncode
            if code != 0:
                raise PeerStartError(f"Postgres: initdb exited with {code}\nworkdir: {self.workdir}\n{tail(log)}")
            self._initialised = True
        argv = [str(self.bin_dir / "postgres"), "-D", str(self.data_dir), "-p", str(self.port),
                "-k", str(self.workdir)]
        for key, value in self.settings.items():
            argv += ["-c", f"{key}={value}"]
        log_path = self.workdir / "postgres.out"
        with open(log_path, "ab") as out:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    cwd=self.workdir, **ids)
        self._server = Child.adopt("postgres", proc, log_path)
        self.children.append(self._server)
        self._wait("pg_isready", self._ready, deadline, interval=0.05)

    def _ready(self) -> bool:
        return subprocess.run([str(self.bin_dir / "pg_isready"), "-q", "-h", LOOPBACK, "-p", str(self.port),
                               "-U", self.user, "-d", "postgres"], timeout=10).returncode == 0

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run `sql` with psql on `database`; its output (raises with psql's error on failure)."""
        done = subprocess.run([str(self.bin_dir / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                               "-h", LOOPBACK, "-p", str(self.port), "-U", self.user, "-d", database, "-c", sql],
                              capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"psql failed: {done.stderr.strip()}")
        return done.stdout

    def create_database(self, name: str | None = None) -> str:
        """A new empty database (`name`, else the next of db1, db2, ...); its URL."""
        if name is None:
            self._databases += 1
            name = f"db{self._databases}"
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self, cleanup: bool | None = None, *, keep: bool = False) -> None:
        """Stop the server by PID (SIGINT: fast shutdown); with `keep`, keep the cluster to `start()` again."""
        if self._server is not None:
            self._server.stop(sig=signal.SIGINT)
            self.children.remove(self._server)
            self._server = None
        if keep:
            self._started = False
            return
        super().stop(cleanup)
