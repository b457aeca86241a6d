"""Both stores pass the conformance suite every backend runs (smsgate.store.conformance)."""

import pytest
from smsgate.store import PostgresStore, SQLiteStore
from smsgate.store.conformance import StoreConformance


class TestSQLiteStore(StoreConformance):
    @pytest.fixture
    def store_factory(self, tmp_path):
        return lambda: SQLiteStore(tmp_path / "smsgate.sqlite3", synchronous="NORMAL")


class TestPostgresStore(StoreConformance):
    @pytest.fixture
    def store_factory(self, pg_url):
        url = pg_url()
        return lambda: PostgresStore(url, migrate=True)
