"""Fixtures every test folder may use: the throwaway PostgreSQL cluster the suite starts itself.

`postgres` is one cluster for the whole run (tests/peers.py `Postgres`, started on first use, stopped by PID
at the end; it fails the run if it cannot start: nothing skips). `pg_url()` gives each caller an empty schema
of its own in database `tests` (a schema takes 15 ms where a database takes 300), as a URL whose
`search_path` names it. The core's tests run on both backends through `smsgate_database` (core/tests).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import pytest
from peers import Postgres

_SCHEMAS = itertools.count(1)


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
