"""`smsgate serve` in a subprocess, started on a config file and stopped (or killed) by PID, for the tests."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

__all__ = ["SMSGATE", "Served"]

SMSGATE = Path(sys.executable).with_name("smsgate")


class Served:
    """`smsgate serve` on a config file, started and killed by PID."""

    def __init__(self, config: Path, port: int, log: Path, args: tuple[str, ...] = ()) -> None:
        self.config, self.port, self.log, self.args = config, port, log, args
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"http://127.0.0.1:{port}"

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SMSGATE_")}
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen([str(SMSGATE), "--config", str(self.config), "serve", "--log-level",
                                          "warning", *self.args], stdout=log, stderr=log, env=env,
                                         cwd=self.config.parent)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"smsgate serve exited with {self.proc.returncode}:\n{self.log.read_text()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"smsgate serve did not answer /healthz:\n{self.log.read_text()}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


