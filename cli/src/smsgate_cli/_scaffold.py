"""`smsgate adapter new`: write a new adapter distribution from the templates in `scaffold/` (package data).

The templates are `string.Template` files (`$name`, `$package`, `$Class`, `$aggregator`; `$$` is a dollar),
laid out as the files they become: `scaffold/adapter/` is the adapter's folder, `scaffold/cassettes/` its
cassette folder. Inside a smsgate checkout the new folder is also added where the repository lists its
adapters (requirements/project.in, the mypy `files` of pyproject.toml); elsewhere those steps are printed.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

__all__ = ["NAME_RULE", "Scaffold", "ScaffoldError", "find_repository", "plan", "write"]

NAME_RULE = re.compile(r"[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*")
"""An adapter name: lower-case letters and digits, words joined by one `-` or `_` (`africastalking`, `my-agg`)."""

# a name whose package `smsgate_<name>` smsgate itself already uses
_RESERVED = {"cli"}
# what an aggregator's name may hold: it lands in docstrings, f-strings, TOML and Markdown unescaped
_AGGREGATOR = re.compile(r"[\w][\w .,'&()/+-]*")
_MAX_AGGREGATOR = 40  # it lands in lines of code, which ruff keeps within 120 columns


class ScaffoldError(Exception):
    """The adapter cannot be written as asked (a bad name, files already there); the message says why."""


@dataclass
class Scaffold:
    """What `adapter new` writes (and, inside a checkout, which repository files it updates)."""

    name: str
    aggregator: str
    folder: Path
    cassettes: Path
    repository: Path | None
    files: dict[Path, str] = field(default_factory=dict)

    @property
    def package(self) -> str:
        """The import package's suffix: `smsgate_<package>`."""
        return self.name.replace("-", "_")

    @property
    def class_prefix(self) -> str:
        """The prefix of the adapter's classes: `my-agg` → `MyAgg`."""
        return "".join(word.capitalize() for word in re.split(r"[-_]", self.name))


def find_repository(start: Path) -> Path | None:
    """The smsgate checkout holding `start` (a folder with requirements/project.in and adapters/), or None."""
    for folder in [start, *start.parents]:
        if (folder / "requirements" / "project.in").is_file() and (folder / "adapters").is_dir() \
                and (folder / "pyproject.toml").is_file():
            return folder
    return None


def plan(name: str, directory: Path | None = None, aggregator: str | None = None, *, force: bool = False,
         cwd: Path | None = None) -> Scaffold:
    """Decide every file of the new adapter `name` (nothing is written yet); a ScaffoldError when it cannot be."""
    if not NAME_RULE.fullmatch(name) or name in _RESERVED:
        raise ScaffoldError(f"invalid adapter name {name!r}: use lower-case letters and digits, words joined by "
                            f"'-' or '_' (such as 'vonage' or 'my-aggregator'), and none of {sorted(_RESERVED)}")
    here = (cwd or Path.cwd()).resolve()
    repository = find_repository(here)
    if directory is None:
        directory = repository / "adapters" if repository is not None else here
    directory = (here / directory).resolve()
    # only a folder made in the checkout's adapters/ is a repository adapter: its cassettes go to the root's
    inside = repository if repository is not None and directory == repository / "adapters" else None
    cassettes = (inside or directory) / "cassettes" / name
    human = (aggregator or name.replace("-", " ").replace("_", " ").title()).strip()
    if not _AGGREGATOR.fullmatch(human) or len(human) > _MAX_AGGREGATOR:
        raise ScaffoldError(f"invalid --aggregator {human!r}: use at most {_MAX_AGGREGATOR} letters, digits, spaces "
                            "and .,'&()/+- (such as \"Africa's Talking\")")
    scaffold = Scaffold(name, human, directory / name, cassettes, inside)
    folder = scaffold.folder
    values = {"name": name, "package": scaffold.package, "Class": scaffold.class_prefix, "aggregator": human}
    root = resources.files("smsgate_cli") / "scaffold"
    for target, template in ((folder, root / "adapter"), (cassettes, root / "cassettes")):
        for relative, text in _templates(template):
            path = target / string.Template(relative).substitute(values).removesuffix(".tmpl")
            scaffold.files[path] = string.Template(text).substitute(values)
    existing = sorted(str(p.relative_to(folder) if p.is_relative_to(folder) else p) for p in scaffold.files
                      if p.exists())
    if existing and not force:
        shown = ", ".join(existing[:3]) + (", ..." if len(existing) > 3 else "")
        raise ScaffoldError(f"{folder} already has files ({shown}); pass --force to overwrite them")
    return scaffold


def _templates(folder: Traversable, prefix: str = "") -> list[tuple[str, str]]:
    """Every template under `folder` as (path relative to it, text), in a stable order."""
    out: list[tuple[str, str]] = []
    for item in sorted(folder.iterdir(), key=lambda i: i.name):
        if item.name == "__pycache__":
            continue
        relative = f"{prefix}{item.name}"
        if item.is_dir():
            out.extend(_templates(item, relative + "/"))
        elif item.name.endswith(".tmpl"):
            out.append((relative, item.read_text(encoding="utf-8")))
    return out


def write(scaffold: Scaffold) -> list[str]:
    """Write the files; inside a checkout also list the adapter where the repository lists adapters. Returns
    the repository files it changed (relative paths)."""
    for path, text in scaffold.files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    if scaffold.repository is None:
        return []
    changed = []
    if _add_to_project_in(scaffold.repository / "requirements" / "project.in", scaffold.name):
        changed.append("requirements/project.in")
    if _add_to_mypy_files(scaffold.repository / "pyproject.toml", scaffold.name, scaffold.package):
        changed.append("pyproject.toml")
    return changed


def _add_to_project_in(path: Path, name: str) -> bool:
    """Add `-e ./adapters/<name>` after the last adapter line (scripts/install refuses an unlisted folder)."""
    line = f"-e ./adapters/{name}"
    lines = path.read_text(encoding="utf-8").splitlines()
    if line in lines:
        return False
    last = max((i for i, text in enumerate(lines) if text.startswith("-e ./adapters/")), default=len(lines) - 1)
    lines.insert(last + 1, line)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return True


def _add_to_mypy_files(path: Path, name: str, package: str) -> bool:
    """Add the adapter's package to `[tool.mypy] files`, so it is type-checked (strict) with the rest."""
    text = path.read_text(encoding="utf-8")
    entry = f'"adapters/{name}/src/smsgate_{package}"'
    section = re.search(r"(?ms)^\[tool\.mypy\]\n.*?(?=^\[|\Z)", text)
    files = re.search(r"(?ms)^files\s*=\s*\[(.*?)\]", section.group(0)) if section else None
    if section is None or files is None:
        raise ScaffoldError(f"{path}: no [tool.mypy] files = [...] list to add {entry} to")
    if entry in files.group(1):
        return False
    end = section.start() + files.end(1)  # just before the closing bracket
    body = files.group(1).rstrip()
    last_line = (text[:section.start() + files.start(1)] + body).rsplit("\n", 1)[-1]
    joiner = ", " if len(last_line) + len(entry) + 3 <= 120 else ",\n" + " " * (files.start(1) - files.start(0))
    start = section.start() + files.start(1)
    text = text[:start] + body + joiner + entry + text[end:]
    path.write_text(text, encoding="utf-8")
    return True
