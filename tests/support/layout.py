"""The layout every adapter package follows (checked by tests/repo/test_quality.py, and on what
`smsgate adapter new` writes by cli/tests/test_adapter_new.py)."""

from __future__ import annotations

import ast
from pathlib import Path

__all__ = ["adapter_layout_problems"]


def adapter_layout_problems(package: Path, root: Path) -> list[str]:
    """What breaks the rules in one adapter package (paths shown relative to `root`): `__init__.py` only
    re-exports (plus its `smsgate_register_*` hookimpls) in at most 80 lines; every module has a docstring and
    a literal `__all__` list."""
    problems = []
    init = package / "__init__.py"
    if len(init.read_text(encoding="utf-8").splitlines()) > 80:
        problems.append(f"{init.relative_to(root)}: more than 80 lines")
    for node in ast.parse(init.read_text(encoding="utf-8")).body:
        hook = isinstance(node, ast.FunctionDef) and node.name.startswith("smsgate_register_")
        if isinstance(node, ast.ClassDef | ast.AsyncFunctionDef) or (isinstance(node, ast.FunctionDef) and not hook):
            problems.append(f"{init.relative_to(root)}: defines {node.name}; code belongs in a private module")
    for module in sorted(package.glob("*.py")):
        tree = ast.parse(module.read_text(encoding="utf-8"))
        exported = [n for n in tree.body if isinstance(n, ast.Assign)
                    and any(isinstance(t, ast.Name) and t.id == "__all__" for t in n.targets)]
        if not ast.get_docstring(tree):
            problems.append(f"{module.relative_to(root)}: no module docstring")
        if not exported or not isinstance(exported[0].value, ast.List):
            problems.append(f"{module.relative_to(root)}: no literal __all__ list")
    return problems
