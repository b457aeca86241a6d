"""Fuzz every inbound route of every installed adapter, the API, the bridge and the Twilio front: 10,000 examples a
route.

    .venv/bin/python fuzz/run.py [--examples N] [--jobs J] [--only LABEL] [--seed S] [--json PATH]

Runs tests/support/hostile.py's request generator and checks (the same ones tests/system/test_hostile_input.py runs
150 times a route) through the real ASGI app of a fresh gateway per route, in J worker processes. Nothing is raised on a
failed example: every answer is counted by status class, and every problem is counted by kind with its first
request, so one bug does not hide the rest of the run. Problems matching a known bug (pinned by an xfail test)
are reported apart from new ones. Exit status 1 when a new problem was found.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the repository root, for tests.support
# beside the adapters' inbound routes: the outbound API and the RapidPro bridge, with hostile JSON bodies, and the
# Twilio front (Twilio's Messages API) with hostile credentials, paths, forms and queries
PLATFORM_TARGETS = {"api": "messages", "bridge": "send", "twilio-front": "messages"}


def _fuzz_route(task: tuple[str, str, int, int]) -> dict[str, Any]:
    """Run `examples` generated requests against one route; return the counts and problems."""
    label, action, examples, seed = task
    logging.disable(logging.WARNING)  # python-multipart and the adapters warn about what we send on purpose
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed
    from smsgate.host import config_from_dict, installed_adapters
    from smsgate.testing import Harness

    from tests.support import hostile

    folder = Path(tempfile.mkdtemp(prefix=f"smsgate-fuzz-{label}-{action}-"))

    def make(channels: dict[str, Any], *, gateway: dict[str, Any], bridges: dict[str, Any] | None = None,
             twilio_api: dict[str, Any] | None = None, **kwargs: Any) -> Harness:
        tables = {"gateway": {"database": str(folder / "db.sqlite3"), **gateway}, "channels": channels,
                  "bridges": bridges or {}, **({"twilio_api": twilio_api} if twilio_api else {})}
        return Harness(config_from_dict(tables, installed_adapters()), **kwargs)

    platform = label in PLATFORM_TARGETS
    if label == "twilio-front":
        harness = hostile.twilio_front_harness(make)
        strategy = hostile.twilio_front_requests()

        def check(spec: Any) -> Any:
            return hostile.check_twilio(harness, spec)
    elif platform:  # the API or the bridge: hostile JSON bodies, checked by check_platform
        harness = hostile.api_harness(make)
        strategy = hostile.api_requests() if label == "api" else hostile.bridge_requests()

        def check(spec: Any) -> Any:
            return hostile.check_platform(harness, spec)
    else:
        profile = next(p for p in hostile.profiles() if p.label == label)
        harness = hostile.setup_harness(make, profile)
        strategy = hostile.requests(profile, action)

        def check(spec: Any) -> Any:
            return hostile.check(harness, profile, action, spec)
    classes: Counter[str] = Counter()
    codes: Counter[int] = Counter()
    problems: dict[str, dict[str, Any]] = {}

    @hypothesis_seed(seed)
    @settings(max_examples=examples, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(spec=strategy)
    def run(spec: Any) -> None:
        outcome = check(spec)
        classes[outcome.status_class] += 1
        codes[outcome.status] += 1
        if outcome.problem:
            key = outcome.known or outcome.problem.split(":")[0][:120]
            entry = problems.setdefault(key, {"known": outcome.known, "count": 0, "problem": outcome.problem,
                                              "request": spec.short()[:600]})
            entry["count"] += 1

    valid = (hostile.VALID_FRONT if label == "twilio-front" else None) if platform else \
        hostile.valid_example(profile, action)
    if valid is not None:
        from hypothesis import example

        run = example(spec=valid)(run)
    started = time.perf_counter()
    run()
    elapsed = time.perf_counter() - started
    harness.close()
    shutil.rmtree(folder, ignore_errors=True)
    return {"route": f"{label}/{action}", "examples": sum(classes.values()), "seconds": round(elapsed, 1),
            "classes": dict(classes), "codes": {str(k): v for k, v in sorted(codes.items())},
            "problems": list(problems.values())}


def main() -> int:
    """Parse the options, fuzz every route, print the table, exit 1 on a new problem."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=10_000, help="examples per route (default 10000)")
    parser.add_argument("--jobs", type=int, default=max(1, min(multiprocessing.cpu_count(), 4)),
                        help="worker processes (default: CPUs, at most 4)")
    parser.add_argument("--only", default="", help="only routes whose profile/action contains this")
    parser.add_argument("--seed", type=int, default=None, help="hypothesis seed (default: random, printed)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results as JSON here")
    args = parser.parse_args()

    from tests.support import hostile

    seed = args.seed if args.seed is not None else random.randrange(2**32)
    routes = [(p.label, action) for p in hostile.profiles() for action in p.routes()]
    routes += list(PLATFORM_TARGETS.items())
    routes = [(label, action) for label, action in routes if args.only in f"{label}/{action}"]
    # one seed per route (from the run's seed), so routes with the same shape do not see the same requests
    tasks = [(label, action, args.examples, (seed + i) % 2**32) for i, (label, action) in enumerate(routes)]
    print(f"fuzzing {len(tasks)} routes x {args.examples} examples, {args.jobs} processes, seed {seed}", flush=True)
    started = time.perf_counter()
    results = []
    with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
        for result in pool.imap_unordered(_fuzz_route, tasks):
            results.append(result)
            print(f"  {result['route']:<28} {result['examples']:>6} examples in {result['seconds']:>6.1f}s  "
                  f"{result['classes']}", flush=True)
    wall = time.perf_counter() - started
    results.sort(key=lambda r: r["route"])

    print("\n| route | examples | 2xx | 4xx | 5xx | raised | status codes | new problems | known bugs |")
    print("|---|---:|---:|---:|---:|---:|---|---:|---:|")
    new_total = 0
    for r in results:
        c = r["classes"]
        new = sum(p["count"] for p in r["problems"] if not p["known"])
        known = sum(p["count"] for p in r["problems"] if p["known"])
        new_total += new
        codes = ", ".join(f"{k}: {v}" for k, v in r["codes"].items())
        print(f"| {r['route']} | {r['examples']} | {c.get('2xx', 0)} | {c.get('4xx', 0)} | {c.get('5xx', 0)} | "
              f"{c.get('raised', 0)} | {codes} | {new} | {known} |")
    total = sum(r["examples"] for r in results)
    print(f"\n{total} requests in {wall:.0f}s wall ({args.jobs} processes); seed {seed}")
    for r in results:
        for p in r["problems"]:
            tag = f"known bug {p['known']}" if p["known"] else "NEW PROBLEM"
            print(f"\n[{tag}] {r['route']}: {p['count']} example(s)\n  {p['problem']}\n  first request: {p['request']}")
    if args.json:
        args.json.write_text(json.dumps({"seed": seed, "examples_per_route": args.examples, "jobs": args.jobs,
                                         "wall_seconds": round(wall, 1), "routes": results}, indent=2) + "\n")
    return 1 if new_total else 0


if __name__ == "__main__":
    sys.exit(main())
