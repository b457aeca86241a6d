"""Fixtures every test folder may use: the throwaway PostgreSQL cluster the suite starts itself.

`postgres` is one cluster for the whole run (tests/support/peers `Postgres`, started on first use, stopped by PID
at the end; it fails the run if it cannot start: nothing skips). `pg_url()` gives each caller an empty schema
of its own in database `tests` (a schema takes 15 ms where a database takes 300), as a URL whose
`search_path` names it. The core's tests run on both backends through `smsgate_database` (core/tests).
"""

from __future__ import annotations

import itertools
import json
import platform
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.peers import Postgres

_SCHEMAS = itertools.count(1)
_ROOT = Path(__file__).resolve().parent
# the peers apt installs (.ci/install-peers): not pinnable like the Python and npm ones, so each run names them
_APT_PEERS = ["kannel", "postgresql-15", "rabbitmq-server", "erlang-base", "redis-server", "chromium", "prometheus",
              "openssl", "curl", "nodejs"]


def peer_versions() -> str:
    """One line naming the installed version of every peer the lock cannot pin (apt packages, Node, Prism, Twilio's
    Node SDK)."""
    found: dict[str, str] = {}
    if shutil.which("dpkg-query"):
        done = subprocess.run(["dpkg-query", "-W", "-f", "${Package}=${Version}\\n", *_APT_PEERS],
                              capture_output=True, text=True, check=False)
        found = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    parts = [f"{name} {found.get(name, 'missing')}" for name in _APT_PEERS]
    prism = _ROOT / "tools/prism/node_modules/@stoplight/prism-cli/package.json"
    parts.append("prism " + (json.loads(prism.read_text())["version"] if prism.exists() else "missing"))
    sdk = _ROOT / "tools/twilio-node/node_modules/twilio/package.json"
    parts.append("twilio-node " + (json.loads(sdk.read_text())["version"] if sdk.exists() else "missing"))
    return f"peers: python {platform.python_version()}; " + "; ".join(parts)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Print the peers' versions once, even under -q, so a failure can be traced to an upgrade of one."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(peer_versions())


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """The suite's PostgreSQL cluster (database `tests` created)."""
    with Postgres() as cluster:
        cluster.create_database("tests")
        yield cluster


@pytest.fixture
def pg_url(postgres: Postgres) -> Callable[[], str]:
    """A factory of URLs, each naming a new empty schema in database `tests`."""

    def make() -> str:
        name = f"t{next(_SCHEMAS)}"
        postgres.psql(f"CREATE SCHEMA {name}", "tests")
        return f"{postgres.url('tests')}?search_path={name}"

    return make
