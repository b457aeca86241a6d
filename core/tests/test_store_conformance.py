"""The SQLite store passes the conformance suite every backend runs (smsgate.store.conformance)."""

import pytest
from smsgate.store import SQLiteStore
from smsgate.store.conformance import StoreConformance


class TestSQLiteStore(StoreConformance):
    @pytest.fixture
    def store_factory(self, tmp_path):
        return lambda: SQLiteStore(tmp_path / "smsgate.sqlite3", synchronous="NORMAL")
