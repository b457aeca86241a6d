"""Shared fixtures for the core's own tests: every harness test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import httpx
import pytest
from smsgate.store import PostgresStore, SQLiteStore

from tests.support.toy_adapter import Toy

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def smsgate_database(request):
    """Each harness's database: a SQLite file, or an empty PostgreSQL schema (the suite's own cluster)."""
    if request.param == "sqlite":
        return lambda folder: str(folder / "smsgate.sqlite3")
    make = request.getfixturevalue("pg_url")
    return lambda folder: make()


@pytest.fixture(params=BACKENDS)
def open_store(request, tmp_path):
    """For the store's own tests: a factory opening one database anew on each call (a SQLite file, or an empty
    PostgreSQL schema, migrated), as a restarted gateway would."""
    if request.param == "sqlite":
        path = tmp_path / "s.sqlite3"
        return lambda: SQLiteStore(path)
    url = request.getfixturevalue("pg_url")()
    return lambda: PostgresStore(url, migrate=True)


@pytest.fixture
def backend(smsgate_database, request):
    """The store backend this test runs on: `sqlite` or `postgresql`."""
    return request.node.callspec.params["smsgate_database"]


@pytest.fixture
def toy(smsgate_harness):
    """A harness factory with one toy channel `t` (country RW) answering 200 'ext-1' by default."""

    def make(respond=None, **settings):
        return smsgate_harness({"t": {"adapter": "toy", "country": "RW", "max_retry_wait": 0, **settings}},
                               adapters=[Toy], respond=respond or (lambda r: httpx.Response(200, text="ext-1")))

    return make
