"""Every distribution builds a wheel, and a fresh venv with core + cli + one adapter lists exactly that adapter;
for each catalogue adapter, `smsgate send` from such a venv reaches its stand-in with the documented request."""

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
CATALOGUE = ["vonage", "infobip", "africastalking"]


def standin_module(name):
    """The adapter's stand-in script as a module: its credentials and numbers."""
    path = ROOT / "adapters" / name / "tests" / f"{name}_standin.py"
    spec = importlib.util.spec_from_file_location(f"{name}_standin_for_packaging", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def documented_request(name, standin):
    """(channel keys, the recipient, what the stand-in must receive) as each adapter's README documents it."""
    text = "Hello from a wheel"
    callback = "https://gw.example/c/c1"
    if name == "vonage":
        return ({"api_key": standin.KEY, "api_secret": standin.SECRET}, "+447700900100",
                {"method": "POST", "path": "/sms/json", "form": {
                    "api_key": standin.KEY, "api_secret": standin.SECRET, "from": "2020", "to": "447700900100",
                    "text": text, "type": "text", "status-report-req": "1", "callback": f"{callback}/status"}})
    if name == "infobip":
        return ({"api_key": standin.API_KEY}, "+385900000100",
                {"method": "POST", "path": "/sms/3/messages", "authorization": f"App {standin.API_KEY}", "json": {
                    "messages": [{"sender": "2020", "destinations": [{"to": "385900000100", "messageId": MESSAGE_ID}],
                                  "content": {"text": text},
                                  "webhooks": {"delivery": {"url": f"{callback}/delivered", "intermediateReport": True},
                                               "contentType": "application/json"}}]}})
    return ({"username": standin.USERNAME, "api_key": standin.API_KEY}, "+254711000100",
            {"method": "POST", "path": "/version1/messaging", "apikey": standin.API_KEY, "form": {
                "username": standin.USERNAME, "to": "+254711000100", "message": text, "from": "2020"}})


@pytest.mark.parametrize("name", CATALOGUE)
def test_a_catalogue_adapter_alone_is_listed_and_sends_the_documented_request(name, wheels, core_and_cli, tmp_path):
    python, smsgate = core_and_cli / "bin" / "python", core_and_cli / "bin" / "smsgate"
    env = ENV
    pip(python, "install", "-q", str(next(wheels.glob(f"smsgate_{name}-*.whl"))))
    try:
        listed_alone(core_and_cli, name)
        standin = standin_module(name)
        keys, to, expected = documented_request(name, standin)
        with StandIn(ROOT / "adapters" / name / "tests" / f"{name}_standin.py") as server:
            channel = "".join(f'{k} = "{v}"\n' for k, v in keys.items())
            (tmp_path / "smsgate.toml").write_text(
                f'[gateway]\ndatabase = "{tmp_path / "smsgate.sqlite3"}"\npublic_url = "https://gw.example"\n\n'
                f'[channels.c1]\nadapter = "{name}"\naddress = "2020"\nbase_url = "{server.url}"\n{channel}')
            sent = subprocess.run([str(smsgate), "send", "--channel", "c1", "--to", to, "--id", MESSAGE_ID,
                                   "Hello from a wheel"], capture_output=True, text=True, timeout=60, env=env,
                                  cwd=tmp_path)
            received = server.received()
        assert sent.returncode == 0, sent.stdout + sent.stderr
        assert len(received) == 1, received
        got = received[0]
        assert (got["method"], got["path"]) == (expected["method"], expected["path"])
        if "form" in expected:
            assert {k: v[0] for k, v in urllib.parse.parse_qs(got["body"]).items()} == expected["form"]
        if "json" in expected:
            assert json.loads(got["body"]) == expected["json"]
        for header in ("authorization", "apikey"):
            if header in expected:
                assert got["headers"][header] == expected[header]
    finally:
        pip(python, "uninstall", "-q", "-y", f"smsgate-{name}")


def test_the_readme_table_lists_every_adapter():
    table = {line.split("|")[1].strip(" `") for line in (ROOT / "README.md").read_text().splitlines()
             if line.startswith("| `")}
    assert set(ADAPTERS) <= table, sorted(set(ADAPTERS) - table)
