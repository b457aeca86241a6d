"""Every hook spec is documented in docs/plugin-hooks.md with its exact signature (datasette's rule)."""

import inspect
import re
from pathlib import Path

import pytest
from smsgate import hookspecs

DOC = Path(__file__).resolve().parents[2] / "docs" / "plugin-hooks.md"
SPECS = sorted(name for name, fn in vars(hookspecs).items() if name.startswith("smsgate_") and callable(fn))


def test_there_are_hooks():
    assert "smsgate_register_adapters" in SPECS and len(SPECS) >= 5


@pytest.mark.parametrize("name", SPECS)
def test_hook_is_documented_with_its_signature(name):
    params = ", ".join(inspect.signature(getattr(hookspecs, name)).parameters)
    headings = re.findall(r"^## (\w+\(.*\))$", DOC.read_text(), flags=re.M)
    assert f"{name}({params})" in headings


@pytest.mark.parametrize("name", SPECS)
def test_hook_has_a_docstring(name):
    assert (getattr(hookspecs, name).__doc__ or "").strip()
