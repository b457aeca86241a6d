"""The code base stays lint-clean (ruff) and the core type-clean (mypy --strict), checked on every run."""

import subprocess
import sys
from pathlib import Path

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
    import ast

    packages = sorted(p.parent for p in ROOT.glob("adapters/*/src/*/__init__.py"))
    assert packages, "no adapter packages found"
    problems = []
    for package in packages:
        init = package / "__init__.py"
        if len(init.read_text(encoding="utf-8").splitlines()) > 80:
            problems.append(f"{init.relative_to(ROOT)}: more than 80 lines")
        for node in ast.parse(init.read_text(encoding="utf-8")).body:
            hook = isinstance(node, ast.FunctionDef) and node.name.startswith("smsgate_register_")
            if isinstance(node, ast.ClassDef | ast.AsyncFunctionDef) or (isinstance(node, ast.FunctionDef)
                                                                          and not hook):
                problems.append(f"{init.relative_to(ROOT)}: defines {node.name}; code belongs in a private module")
        for module in sorted(package.glob("*.py")):
            tree = ast.parse(module.read_text(encoding="utf-8"))
            exported = [n for n in tree.body if isinstance(n, ast.Assign)
                        and any(isinstance(t, ast.Name) and t.id == "__all__" for t in n.targets)]
            if not ast.get_docstring(tree):
                problems.append(f"{module.relative_to(ROOT)}: no module docstring")
            if not exported or not isinstance(exported[0].value, ast.List):
                problems.append(f"{module.relative_to(ROOT)}: no literal __all__ list")
    assert not problems, "\n".join(problems)
