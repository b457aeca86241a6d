"""CONTRIBUTING.md's adapter tutorial, run as written: its module and its tests must pass as a real plugin, and the
signatures it lists are those of the classes."""

import ast
import dataclasses
import importlib
import os
import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def blocks(language):
    text = (ROOT / "CONTRIBUTING.md").read_text()
    return [textwrap.dedent(b) for b in re.findall(rf"^ *```{language}\n(.*?)^ *```", text, flags=re.M | re.S)]


def test_tutorial_plugin_installs_lists_and_passes_its_tests(tmp_path):
    project = tomllib.loads(blocks("toml")[0])
    module, test = blocks("python")[:2]
    dist = project["project"]["name"]
    (entry_name, target), = project["project"]["entry-points"]["smsgate"].items()
    site = tmp_path / "site"
    site.mkdir()
    (site / f"{target}.py").write_text(module)
    info = site / f"{dist.replace('-', '_')}-{project['project']['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {project['project']['version']}\n")
    (info / "entry_points.txt").write_text(f"[smsgate]\n{entry_name} = {target}\n")
    (tmp_path / "test_example.py").write_text(test)
    env = {**os.environ, "PYTHONPATH": str(site)}
    for key in ("SMSGATE_LOAD_PLUGINS", "SMSGATE_BLOCK_PLUGINS"):
        env.pop(key, None)
    listed = subprocess.run([sys.executable, "-c", "from smsgate_cli.main import main; import sys; "
                             "sys.argv=['smsgate','adapters','--json']; main()"],
                            capture_output=True, text=True, env=env, timeout=60)
    assert '"name": "example"' in listed.stdout and '"distribution": "smsgate-example"' in listed.stdout
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          str(tmp_path / "test_example.py")],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "4 passed" in run.stdout


def test_the_signatures_the_tutorial_lists_are_the_classes_own():
    (listing,) = [b for b in blocks("text") if "smsgate.IncomingMessage(" in b]
    checked = set()
    for line in listing.splitlines():
        path, _, args = line.strip().rstrip(")").partition("(")
        module, _, name = path.rpartition(".")
        cls = getattr(importlib.import_module(module), name)
        fields = {f.name: f for f in dataclasses.fields(cls)}
        written = [a.strip().partition("=") for a in args.split(", ")]
        assert [n for n, _, _ in written] == list(fields), f"{path}: the fields, in order"
        for field_name, has_default, default in written:
            field = fields[field_name]
            if not has_default:
                assert field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
            elif default in ("now", "new id"):
                assert field.default_factory is not dataclasses.MISSING, f"{path}.{field_name}"
            elif field.default_factory is not dataclasses.MISSING:
                assert field.default_factory() == ast.literal_eval(default), f"{path}.{field_name}"
            else:
                assert field.default == ast.literal_eval(default), f"{path}.{field_name}"
        checked.add(name)
    assert checked == {"IncomingMessage", "StatusUpdate", "InboundCase"}
