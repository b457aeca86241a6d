"""Plugin discovery through real entry points: fake distributions on a temporary sys.path, in subprocesses."""

import json
import subprocess
import sys
import textwrap

import pytest


def make_dist(root, dist, module, source, entry="smsgate"):
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{dist.replace('-', '_')}-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text(f"[{entry}]\n{module.replace('smsgate_', '')} = {module}\n")


GOOD = """
import smsgate

class Good(smsgate.Adapter):
    '''A good adapter.'''
    name = "good"

@smsgate.hookimpl
def smsgate_register_adapters(register):
    register(Good)
"""

BROKEN = "raise ImportError('missing dependency foo')\n"

MISSPELT = """
import smsgate

@smsgate.hookimpl
def smsgate_register_adaptors(register):
    pass
"""


@pytest.fixture
def site(tmp_path):
    make_dist(tmp_path, "smsgate-good", "smsgate_good", GOOD)
    make_dist(tmp_path, "smsgate-broken", "smsgate_broken", BROKEN)
    return tmp_path


def run(site, code, **env):
    import os

    full_env = {**os.environ, "PYTHONPATH": str(site), **env}
    for key in ("SMSGATE_LOAD_PLUGINS", "SMSGATE_STRICT_PLUGINS", "SMSGATE_BLOCK_PLUGINS"):
        if key not in env:
            full_env.pop(key, None)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full_env, timeout=60)


LIST = """
import json
from smsgate.plugins import get_adapters, load_plugins
failures = load_plugins()
print(json.dumps({"adapters": {n: [i.distribution, i.version] for n, i in get_adapters().items()},
                  "failures": [[f.name, f.distribution, f.error] for f in failures]}))
"""


def test_broken_plugin_is_reported_and_others_load(site):
    out = run(site, LIST)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["adapters"]["good"] == ["smsgate-good", "1.2.3"]
    assert data["failures"] == [["broken", "smsgate-broken", "ImportError: missing dependency foo"]]
    assert "smsgate-broken" in out.stderr


def test_strict_mode_makes_a_broken_plugin_fatal(site):
    out = run(site, LIST, SMSGATE_STRICT_PLUGINS="1")
    assert out.returncode != 0
    assert "smsgate-broken" in out.stderr and "missing dependency foo" in out.stderr


def test_load_plugins_restricts_and_empty_disables(site):
    only = json.loads(run(site, LIST, SMSGATE_LOAD_PLUGINS="smsgate-good").stdout)
    assert "good" in only["adapters"] and only["failures"] == []
    none = json.loads(run(site, LIST, SMSGATE_LOAD_PLUGINS="").stdout)
    assert none == {"adapters": {}, "failures": []}


def cli(site, *args, **env):
    import os

    full_env = {**os.environ, "PYTHONPATH": str(site), **env}
    for key in ("SMSGATE_LOAD_PLUGINS", "SMSGATE_STRICT_PLUGINS", "SMSGATE_BLOCK_PLUGINS", "SMSGATE_CONFIG"):
        if key not in env:
            full_env.pop(key, None)
    code = "from smsgate_cli.main import main; import sys; sys.argv[0] = 'smsgate'; main()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=full_env,
                          timeout=60)


def test_disabled_plugins_are_named_as_such_not_as_missing(site):
    config = site / "smsgate.toml"
    config.write_text('[channels.kn]\nadapter = "good"\n')
    listed = cli(site, "adapters", SMSGATE_LOAD_PLUGINS="")
    assert (listed.returncode, listed.stdout) == (
        0, "no adapters loaded (plugins are disabled: SMSGATE_LOAD_PLUGINS is set and empty)\n")
    checked = cli(site, "--config", str(config), "check", SMSGATE_LOAD_PLUGINS="")
    assert (checked.returncode, checked.stderr) == (1, f"error: {config}: channels.kn.adapter: unknown adapter "
                                                       "'good' (plugins are disabled: SMSGATE_LOAD_PLUGINS is set "
                                                       "and empty)\n")
    blocked = cli(site, "--config", str(config), "check", SMSGATE_BLOCK_PLUGINS="good,broken")
    assert blocked.returncode == 1 and "unknown adapter 'good'" in blocked.stderr
    assert blocked.stderr.endswith("; SMSGATE_BLOCK_PLUGINS=good,broken skips those)\n")


def test_block_plugins(site):
    data = json.loads(run(site, LIST, SMSGATE_BLOCK_PLUGINS="broken").stdout)
    assert "good" in data["adapters"] and data["failures"] == []


def test_misspelt_hook_is_caught(tmp_path):
    make_dist(tmp_path, "smsgate-typo", "smsgate_typo", MISSPELT)
    out = run(tmp_path, LIST)
    assert out.returncode != 0
    assert "smsgate_register_adaptors" in out.stderr


def test_cli_lists_from_the_same_loader(site):
    out = run(site, "from smsgate_cli.main import main; import sys; sys.argv=['smsgate','adapters','--json']; main()",
              SMSGATE_LOAD_PLUGINS="smsgate-good,smsgate-broken")
    data = json.loads(out.stdout)
    assert [a["name"] for a in data["adapters"]] == ["good"]
    assert data["adapters"][0]["distribution"] == "smsgate-good"
    assert data["failed"][0]["distribution"] == "smsgate-broken"


COMMANDS = """
import typer
import smsgate

@smsgate.hookimpl
def smsgate_register_commands(app):
    @app.command(name="{name}")
    def command() -> None:
        typer.echo("{name} ran")
    {extra}
"""


@pytest.mark.parametrize("strict", [False, True])
def test_cli_isolates_a_plugin_whose_commands_fail_to_register(tmp_path, strict):
    make_dist(tmp_path, "smsgate-cmdgood", "smsgate_cmdgood", COMMANDS.format(name="hello", extra=""))
    make_dist(tmp_path, "smsgate-cmdbad", "smsgate_cmdbad",
              COMMANDS.format(name="oops", extra="raise RuntimeError('typer too old')"))
    argv = ["smsgate", *(["--strict"] if strict else []), "hello"]
    out = run(tmp_path, f"from smsgate_cli.main import main; import sys; sys.argv={argv!r}; main()")
    assert "plugin 'cmdbad' failed to register its commands: RuntimeError: typer too old" in out.stderr
    if strict:
        assert out.returncode == 1 and "hello ran" not in out.stdout
    else:
        assert out.returncode == 0 and "hello ran" in out.stdout, out.stderr
