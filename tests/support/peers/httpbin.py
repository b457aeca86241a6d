"""httpbin (the Flask app) as a peer: what the http adapter's live tests and cassettes talk to."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from .process import LOOPBACK, Peer, free_port, http_get

__all__ = ["Httpbin"]


class Httpbin(Peer):
    """httpbin (Flask dev server, threaded) as a subprocess on 127.0.0.1.

    ``python -m httpbin.core --host 127.0.0.1 --port N``; ready when GET /get
    answers 200.
    """

    name = "httpbin"

    def __init__(
        self,
        port: int | None = None,
        *,
        python: str = sys.executable,
        startup_timeout: float = 20.0,
        workdir: str | Path | None = None,
        keep_workdir: bool = False,
    ) -> None:
        super().__init__(startup_timeout=startup_timeout, workdir=workdir, keep_workdir=keep_workdir)
        self.python = python
        self.port = port or free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"

    def _start(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONWARNINGS="ignore")
        self._spawn(
            "httpbin",
            [self.python, "-m", "httpbin.core", "--host", LOOPBACK, "--port", str(self.port)],
            cwd=self.workdir,
            env=env,
        )
        self._wait("GET /get == 200", lambda: http_get(self.url + "/get", 1.0)[0] == 200, deadline)
