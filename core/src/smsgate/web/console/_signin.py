"""Console sign-in limits: per client address, a few wrong secrets a minute, then 429 with Retry-After.

What one client does never holds another up: each address checks one secret at a time (its own lock), and the
password's scrypt runs in a thread under a small semaphore shared by all, so guesses from many addresses
cannot take every core either. A try is counted when it starts, so twenty concurrent guesses from one address
get five checks and fifteen refusals, not twenty checks. The counts live in this process: each instance
limits on its own (behind a load balancer a guesser gets `tries` a minute per instance).
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from starlette.requests import Request

__all__ = ["SignInLimits", "client_address"]

T = TypeVar("T")

_MAX_ADDRESSES = 10_000  # past this many addresses with recent tries, stale ones are swept on each new try


def client_address(request: Request, trust_proxy: bool) -> str:
    """The address a sign-in is counted against: the peer, or behind a trusted proxy the address that proxy
    appended to X-Forwarded-For (the last one: whatever the client wrote itself comes before it)."""
    if trust_proxy:
        forwarded = [part.strip() for part in request.headers.get("x-forwarded-for", "").split(",") if part.strip()]
        if forwarded:
            return forwarded[-1]
    return request.client.host if request.client else "unknown"


class SignInLimits:
    """At most `tries` wrong sign-ins per address in any `window` seconds; checks one at a time per address."""

    def __init__(self, tries: int = 5, window: float = 60.0, *, checks: int | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.tries, self.window, self.clock = tries, window, clock
        self._recent: dict[str, deque[float]] = {}
        self._locks: dict[str, tuple[asyncio.Lock, list[int]]] = {}  # the lock and how many hold or await it
        # scrypt takes a core and 32 MiB for ~0.1 s: as many at once as there are cores, at least two
        self._checks = asyncio.Semaphore(checks or max(2, os.cpu_count() or 2))

    def _tries_of(self, address: str, now: float) -> deque[float]:
        recent = self._recent.setdefault(address, deque())
        while recent and recent[0] <= now - self.window:
            recent.popleft()
        return recent

    def refused_for(self, address: str) -> int | None:
        """Whole seconds until `address` may try again, or None while it has tries left."""
        now = self.clock()
        recent = self._tries_of(address, now)
        if len(recent) < self.tries:
            return None
        return max(1, math.ceil(recent[0] + self.window - now))

    def begin(self, address: str) -> float:
        """Count a try of `address` now (before its check, so concurrent tries count); its stamp."""
        now = self.clock()
        if len(self._recent) > _MAX_ADDRESSES:
            for other in [a for a, recent in self._recent.items() if not recent or recent[-1] <= now - self.window]:
                del self._recent[other]
        self._tries_of(address, now).append(now)
        return now

    def forgive(self, address: str, stamp: float) -> None:
        """The try counted at `stamp` was right: it does not count against the address."""
        recent = self._recent.get(address)
        if recent is not None:
            try:
                recent.remove(stamp)
            except ValueError:  # already past the window
                pass

    @asynccontextmanager
    async def turn(self, address: str) -> AsyncIterator[None]:
        """One check at a time for `address`; other addresses go on meanwhile."""
        lock, users = self._locks.setdefault(address, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            async with lock:
                yield
        finally:
            users[0] -= 1
            if not users[0]:  # nobody holds or awaits it: an address's lock lives only while it is used
                del self._locks[address]

    async def hash_check(self, check: Callable[..., T], *args: Any) -> T:
        """Run a costly check (scrypt) in a thread, at most `checks` at once across all addresses."""
        async with self._checks:
            return await asyncio.to_thread(check, *args)
