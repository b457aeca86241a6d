"""What a `smsgate serve` subprocess stored, read from the test: the adapters' end-to-end tests against real peers
(Kannel, Jasmin) wait on its SQLite database for a send's receipt or an MO to arrive.

Mix `StoreWatch` into a test's set-up object holding `database` (the file `smsgate serve` writes) and a `logs()`
that shows what the peers and serve said, printed when a wait runs out.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, ClassVar

from smsgate.store import SQLiteStore

__all__ = ["StoreWatch"]


class StoreWatch:
    """`store_call(fn)`: one read on a store of its own; `wait_for(what, fn)`: that read until it finds something."""

    database: Path
    wait_timeout: ClassVar[float] = 15.0  # seconds `wait_for` waits unless told otherwise

    def logs(self) -> str:
        """What the peers and `smsgate serve` said, for a failed wait."""
        raise NotImplementedError

    def store_call(self, fn: Callable[[SQLiteStore], Awaitable[Any]]) -> Any:
        """`fn(store)` on the database, opened and closed around the call (serve keeps writing meanwhile)."""

        async def go() -> Any:
            store = SQLiteStore(str(self.database), synchronous="NORMAL")
            try:
                return await fn(store)
            finally:
                await store.close()

        return asyncio.run(go())

    def wait_for(self, what: str, fn: Callable[[SQLiteStore], Awaitable[Any]], timeout: float | None = None) -> Any:
        """The first truthy answer of `fn(store)`, asked every 0.1 s; fails naming `what`, with the logs."""
        timeout = self.wait_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while True:
            found = self.store_call(fn)
            if found:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} not seen within {timeout}s\n{self.logs()}")
            time.sleep(0.1)
