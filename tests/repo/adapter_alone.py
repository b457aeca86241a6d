"""One catalogue adapter alone beside core and the CLI in a venv: `smsgate adapters` lists only it, and a
`smsgate send` through it reaches the adapter's local stand-in with the request its README documents.

`test_packaging.py` calls `check_alone` for each adapter here in the venv it builds from the wheels, installing
one adapter's wheel at a time (its dependencies come with it) and uninstalling it afterwards.
"""

from __future__ import annotations

import base64
import json
import os
import runpy
import subprocess
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.standin_fake import StandIn

__all__ = ["ALONE", "check_alone"]

ROOT = Path(__file__).resolve().parents[2]
MESSAGE_ID = "3f2c1b0a-9e8d-4c7b-a6f5-e4d3c2b1a090"
TEXT = "Hello ☺"
PUBLIC_URL = "https://gateway.example"


@dataclass
class Alone:
    """One adapter's CLI send: its channel keys (credentials from its stand-in), and the request it must make."""

    channel: dict[str, str]
    to: str
    expected: Callable[[dict[str, Any]], dict[str, Any]]  # the stand-in's constants → method, path, query, ...


def _fakes(name: str) -> dict[str, Any]:
    """The constants of an adapter's stand-in script (its fake credentials), without running its server."""
    return runpy.run_path(str(ROOT / "adapters" / name / "tests" / f"fake_{name}.py"))


ALONE: dict[str, Alone] = {
    "plivo": Alone(
        {"address": "+2020", "country": "MY", "auth_id": "{AUTH_ID}", "auth_token": "{AUTH_TOKEN}", "app_id": "app-1"},
        "+60124361111",
        lambda f: {"method": "POST", "path": f"/v1/Account/{f['AUTH_ID']}/Message/", "query": [],
                   "headers": {"authorization": "Basic " + base64.b64encode(
                       f"{f['AUTH_ID']}:{f['AUTH_TOKEN']}".encode()).decode(), "content-type": "application/json",
                               "accept": "application/json"},
                   "json": {"src": "2020", "dst": "60124361111", "text": TEXT,
                            "url": f"{PUBLIC_URL}/c/alone/status?id={MESSAGE_ID}", "method": "POST"}}),
    "clickatell": Alone(
        {"address": "{FROM}", "country": "ZA", "api_key": "{API_KEY}"},
        "+27999000001",
        lambda f: {"method": "GET", "path": "/messages/http/send",
                   "query": [["apiKey", f["API_KEY"]], ["content", TEXT], ["from", f["FROM"]], ["to", "27999000001"]],
                   "headers": {"accept": "application/json"}, "json": None}),
    "messagebird": Alone(
        {"address": "31970000000", "country": "NL", "auth_token": "{ACCESS_KEY}"},
        "+31600000001",
        lambda f: {"method": "POST", "path": "/messages", "query": [],
                   "headers": {"authorization": f"AccessKey {f['ACCESS_KEY']}", "content-type": "application/json"},
                   "json": {"recipients": ["+31600000001"], "reference": MESSAGE_ID, "originator": "31970000000",
                            "body": TEXT, "datacoding": "unicode", "reportUrl": f"{PUBLIC_URL}/c/alone/status"}}),
}


def _run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMSGATE_")}
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=300, cwd=cwd, env=env)


def _toml(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string


def check_alone(env_dir: Path, wheels: Path, name: str, folder: Path) -> None:
    """Install `name`'s wheel alone into the venv `env_dir`, check the listing and a CLI send, then uninstall it."""
    python, smsgate = env_dir / "bin" / "python", env_dir / "bin" / "smsgate"
    wheel = next(w for w in wheels.glob("*.whl") if w.name.split("-")[0] == f"smsgate_{name}")
    done = _run(python, "-m", "pip", "--disable-pip-version-check", "install", "-q", wheel, cwd=folder)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    listed = _run(smsgate, "adapters", "--json", cwd=folder)
    assert listed.returncode == 0, listed.stderr
    data = json.loads(listed.stdout)
    assert [(a["name"], a["distribution"]) for a in data["adapters"]] == [(name, f"smsgate-{name}")], listed.stdout
    assert data["failed"] == []

    fakes, case = _fakes(name), ALONE[name]
    keys = {k: v.format(**fakes) for k, v in case.channel.items()}
    work = folder / name
    work.mkdir()
    with StandIn(ROOT / "adapters" / name / "tests" / f"fake_{name}.py") as standin:
        lines = ["[gateway]", f"database = {_toml(str(work / 'smsgate.sqlite3'))}", f"public_url = {_toml(PUBLIC_URL)}",
                 "", "[channels.alone]", f"adapter = {_toml(name)}", f"base_url = {_toml(standin.url)}",
                 *(f"{k} = {_toml(v)}" for k, v in keys.items())]
        (work / "smsgate.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
        sent = _run(smsgate, "send", "--channel", "alone", "--to", case.to, "--id", MESSAGE_ID, TEXT, cwd=work)
        assert sent.returncode == 0, f"{name}: {sent.stdout}{sent.stderr}"
        assert "wired" in sent.stdout, sent.stdout
        requests = standin.requests()
    assert len(requests) == 1, requests
    got, want = requests[0], case.expected(fakes)
    assert (got["method"], got["path"]) == (want["method"], want["path"]), got
    assert [list(p) for p in urllib.parse.parse_qsl(got["query"], keep_blank_values=True)] == want["query"], got
    for header, value in want["headers"].items():
        assert got["headers"].get(header) == value, (header, got["headers"])
    if want["json"] is not None:
        assert json.loads(got["body"]) == want["json"], got["body"]
    gone = _run(python, "-m", "pip", "--disable-pip-version-check", "uninstall", "-q", "-y", f"smsgate-{name}",
                cwd=folder)
    assert gone.returncode == 0, gone.stderr
