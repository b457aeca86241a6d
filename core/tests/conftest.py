"""Shared fixtures for the core's own tests: every harness test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import httpx
import pytest
from toy_adapter import Toy

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def smsgate_database(request):
    """Each harness's database: a SQLite file, or an empty PostgreSQL schema (the suite's own cluster)."""
    if request.param == "sqlite":
        return lambda folder: str(folder / "smsgate.sqlite3")
    make = request.getfixturevalue("pg_url")
    return lambda folder: make()


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
