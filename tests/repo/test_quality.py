"""The code base stays lint-clean (ruff) and the core type-clean (mypy --strict), checked on every run."""

import subprocess
import sys
from pathlib import Path

from tests.support.layout import adapter_layout_problems

ROOT = Path(__file__).resolve().parents[2]


def test_ruff_is_clean():
    out = subprocess.run([sys.executable, "-m", "ruff", "check", "core", "cli", "adapters", "tests", "bench", "fuzz",
                          "examples"],
                         cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_strict_on_core():
    out = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_adapters_are_built_like_core():
    """Each adapter's __init__.py only re-exports (plus its hookimpls) behind a literal __all__, in at most 80
    lines; every module of an adapter package has a docstring and its own __all__."""
    packages = sorted(p.parent for p in ROOT.glob("adapters/*/src/*/__init__.py"))
    assert packages, "no adapter packages found"
    problems = [problem for package in packages for problem in adapter_layout_problems(package, ROOT)]
    assert not problems, "\n".join(problems)
