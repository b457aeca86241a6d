"""Every distribution builds a wheel, and a fresh venv with core + cli + one adapter lists exactly that adapter."""

import json
import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ADAPTERS = sorted(p.parent.name for p in ROOT.glob("adapters/*/pyproject.toml"))


def pip(python, *args, cwd=None):
    out = subprocess.run([str(python), "-m", "pip", "--disable-pip-version-check", *args], capture_output=True,
                         text=True, cwd=cwd, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out


def test_wheels_build_and_one_adapter_install_lists_only_it(tmp_path):
    wheels = tmp_path / "wheels"
    dists = ["core", "cli", *(f"adapters/{name}" for name in ADAPTERS)]
    # built from copies: setuptools leaves build/ folders beside the sources it builds
    sources = tmp_path / "sources"
    for d in dists:
        shutil.copytree(ROOT / d, sources / d, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    pip(sys.executable, "wheel", "--no-deps", "-q", "-w", str(wheels), *(str(sources / d) for d in dists))
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
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    picks = [w for w in wheels.glob("*.whl") if w.name.split("-")[0] in ("smsgate", "smsgate_cli", f"smsgate_{chosen}")]
    pip(python, "install", "-q", *map(str, picks))
    out = subprocess.run([str(env_dir / "bin" / "smsgate"), "adapters", "--json"], capture_output=True, text=True,
                         timeout=60, env={k: v for k, v in os.environ.items() if not k.startswith("SMSGATE_")})
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert [a["name"] for a in data["adapters"]] == [chosen], out.stdout + out.stderr
    assert data["adapters"][0]["distribution"] == f"smsgate-{chosen}"
    assert data["failed"] == []
    # the scaffold's templates are package data of the CLI's wheel: `adapter new` works from an installed CLI
    made = subprocess.run([str(env_dir / "bin" / "smsgate"), "adapter", "new", "probe", "--dir", str(tmp_path / "new")],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path,
                          env={k: v for k, v in os.environ.items() if not k.startswith("SMSGATE_")})
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "new" / "probe" / "src" / "smsgate_probe" / "_adapter.py").is_file()
