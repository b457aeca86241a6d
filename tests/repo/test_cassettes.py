"""Cassettes exist for every adapter and hold none of the credentials used to record them."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CASSETTES = ROOT / "cassettes"
ADAPTERS = sorted(p.parent.name for p in ROOT.glob("adapters/*/pyproject.toml"))
# what a recorded request must never carry in the clear
CREDENTIAL = re.compile(
    r"(?i)(authorization:\s*\n?\s*-\s*(basic|bearer|token)\s+(?!REDACTED)\S{6,})"
    r"|((?<![a-z_])(password|auth_token|api_key)=(?!REDACTED)[^&\s\"']{3,})"
    r"|(/Accounts/AC(?!0{32})[0-9a-f]{32})")


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_each_adapter_has_cassettes(adapter):
    assert list((CASSETTES / adapter).glob("*.yaml")), f"no cassettes recorded for {adapter}"


def cassette_files():
    return sorted(CASSETTES.rglob("*.yaml"))


@pytest.mark.parametrize("path", cassette_files(), ids=lambda p: str(p.relative_to(CASSETTES)))
def test_no_credential_in_cassette(path):
    text = path.read_text(encoding="utf-8")
    found = CREDENTIAL.search(text)
    assert found is None, f"credential-looking value in {path.name}: {found.group(0)[:40]}"
