"""The venv the suite runs in is the lock it was installed from: every distribution pinned, nothing else.

`scripts/install --dev` installs requirements/dev.txt (`scripts/test --latest`: a lock of the newest versions,
named by SMSGATE_LOCK); the project's own distributions are installed editable beside it. A distribution in the
venv that the lock does not name, or at another version, fails here, and so does a requirement of the project's
own distributions that the venv does not satisfy (a pyproject.toml changed without `scripts/lock`).
"""

from __future__ import annotations

import importlib.metadata as md
import os
import re
import sys
import tomllib
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
LOCK = Path(os.environ.get("SMSGATE_LOCK") or ROOT / "requirements/dev.txt")
# the editable lines of project.in: the project's own distributions, never in a lock
PROJECTS = [ROOT / re.sub(r"\[.*\]$", "", line[len("-e ./"):]) for line in
            (ROOT / "requirements/project.in").read_text().splitlines() if line.startswith("-e ./")]


def editable_extras() -> dict[Path, set[str]]:
    """Folder → the extras `scripts/install --dev` installs it with: project.in's editable lines, then dev.in's
    (which win for their folders, as in scripts/install: core is smsgate[postgresql,testing] in the suite's venv)."""
    extras: dict[Path, set[str]] = {}
    for name in ("project.in", "dev.in"):
        for line in (ROOT / "requirements" / name).read_text().splitlines():
            found = re.fullmatch(r"-e \./([^\[\s]+)(?:\[([^\]]*)\])?", line.strip())
            if found:
                extras[ROOT / found.group(1)] = {e.strip() for e in (found.group(2) or "").split(",") if e.strip()}
    return extras
# requirements/overrides.txt replaces these dependencies' declared ranges in every resolution (it says why)
OVERRIDDEN = {"greenlet"}


def norm(name: str) -> str:
    """A distribution name in PEP 503's normal form."""
    return re.sub(r"[-_.]+", "-", name).lower()


def locked(path: Path) -> dict[str, str]:
    """name → version of every `name==version` line of a lock, markers that do not apply here left out."""
    pins = {}
    for m in re.finditer(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)(?:\s*;\s*([^\\\n]+))?", path.read_text(),
                         re.M):
        marker = m.group(3)
        if marker and not Requirement(f"x; {marker.strip()}").marker.evaluate():  # type: ignore[union-attr]
            continue
        pins[norm(m.group(1))] = m.group(2)
    return pins


def own_names() -> set[str]:
    """The project's own distribution names, from their pyproject.toml."""
    return {norm(tomllib.loads((p / "pyproject.toml").read_text())["project"]["name"]) for p in PROJECTS}


def installed() -> dict[str, str]:
    """name → version of every distribution in this interpreter's environment."""
    return {norm(d.metadata["Name"]): d.version for d in md.distributions()}


def test_the_suite_runs_in_a_venv() -> None:
    assert sys.prefix != sys.base_prefix, "run the suite with the venv scripts/install made (.venv/bin/python)"


def test_every_installed_distribution_is_locked_at_its_version() -> None:
    pins, own = locked(LOCK), own_names()
    have = {name: version for name, version in installed().items() if name not in own}
    unlocked = sorted(f"{name}=={version}" for name, version in have.items() if name not in pins)
    other = sorted(f"{name}=={have[name]} (lock: {pins[name]})" for name in have.keys() & pins.keys()
                   if Version(have[name]) != Version(pins[name]))
    missing = sorted(f"{name}=={pins[name]}" for name in pins.keys() - have.keys())
    assert (unlocked, other, missing) == ([], [], []), (
        f"{sys.prefix} differs from {LOCK.name}: not in the lock {unlocked}, at another version {other}, "
        f"locked but not installed {missing}; run scripts/install --dev (or scripts/lock after a change)")


def test_every_requirement_of_the_project_is_satisfied() -> None:
    # a pyproject.toml that gained or narrowed a dependency without `scripts/lock` fails here, not in a user's venv
    have = installed()
    env = default_environment()
    unmet = []
    installed_with = editable_extras()
    for project in PROJECTS:
        meta = tomllib.loads((project / "pyproject.toml").read_text())["project"]
        extras = installed_with.get(project, set())
        wanted = list(meta.get("dependencies", []))
        for extra in extras:
            wanted += meta.get("optional-dependencies", {}).get(extra, [])
        for spec in wanted:
            req = Requirement(spec)
            if req.marker and not req.marker.evaluate(env):
                continue
            name = norm(req.name)
            if name in own_names():
                continue
            if name not in have or not req.specifier.contains(have[name], prereleases=True):
                unmet.append(f"{meta['name']} needs {spec}, the venv has {have.get(name, 'nothing')}")
    assert unmet == []


def test_every_locked_dependency_is_satisfied_except_the_overrides() -> None:
    # what pip's resolver would have checked: the lock is installed with --no-deps, so check it here
    have = installed()
    env = default_environment()
    unmet = []
    for dist in md.distributions():
        for spec in dist.requires or []:
            req = Requirement(spec)
            if req.marker and not req.marker.evaluate({**env, "extra": ""}):
                continue
            name = norm(req.name)
            if name in OVERRIDDEN and name in have:
                continue
            if name not in have or not req.specifier.contains(have[name], prereleases=True):
                unmet.append(f"{dist.metadata['Name']} needs {spec}, the venv has {have.get(name, 'nothing')}")
    assert sorted(set(unmet)) == []


def test_the_dev_install_has_smsgate_testing_the_plugin_authors_kit() -> None:
    # CONTRIBUTING tells plugin authors to `pip install smsgate[testing]`: the suite's venv is installed the same way
    assert editable_extras()[ROOT / "core"] >= {"postgresql", "testing"}
    testing = tomllib.loads((ROOT / "core/pyproject.toml").read_text())["project"]["optional-dependencies"]["testing"]
    assert {norm(Requirement(spec).name) for spec in testing} <= set(locked(LOCK))


def test_project_in_names_every_adapter() -> None:
    folders = {p.parent for p in ROOT.glob("adapters/*/pyproject.toml")}
    assert folders <= set(PROJECTS), f"add to requirements/project.in: {sorted(map(str, folders - set(PROJECTS)))}"
