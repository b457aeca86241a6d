"""The repository stands alone: no tracked file reads or points to a folder beside the clone.

A fresh clone has nothing next to it, so a path to a sibling folder in a test, script or link breaks there
(it did: the Twilio contract was read from beside the repository). What the project needs is vendored, and
facts from reference material are restated in its own docs.
"""

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# built from parts, so this file does not contain what it looks for
NEEDLES = [".." + "/shared", "/work" + "/shared", "SMSGATE_" + "SHARED_DIR"]
# what a checkout without git metadata (an unpacked archive) holds besides the project's files
_NOT_PROJECT = {".git", ".venv", ".venv-latest", "node_modules", "__pycache__", ".pytest_cache", ".mypy_cache",
                ".ruff_cache", ".hypothesis", ".smsgate"}


def project_files() -> list[Path]:
    """Every file git tracks, or every project file when the checkout has no git metadata."""
    if (ROOT / ".git").exists():
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
        return [ROOT / name for name in out.stdout.decode().split("\0") if name]
    return [p for p in ROOT.rglob("*") if p.is_file() and not _NOT_PROJECT & set(p.relative_to(ROOT).parts)]


def mentions(files: list[Path], root: Path) -> list[str]:
    """`path:line: text` for every line of `files` that names a folder beside the repository."""
    found = []
    for path in files:
        if not path.is_file():  # deleted in the working tree, not yet committed
            continue
        text = path.read_bytes().decode("utf-8", "replace")
        for number, line in enumerate(text.splitlines(), 1):
            if any(needle in line for needle in NEEDLES):
                found.append(f"{path.relative_to(root)}:{number}: {line.strip()[:120]}")
    return found


def test_no_project_file_points_outside_the_repository():
    files = project_files()
    assert len(files) > 50 and ROOT / "README.md" in files, files  # the listing itself worked
    offenders = mentions(files, ROOT)
    assert not offenders, "\n".join(offenders)


def test_the_scan_finds_a_mention(tmp_path):
    (tmp_path / "README.md").write_text("# x\nsee " + NEEDLES[0] + "/reference/kannel.md\n")
    assert mentions([tmp_path / "README.md", tmp_path / "gone.md"], tmp_path) == [
        "README.md:2: see " + NEEDLES[0] + "/reference/kannel.md"]
