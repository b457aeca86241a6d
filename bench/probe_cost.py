"""What probing channels' links costs: the CPU of `smsgate serve` with 100 channels probed every 30 seconds.

    .venv/bin/python bench/probe_cost.py [--channels 100] [--seconds 20] [--rounds 3] [--interval 30]

One `smsgate serve` process per measurement, on the same config but for `health_interval`, its CPU (the whole
process tree: event loop, store writer and readers, user + system, from /proc) taken over `--seconds` once it is
up and has probed once:

- the baseline: `health_interval = 0`, an idle gateway (its send worker's, outbox's and retention's polls);
- probing: `health_interval = 1`, so each second is one probe round of every channel: a TCP connection to the
  channel's aggregator (the local stub, bench/servers/http_stub.py, in a process of its own) and one store write
  recording the round (`probed_at`; no state changes once all are up).

One round costs (probing - baseline) / rounds. At `--interval` seconds (the default `health_interval`, 30) that
is one round per interval: printed as CPU milliseconds per second, a share of one core, and next to the idle
gateway's own CPU per second. Medians of `--rounds` measurements, baseline and probing alternating.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, free_port, process_cpu, server

SMSGATE = Path(sys.executable).with_name("smsgate")
TOKEN = "bench-probe-token-0123456789"


def config(folder: Path, port: int, stub: int, channels: int, interval: float) -> Path:
    lines = [f'[gateway]\nhost = "127.0.0.1"\nport = {port}\ndatabase = "{folder / "probe.sqlite3"}"\n'
             f'api_token = "{TOKEN}"\n']
    for i in range(channels):
        lines.append(f'[channels.c{i:03d}]\nadapter = "http"\ncountry = "RW"\n'
                     f'send_url = "http://127.0.0.1:{stub}/send/{i}"\nhealth_interval = {interval}\n')
    path = folder / f"probe-{interval}.toml"
    path.write_text("\n".join(lines))
    return path


def measure(path: Path, port: int, seconds: float, probing: bool, channels: int) -> float:
    """CPU seconds per wall second of `smsgate serve` on `path`, after start-up (and its first probe round)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMSGATE_")}
    proc = subprocess.Popen([str(SMSGATE), "--config", str(path), "serve", "--log-level", "warning"], cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/api/v1/channels",
                                   headers={"Authorization": f"Bearer {TOKEN}"}, timeout=2)
                if answer.status_code == 200 and (not probing or all(
                        c["link"] == "up" for c in answer.json()["channels"])):
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("smsgate serve did not come up (or its channels not up)")
            time.sleep(0.2)
        time.sleep(2.0)  # start-up work (imports, the first round's writes) settles
        start, cpu = time.monotonic(), process_cpu([proc.pid])
        time.sleep(seconds)
        return (process_cpu([proc.pid]) - cpu) / (time.monotonic() - start)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--channels", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--interval", type=float, default=30.0, help="the health_interval to extrapolate to")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, server("http_stub") as stub:
        folder = Path(tmp)
        port = free_port()
        idle_cfg = config(folder, port, stub, args.channels, 0)
        probe_cfg = config(folder, port, stub, args.channels, 1)
        idle, probing = [], []
        for _ in range(args.rounds):
            idle.append(measure(idle_cfg, port, args.seconds, False, args.channels))
            probing.append(measure(probe_cfg, port, args.seconds, True, args.channels))
    base, busy = statistics.median(idle), statistics.median(probing)
    per_round = max(0.0, busy - base)  # CPU seconds per second at one round a second = CPU seconds per round
    at_interval = per_round / args.interval
    print(f"{args.channels} channels, `smsgate serve` measured {args.seconds:g} s x {args.rounds} rounds (medians)")
    print(f"  idle gateway (health_interval = 0):  {base * 1000:7.2f} ms CPU per second   "
          f"(rounds: {', '.join(f'{v * 1000:.2f}' for v in idle)})")
    print(f"  probed every second:                 {busy * 1000:7.2f} ms CPU per second   "
          f"(rounds: {', '.join(f'{v * 1000:.2f}' for v in probing)})")
    print(f"  one probe round of {args.channels} channels:       {per_round * 1000:7.2f} ms CPU "
          f"({per_round / args.channels * 1e6:.0f} us per channel)")
    print(f"  at health_interval = {args.interval:g}:            {at_interval * 1000:7.3f} ms CPU per second = "
          f"{at_interval * 100:.4f}% of one core; {at_interval / base if base else float('inf'):.3f}x the idle "
          "gateway's own")


if __name__ == "__main__":
    main()
