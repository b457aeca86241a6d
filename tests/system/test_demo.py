"""README's main command, `scripts/demo`, shows the whole round trip: run its driver as the script does."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_demo_shows_the_round_trip_in_80_columns(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMSGATE_")}
    env["SMSGATE_DEMO_DIR"] = str(tmp_path)
    done = subprocess.run([sys.executable, "examples/demo.py"], cwd=ROOT, capture_output=True, text=True,
                          env=env, timeout=120)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    sent = re.search(r'"id": "([0-9a-f-]{36})"', out).group(1)  # the aggregator saw the message's id on the wire
    assert "POST /send HTTP/1.1" in out and '"text": "Hello from smsgate"' in out
    assert f"GET /c/demo/delivered?id={sent} -> 200" in out
    assert "POST /c/demo/receive -> 200 Message Accepted" in out
    listed = out.split("$ smsgate messages\n")[1].split("\n\n")[0].splitlines()
    assert re.fullmatch(r"[0-9a-f-]{36}  \S+ \S+  in   received   demo", listed[0])
    assert listed[2].startswith(f"{sent}  ") and listed[2].endswith("  out  delivered  demo")
    history = [line.split()[2] for line in out.split(f"$ smsgate show {sent}\n")[1].splitlines()
               if re.match(r"\d{4}-\d\d-\d\d ", line)]
    assert history == ["queued", "wired", "sent", "delivered"]
    assert 'smsgate_messages_total{channel="demo",direction="in",status="received"} 1.0' in out
    assert re.search(r"http://127\.0\.0\.1:\d+/ui  \(sign in with the api_token\)\n    api_token: \S+\n", out)
    # 80 columns, ids whole (the database line names this test's temporary folder)
    assert [line for line in out.splitlines() if len(line) > 80 and str(tmp_path) not in line] == []
    assert (tmp_path / "demo.sqlite3").exists() and (tmp_path / "serve.log").exists()
