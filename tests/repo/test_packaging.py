"""Every distribution builds a wheel, and a fresh venv with core + cli + one adapter lists exactly that adapter;
for each catalogue adapter, `smsgate send` from such a venv reaches its stand-in with the documented request."""

import base64
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import urllib.parse
import venv
import zipfile
from pathlib import Path

import pytest

from tests.support.standin import StandIn

ROOT = Path(__file__).resolve().parents[2]
ADAPTERS = sorted(p.parent.name for p in ROOT.glob("adapters/*/pyproject.toml"))


def pip(python, *args, cwd=None):
    out = subprocess.run([str(python), "-m", "pip", "--disable-pip-version-check", *args], capture_output=True,
                         text=True, cwd=cwd, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def wheels(tmp_path_factory):
    """A wheel of every distribution of the repository, built once for this module."""
    folder = tmp_path_factory.mktemp("wheels")
    dists = ["core", "cli", *(f"adapters/{name}" for name in ADAPTERS)]
    # built from copies: setuptools leaves build/ folders beside the sources it builds
    sources = folder / "sources"
    for d in dists:
        shutil.copytree(ROOT / d, sources / d, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    pip(sys.executable, "wheel", "--no-deps", "-q", "-w", str(folder), *(str(sources / d) for d in dists))
    return folder


@pytest.fixture(scope="module")
def core_and_cli(wheels, tmp_path_factory):
    """A fresh venv holding only core and the CLI (and their dependencies); each test adds one adapter and
    removes it again."""
    env_dir = tmp_path_factory.mktemp("venv") / "venv"
    venv.create(env_dir, with_pip=True)
    picks = [w for w in wheels.glob("*.whl") if w.name.split("-")[0] in ("smsgate", "smsgate_cli")]
    pip(env_dir / "bin" / "python", "install", "-q", *map(str, picks))
    return env_dir


ENV = {k: v for k, v in os.environ.items() if not k.startswith("SMSGATE_")}


def listed_alone(env_dir, name):
    """`smsgate adapters --json` in `env_dir` lists `name` and nothing else, and no plugin failed."""
    out = subprocess.run([str(env_dir / "bin" / "smsgate"), "adapters", "--json"], capture_output=True, text=True,
                         timeout=60, env=ENV)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert [(a["name"], a["distribution"]) for a in data["adapters"]] == [(name, f"smsgate-{name}")], out.stdout
    assert data["failed"] == []


def test_wheels_build_and_one_adapter_install_lists_only_it(tmp_path, wheels, core_and_cli):
    built = sorted(w.name.split("-")[0] for w in wheels.glob("*.whl"))
    assert built == sorted(["smsgate", "smsgate_cli", *(f"smsgate_{n}" for n in ADAPTERS)])
    assert ADAPTERS, "no adapter distributions found"
    core_wheel = next(wheels.glob("smsgate-*.whl"))
    with zipfile.ZipFile(core_wheel) as wheel:  # the console's templates and static files are package data
        names = set(wheel.namelist())
    console = ROOT / "core" / "src" / "smsgate" / "web" / "console"
    shipped = {f"smsgate/web/console/{p.relative_to(console)}" for p in console.glob("*/*") if p.suffix != ".pyc"}
    assert shipped and shipped <= names, sorted(shipped - names)
    chosen = "kannel" if "kannel" in ADAPTERS else ADAPTERS[0]
    python = core_and_cli / "bin" / "python"
    pip(python, "install", "-q", str(next(wheels.glob(f"smsgate_{chosen}-*.whl"))))
    try:
        listed_alone(core_and_cli, chosen)
    finally:
        pip(python, "uninstall", "-q", "-y", f"smsgate-{chosen}")
    # the scaffold's templates are package data of the CLI's wheel: `adapter new` works from an installed CLI
    made = subprocess.run([str(core_and_cli / "bin" / "smsgate"), "adapter", "new", "probe", "--dir",
                           str(tmp_path / "new")], capture_output=True, text=True, timeout=60, cwd=tmp_path, env=ENV)
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "new" / "probe" / "src" / "smsgate_probe" / "_adapter.py").is_file()


# -- each catalogue adapter alone, sending to its stand-in ----------------------------------------------

MESSAGE_ID = "5b1a7a52-5a4f-4b8e-9c55-0e6f0d1b8a21"
CATALOGUE = ["vonage", "infobip", "africastalking", "plivo", "clickatell", "messagebird", "bandwidth", "zenvia",
             "jasmin"]
TEXT = "Hello from a wheel"
CALLBACK = "https://gw.example/c/c1"


def standin_script(name):
    """The adapter's stand-in script (tests/support/standin.py runs it)."""
    return ROOT / "adapters" / name / "tests" / f"{name}_standin.py"


def standin_module(name):
    """The adapter's stand-in script as a module: its credentials and numbers (its server is not started)."""
    spec = importlib.util.spec_from_file_location(f"{name}_standin_for_packaging", standin_script(name))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def documented_request(name, s, url):
    """What a CLI send through `name` takes and must make, as its README documents: channel keys (`address` 2020
    and `base_url` the stand-in unless given), the recipient and text, and what the stand-in must receive
    (method, path, and any of query, form, json, headers)."""
    if name == "vonage":
        return {"keys": {"api_key": s.KEY, "api_secret": s.SECRET}, "to": "+447700900100",
                "method": "POST", "path": "/sms/json", "form": {
                    "api_key": s.KEY, "api_secret": s.SECRET, "from": "2020", "to": "447700900100",
                    "text": TEXT, "type": "text", "status-report-req": "1", "callback": f"{CALLBACK}/status"}}
    if name == "infobip":
        return {"keys": {"api_key": s.API_KEY}, "to": "+385900000100",
                "method": "POST", "path": "/sms/3/messages", "headers": {"authorization": f"App {s.API_KEY}"},
                "json": {"messages": [{"sender": "2020", "destinations": [{"to": "385900000100",
                                                                            "messageId": MESSAGE_ID}],
                                       "content": {"text": TEXT},
                                       "webhooks": {"delivery": {"url": f"{CALLBACK}/delivered",
                                                                 "intermediateReport": True},
                                                    "contentType": "application/json"}}]}}
    if name == "africastalking":
        return {"keys": {"username": s.USERNAME, "api_key": s.API_KEY}, "to": "+254711000100",
                "method": "POST", "path": "/version1/messaging", "headers": {"apikey": s.API_KEY},
                "form": {"username": s.USERNAME, "to": "+254711000100", "message": TEXT, "from": "2020"}}
    if name == "plivo":
        return {"keys": {"auth_id": s.AUTH_ID, "auth_token": s.AUTH_TOKEN, "app_id": "app-1"}, "to": "+60124361111",
                "method": "POST", "path": f"/v1/Account/{s.AUTH_ID}/Message/",
                "headers": {"authorization": basic(s.AUTH_ID, s.AUTH_TOKEN), "content-type": "application/json",
                            "accept": "application/json"},
                "json": {"src": "2020", "dst": "60124361111", "text": TEXT,
                         "url": f"{CALLBACK}/status?id={MESSAGE_ID}", "method": "POST"}}
    if name == "clickatell":
        return {"keys": {"api_key": s.API_KEY, "address": s.FROM}, "to": "+27999000001",
                "method": "GET", "path": "/messages/http/send", "headers": {"accept": "application/json"},
                "query": {"apiKey": s.API_KEY, "content": TEXT, "from": s.FROM, "to": "27999000001"}}
    if name == "messagebird":
        return {"keys": {"auth_token": s.ACCESS_KEY, "address": "31970000000"}, "to": "+31600000001",
                "text": "Hello ☺",
                "method": "POST", "path": "/messages",
                "headers": {"authorization": f"AccessKey {s.ACCESS_KEY}", "content-type": "application/json"},
                "json": {"recipients": ["+31600000001"], "reference": MESSAGE_ID, "originator": "31970000000",
                         "body": "Hello ☺", "datacoding": "unicode", "reportUrl": f"{CALLBACK}/status"}}
    if name == "bandwidth":  # a local number takes the channel's country; a UCS-2 text goes whole, in one request
        return {"keys": {"username": s.USERNAME, "password": s.PASSWORD, "account_id": s.ACCOUNT,
                         "messaging_application_id": s.APPLICATION_ID, "address": "+12065550100", "country": "US"},
                "to": "2067791234", "text": "Привет from a venv of three",
                "method": "POST", "path": f"/api/v2/users/{s.ACCOUNT}/messages",
                "headers": {"authorization": basic(s.USERNAME, s.PASSWORD), "content-type": "application/json"},
                "json": {"applicationId": s.APPLICATION_ID, "to": ["+12067791234"], "from": "+12065550100",
                         "text": "Привет from a venv of three", "tag": MESSAGE_ID}}
    if name == "zenvia":
        return {"keys": {"api_key": s.TOKEN, "address": s.ALIASES[0]}, "to": "+5511988887777",
                "method": "POST", "path": "/v2/channels/sms/messages", "headers": {"x-api-token": s.TOKEN},
                "json": {"from": s.ALIASES[0], "to": "5511988887777", "externalId": MESSAGE_ID,
                         "contents": [{"type": "text", "text": TEXT}]}}
    assert name == "jasmin", name  # Jasmin's HTTP API: its send_url, not a base_url
    return {"keys": {"send_url": f"{url}/send", "username": s.USERNAME, "password": s.PASSWORD},
            "to": "+250788123123", "method": "GET", "path": "/send",
            "query": {"username": s.USERNAME, "password": s.PASSWORD, "to": "250788123123", "from": "2020",
                      "coding": "0", "content": TEXT, "dlr": "yes", "dlr-level": "2", "dlr-method": "POST",
                      "dlr-url": f"{CALLBACK}/status?msg={MESSAGE_ID}"}}


def toml(value):
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string


@pytest.mark.parametrize("name", CATALOGUE)
def test_a_catalogue_adapter_alone_is_listed_and_sends_the_documented_request(name, wheels, core_and_cli, tmp_path):
    python, smsgate = core_and_cli / "bin" / "python", core_and_cli / "bin" / "smsgate"
    pip(python, "install", "-q", str(next(wheels.glob(f"smsgate_{name}-*.whl"))))
    try:
        listed_alone(core_and_cli, name)
        with StandIn(standin_script(name)) as server:
            want = documented_request(name, standin_module(name), server.url)
            keys = {"address": "2020", **({} if "send_url" in want["keys"] else {"base_url": server.url}),
                    **want["keys"]}
            channel = "".join(f"{k} = {toml(v)}\n" for k, v in keys.items())
            (tmp_path / "smsgate.toml").write_text(
                f'[gateway]\ndatabase = {toml(str(tmp_path / "smsgate.sqlite3"))}\npublic_url = "https://gw.example"'
                f'\n\n[channels.c1]\nadapter = "{name}"\n{channel}', encoding="utf-8")
            sent = subprocess.run([str(smsgate), "send", "--channel", "c1", "--to", want["to"], "--id", MESSAGE_ID,
                                   want.get("text", TEXT)], capture_output=True, text=True, timeout=60, env=ENV,
                                  cwd=tmp_path)
            received = server.received()
        assert sent.returncode == 0, sent.stdout + sent.stderr
        assert sent.stdout.startswith("wired"), sent.stdout
        assert len(received) == 1, received
        got = received[0]
        assert (got["method"], got["path"]) == (want["method"], want["path"])
        assert got["status"] in (200, 201, 202), got  # the stand-in accepted it, as the aggregator would
        assert {k: v[0] for k, v in got["query"].items()} == want.get("query", {})
        if "form" in want:
            assert {k: v[0] for k, v in urllib.parse.parse_qs(got["body"]).items()} == want["form"]
        if "json" in want:
            assert json.loads(got["body"]) == want["json"]
        for header, value in want.get("headers", {}).items():
            assert got["headers"].get(header) == value, (header, got["headers"])
    finally:
        pip(python, "uninstall", "-q", "-y", f"smsgate-{name}")


def test_the_readme_table_lists_every_adapter():
    table = {line.split("|")[1].strip(" `") for line in (ROOT / "README.md").read_text().splitlines()
             if line.startswith("| `")}
    assert set(ADAPTERS) <= table, sorted(set(ADAPTERS) - table)
