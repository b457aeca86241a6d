"""The tests every `Store` backend passes: subclass `StoreConformance` and give it a `store_factory` fixture.

    from smsgate.store.conformance import StoreConformance

    class TestMyStore(StoreConformance):
        @pytest.fixture
        def store_factory(self, tmp_path):
            return lambda: MyStore(tmp_path / "db")   # each call opens the SAME database anew

Each test runs its own event loop (no async pytest plugin needed). They pin what the gateway relies on: a
write is visible once its coroutine returns and survives reopening; an id or an inbound (channel, external id)
is stored once; a status never moves backwards and a replay is recorded once; every lookup of an inbound
event stays within its channel; platform events are planned into the outbox in the write's transaction and
delivered in order per key; claims, leases and backoff keep a message with one sender at a time; the
operators' reads (message pages by cursor, per-hour counts, backlog, last errors, a message's outbox) find
every match once, newest first. The `...across_stores` tests open the database twice at once, as two
instances of `smsgate serve` do: a claim, an inbound external id, a status move and an outbox item are
each won by one of them.

One module per part of the contract: `sends` (outgoing messages and their statuses), `inbound`, `outbox`,
`reads` (listings, pages, the operators' reads), `upkeep` (retention, pruning), `instances` (two stores on one
database), `parts` (what connection-oriented adapters rely on), `routing` (failover's moves, tenants' limits and
listings). `StoreConformance` is all of them.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from .._protocol import Store
from .inbound import Inbound
from .instances import Instances
from .outbox import Outbox
from .parts import Parts
from .reads import Reads
from .routing import Routing
from .sends import Sends
from .upkeep import Upkeep

__all__ = ["StoreConformance"]


class StoreConformance(Sends, Inbound, Outbox, Reads, Upkeep, Instances, Parts, Routing):
    """What every backend must do; `store_factory` (a fixture) returns a callable opening the same database."""

    @pytest.fixture
    def store_factory(self) -> Callable[[], Store]:
        """Override: a callable that opens (again) one database of the backend under test."""
        raise NotImplementedError("a StoreConformance subclass provides the store_factory fixture")
