"""CLI start-up benchmark: median wall time of `smsgate adapters` vs `python -c "import smsgate"`.

    .venv/bin/python bench/cli.py [--runs 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def wall(cmd: list[str]) -> float:
    """Seconds one run of `cmd` takes (it must succeed)."""
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    base_cmd = [sys.executable, "-c", "import smsgate"]
    cli_cmd = [str(BIN / "smsgate"), "adapters"]
    wall(base_cmd), wall(cli_cmd)  # warm the OS file cache
    base, cli = [], []
    for _ in range(args.runs):  # alternate so drift on a shared machine hits both equally
        base.append(wall(base_cmd))
        cli.append(wall(cli_cmd))
    b, c = statistics.median(base), statistics.median(cli)
    print(f"cli: median of {args.runs} runs")
    print(f"  python -c 'import smsgate'  {b * 1000:7.1f} ms")
    print(f"  smsgate adapters            {c * 1000:7.1f} ms")
    print(f"  ratio = {c / b:.2f}  (the cost of plugin discovery, adapter imports and the CLI over the core import)")


if __name__ == "__main__":
    main()
