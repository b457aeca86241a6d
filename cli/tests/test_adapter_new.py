"""`smsgate adapter new`: the adapter it writes installs, passes its own tests, ruff, mypy --strict and the
repository's layout rules at once; inside a checkout it is listed where the repository lists adapters."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

from tests.support.layout import adapter_layout_problems

ROOT = Path(__file__).resolve().parents[2]
SMSGATE = Path(sys.executable).with_name("smsgate")
ENV = {k: v for k, v in os.environ.items() if not k.startswith("SMSGATE_") and k != "COLUMNS"}


def smsgate(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SMSGATE), *args], capture_output=True, text=True, timeout=60, env=ENV, cwd=cwd)


def run(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=600, env=ENV, cwd=cwd)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return done


def throwaway_venv(folder: Path) -> Path:
    """A venv that sees the suite's venv (smsgate, pytest, setuptools) but installs into its own folder, so the
    suite's venv stays exactly its lock (tests/repo/test_lock.py)."""
    run(sys.executable, "-m", "venv", "--without-pip", folder)
    python = folder / "bin" / "python"
    site = run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip()
    # addsitedir, not a bare path: the suite's venv holds the project's editable installs as .pth files too
    Path(site, "suite-venv.pth").write_text(f"import site; site.addsitedir({sysconfig.get_paths()['purelib']!r})\n")
    return python


def test_a_new_adapter_installs_and_passes_its_own_tests_and_checks(tmp_path: Path) -> None:
    done = smsgate("adapter", "new", "acme-sms", "--aggregator", "Acme SMS", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("wrote 12 files for adapter 'acme-sms' (Acme SMS): acme-sms/ and cassettes/acme-sms/")
    assert "pip install -e acme-sms" in done.stdout and "requirements/project.in" in done.stdout  # the next steps
    folder = tmp_path / "acme-sms"
    package = folder / "src" / "smsgate_acme_sms"
    assert sorted(p.name for p in package.iterdir()) == ["__init__.py", "_adapter.py", "_settings.py", "_status.py",
                                                         "py.typed"]
    assert sorted(p.name for p in (folder / "tests").iterdir()) == ["acme_sms_standin.py", "test_inbound.py",
                                                                    "test_plugin.py", "test_send.py"]
    assert [p.name for p in (tmp_path / "cassettes" / "acme-sms").iterdir()] == ["README.md"]
    project = tomllib.loads((folder / "pyproject.toml").read_text())
    assert project["project"]["name"] == "smsgate-acme-sms"
    assert project["project"]["entry-points"]["smsgate"] == {"acme-sms": "smsgate_acme_sms"}
    readme = (folder / "README.md").read_text()
    for needed in ("`api_key`", "`base_url`", "`max_length`", "| `receive` | POST |", "| `status` | POST |",
                   "## Differences from courier", "Acme SMS"):
        assert needed in readme, needed
    assert adapter_layout_problems(package, tmp_path) == []
    run(sys.executable, "-m", "ruff", "check", "--config", ROOT / "pyproject.toml", folder)
    run(sys.executable, "-m", "mypy", "--config-file", ROOT / "pyproject.toml", package)

    python = throwaway_venv(tmp_path / "venv")
    run(python, "-m", "pip", "--disable-pip-version-check", "install", "-q", "--no-deps", "--no-build-isolation",
        folder)
    tests = run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "acme-sms/tests", cwd=tmp_path)
    assert " passed" in tests.stdout and "failed" not in tests.stdout and "skipped" not in tests.stdout, tests.stdout
    listed = run(python, "-c", "import sys; from smsgate_cli.main import main; sys.argv[0] = 'smsgate'; main()",
                 "adapters", "--json", cwd=tmp_path)
    assert '"name": "acme-sms"' in listed.stdout and '"distribution": "smsgate-acme-sms"' in listed.stdout


def test_the_longest_aggregator_name_stays_within_ruffs_columns(tmp_path: Path) -> None:
    """The aggregator's name lands in docstrings and f-strings: the longest one allowed still passes ruff (its 120
    columns), as `--aggregator "Bandwidth Messaging v2"` did not before the cap and the rewrapped docstrings."""
    name, aggregator = "bandwidth", "Aaaaaaaaa Messaging API v2 (Zone 2) Bbbb"
    assert len(aggregator) == 40  # the most allowed
    done = smsgate("adapter", "new", name, "--aggregator", aggregator, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    run(sys.executable, "-m", "ruff", "check", "--config", ROOT / "pyproject.toml", tmp_path / name)


def checkout(folder: Path) -> Path:
    """The files of a smsgate checkout that `adapter new` reads and updates."""
    (folder / "adapters" / "http").mkdir(parents=True)
    (folder / "requirements").mkdir()
    (folder / "requirements" / "project.in").write_text("# own distributions\n-e ./core[postgresql]\n-e ./cli\n"
                                                        "-e ./adapters/http\n-e ./adapters/twilio\n")
    (folder / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\ntestpaths = ["adapters"]\n\n[tool.mypy]\nstrict = true\n'
        'files = ["core/src/smsgate", "cli/src/smsgate_cli", "adapters/http/src/smsgate_http"]\n'
        'plugins = ["pydantic.mypy"]\n\n[[tool.mypy.overrides]]\nmodule = ["vcr.*"]\n')
    return folder


def test_inside_a_checkout_it_is_listed_where_the_repository_lists_adapters(tmp_path: Path) -> None:
    repo = checkout(tmp_path / "repo")
    done = smsgate("adapter", "new", "vonage", cwd=repo / "adapters" / "http")  # anywhere inside the checkout
    assert done.returncode == 0, done.stderr
    assert (repo / "adapters" / "vonage" / "src" / "smsgate_vonage" / "_adapter.py").is_file()
    assert (repo / "cassettes" / "vonage" / "README.md").is_file()
    assert "added vonage to requirements/project.in" in done.stdout and "scripts/install --dev" in done.stdout
    lines = (repo / "requirements" / "project.in").read_text().splitlines()
    assert lines[-2:] == ["-e ./adapters/twilio", "-e ./adapters/vonage"]
    mypy = tomllib.loads((repo / "pyproject.toml").read_text())["tool"]["mypy"]
    assert mypy["files"][-1] == "adapters/vonage/src/smsgate_vonage" and mypy["plugins"] == ["pydantic.mypy"]

    again = smsgate("adapter", "new", "vonage", cwd=repo)
    assert again.returncode == 2 and again.stdout == "" and len(again.stderr.splitlines()) == 1
    assert again.stderr.startswith("error: ") and "already has files" in again.stderr and "--force" in again.stderr
    forced = smsgate("adapter", "new", "vonage", "--force", cwd=repo)
    assert forced.returncode == 0 and "added vonage" not in forced.stdout  # listed once, not twice
    assert (repo / "requirements" / "project.in").read_text().count("adapters/vonage") == 1
    assert (repo / "pyproject.toml").read_text().count("adapters/vonage/") == 1


def test_a_long_mypy_line_is_wrapped(tmp_path: Path) -> None:
    repo = checkout(tmp_path / "repo")
    for name in ("aaaaaaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbbbbb", "cccccccccccccccccccccccc"):
        assert smsgate("adapter", "new", name, cwd=repo).returncode == 0
    text = (repo / "pyproject.toml").read_text()
    assert max(len(line) for line in text.splitlines()) <= 120, text
    assert tomllib.loads(text)["tool"]["mypy"]["files"][-3:] == [
        f"adapters/{n * 24}/src/smsgate_{n * 24}" for n in "abc"]


def test_dir_puts_the_adapter_elsewhere_and_outside_a_checkout_nothing_else_changes(tmp_path: Path) -> None:
    repo = checkout(tmp_path / "repo")
    done = smsgate("adapter", "new", "plivo", "--dir", str(tmp_path / "elsewhere"), cwd=repo)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "elsewhere" / "plivo" / "pyproject.toml").is_file()
    assert (tmp_path / "elsewhere" / "cassettes" / "plivo" / "README.md").is_file()
    assert "plivo" not in (repo / "requirements" / "project.in").read_text()


@pytest.mark.parametrize(("args", "fragment"), [
    (["Vonage"], "invalid adapter name 'Vonage'"),
    (["my agg"], "invalid adapter name 'my agg'"),
    (["cli"], "invalid adapter name 'cli'"),
    (["ok", "--aggregator", "a{b}"], "invalid --aggregator 'a{b}'"),
    (["ok", "--aggregator", "x" * 41], "invalid --aggregator 'xxxxx"),
])
def test_refusals_are_one_line(tmp_path: Path, args: list[str], fragment: str) -> None:
    done = smsgate("adapter", "new", *args, cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == "" and list(tmp_path.iterdir()) == []
    assert len(done.stderr.splitlines()) == 1 and done.stderr.startswith(f"error: {fragment}"), done.stderr
