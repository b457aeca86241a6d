"""Coalescing: the calls of one event-loop tick made into one batch write.

A send worker with a window of 100 starts 100 sends in one tick; each one marks its message "sending" just
before its request leaves, and stores its outcome when the answer comes (the answers of one SMPP read arrive
together). Made one by one, that is a job, a savepoint, a statement and a future each on the SQLite writer
thread, or a round trip each on PostgreSQL. `Coalescer` gathers the calls made until the loop next runs its
ready callbacks and hands them to one batch function (one `UPDATE ... WHERE id IN (...)`, one transaction),
then answers each caller with its own result or its own error. Each caller still returns only after the
batch's transaction committed, so "durable before it returns" holds unchanged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

__all__ = ["Coalescer"]

I = TypeVar("I")  # noqa: E741
R = TypeVar("R")

Batch = Callable[[list[I]], Awaitable[Sequence[R | BaseException]]]


class Coalescer(Generic[I, R]):
    """`await coalescer(item)`: `item` joins the batch of this loop tick; `run(items)` answers every item of
    a batch in order, with a result or an exception for that item alone (an exception raised by `run` itself
    fails the whole batch: nothing of it was stored)."""

    def __init__(self, run: Batch[I, R], *, limit: int = 500) -> None:
        self._run = run
        self._limit = limit
        self._pending: dict[asyncio.AbstractEventLoop, list[tuple[I, asyncio.Future[R]]]] = {}

    async def __call__(self, item: I) -> R:
        """`item`'s result, once the batch holding it committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        pending = self._pending.get(loop)
        if pending is None:
            pending = self._pending[loop] = []
            # one tick later: every caller that runs in this tick (a window's sends) is in the batch by then
            loop.call_soon(self._flush, loop)
        pending.append((item, future))
        if len(pending) >= self._limit:
            self._flush(loop)
        # a caller cancelled while it waits leaves its item in the batch: the write stands, as any write does
        return await future

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        batch = self._pending.pop(loop, None)
        if batch:
            loop.create_task(self._settle(batch), name="smsgate-store-batch")

    async def _settle(self, batch: list[tuple[I, asyncio.Future[R]]]) -> None:
        try:
            results = await self._run([item for item, _ in batch])
        except BaseException as exc:  # the batch's transaction failed: every caller hears it
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)
