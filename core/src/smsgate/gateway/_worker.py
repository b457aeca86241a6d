"""The send worker of `smsgate serve`: drains queued and errored messages per channel, durably and only once.

Each round claims the due messages a channel has room for in one write (`Store.claim_due`: with several
instances on one PostgreSQL database, `FOR UPDATE SKIP LOCKED` gives each message to one of them), then sends
each through `Gateway.send_claimed` (the channel's retries and `tps`, one stored outcome). The worker renews
the claim while the attempt runs, so after a crash another worker (this instance restarted, or another one)
resumes the message once the lease (`[gateway] send_lease`) expires. Between attempts an errored message backs off
(`send_retry_base` doubling to `send_retry_max`, or the aggregator's Retry-After) until `send_max_attempts`,
then it is failed.

Sends that may already have reached the aggregator are never repeated automatically unless the channel sets
`retry_on_timeout`: a request left without an answer is failed by the gateway at once (`read_timeout`), and a
send whose request was out when the gateway died (its durable `sending` mark) is failed here (`in_doubt`),
with a reason saying so, because retrying could deliver the SMS twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
from dataclasses import replace
from datetime import timedelta

from .._models import MessageRecord, Status, utcnow
from ..errors import StoreUnavailable
from ..store import Wakeup
from ._gateway import IN_DOUBT_REASON, Gateway, SendOutcome

__all__ = ["SendWorker"]

log = logging.getLogger("smsgate.worker")


class SendWorker:
    """Attempts due messages, at most `concurrency` at once per channel, until stopped."""

    def __init__(self, gateway: Gateway, *, concurrency: int | None = None, max_attempts: int | None = None,
                 retry_base: float | None = None, retry_max: float | None = None, lease: float | None = None,
                 poll_interval: float = 1.0) -> None:
        settings = gateway.config.gateway
        self.gateway = gateway
        self.store = gateway.store
        self.concurrency = concurrency or settings.send_concurrency
        # a channel may want more in flight than the default (an SMPP window): its own send_concurrency wins
        self._limits = {name: concurrency or adapter.settings.send_concurrency or self.concurrency
                        for name, adapter in gateway.adapters.items()}
        self.max_attempts = max_attempts or settings.send_max_attempts
        self.retry_base = settings.send_retry_base if retry_base is None else retry_base
        self.retry_max = settings.send_retry_max if retry_max is None else retry_max
        self.lease = lease or settings.send_lease
        self.poll_interval = poll_interval
        self.inflight: dict[str, dict[str, asyncio.Task[None]]] = {name: {} for name in gateway.adapters}
        self._wake = Wakeup(self.store, "queued")
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    # -- one round --------------------------------------------------------------------------------------

    async def fill(self) -> int:
        """Start an attempt for each due message a channel has room for; return how many started."""
        started = 0
        for channel, running in self.inflight.items():
            room = self._limits[channel] - len(running)
            if room <= 0 or self._stopping or not self._can_send(channel):
                continue
            for record in await self.store.claim_due(channel, limit=room, lease_seconds=self.lease):
                if record.id in running:  # its lease lapsed while we still send it: the running task finishes it
                    continue
                task = asyncio.create_task(self._process(record), name=f"smsgate-send-{record.id}")
                running[record.id] = task
                task.add_done_callback(functools.partial(self._finished, channel, record.id))
                started += 1
        return started

    def _can_send(self, channel: str) -> bool:
        # a channel whose connection is down (an SMPP bind) keeps its messages queued, unattempted, until it is
        # back: attempting would only burn their attempts and back them off past the reconnect
        try:
            return self.gateway.adapters[channel].health() is None
        except Exception:
            log.exception("channel %s: health check failed", channel)
            return True

    def _finished(self, channel: str, message_id: str, _task: asyncio.Task[None]) -> None:
        self.inflight[channel].pop(message_id, None)
        self._wake.set()

    async def run_once(self) -> int:
        """Start what is due now and wait for those attempts to end; return how many ran (for tests and tools)."""
        started = await self.fill()
        running = [t for tasks in self.inflight.values() for t in tasks.values()]
        if running:
            await asyncio.gather(*running, return_exceptions=True)
        return started

    async def drain(self, rounds: int = 1000) -> int:
        """Run rounds until nothing is due now; return the attempts made."""
        total = 0
        for _ in range(rounds):
            done = await self.run_once()
            if not done:
                break
            total += done
        return total

    # -- one message ------------------------------------------------------------------------------------

    async def _process(self, record: MessageRecord) -> None:
        try:
            await self._process_once(record)
        except Exception:  # the claim lapses and a later round retries; never let one message stop the worker
            log.exception("sending %s failed unexpectedly", record.id)

    async def _process_once(self, record: MessageRecord) -> None:
        # `record` is claimed for us, and its claim already counts an attempt
        gateway = self.gateway
        settings = gateway.adapters[record.channel].settings
        if record.sending_at is not None and not settings.retry_on_timeout:
            # a request of an earlier claim went out and nobody saw its answer (that sender died): the aggregator
            # may have it, so it is failed, not sent again; with retry_on_timeout it is sent again below
            await gateway.fail(record.id, "in_doubt", IN_DOUBT_REASON, held=True)
            return
        if record.attempts > self.max_attempts:  # the limit was lowered since this message was last tried
            await self._give_up(replace(record, attempts=record.attempts - 1), held=True)
            return
        outcome = await self._attempt(record)
        message = outcome.message
        if not outcome.sent or message.status != Status.ERRORED.value:
            return
        if message.attempts >= self.max_attempts:
            await self._give_up(message)
        else:
            hinted = outcome.result.retry_after if outcome.result else None
            delay = hinted if hinted is not None else self.backoff(message.attempts)
            await self.store.schedule_retry(message.id, utcnow() + timedelta(seconds=delay))

    async def _give_up(self, message: MessageRecord, held: bool = False) -> None:
        reason = f"gave up after {message.attempts} attempt(s); last error: {message.error_reason or 'none'}"
        await self.gateway.fail(message.id, message.error_code or "errored", reason, held=held)

    def backoff(self, attempts: int) -> float:
        """Seconds before attempt number `attempts + 1`: exponential, capped, with jitter."""
        base = min(self.retry_max, self.retry_base * 2 ** min(max(attempts - 1, 0), 30))
        return float(base * random.uniform(0.8, 1.0))  # jitter: retries of one outage spread out

    async def _attempt(self, record: MessageRecord) -> SendOutcome:
        message_id = record.id
        task = asyncio.ensure_future(self.gateway.send_claimed(record))
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=self.lease / 3)
                if done:
                    return task.result()
                # still sending (retries, a slow aggregator): keep the claim so no other worker takes it
                await self.store.renew(message_id, self.lease)
        finally:
            if not task.done():
                task.cancel()

    # -- running ----------------------------------------------------------------------------------------

    async def run(self) -> None:
        """Send until stopped: at once when a message is queued, else every `poll_interval` seconds."""
        self._wake.bind()
        while not self._stopping:
            self._wake.clear()
            try:
                await self.fill()
            except StoreUnavailable as exc:  # the database is away: one line a round, no traceback; it resumes
                log.warning("send round skipped: %s", exc)
            except Exception:
                log.exception("send round failed")
            await self._wake.wait(self.poll_interval)

    def start(self) -> None:
        """Run in the background of the current event loop."""
        self._wake.bind()
        self._task = asyncio.create_task(self.run(), name="smsgate-worker")

    async def stop(self, grace: float = 30.0) -> None:
        """Take nothing new; let attempts in flight finish for up to `grace` seconds, then cancel them."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        running = [t for tasks in self.inflight.values() for t in tasks.values()]
        if running:
            _done, pending = await asyncio.wait(running, timeout=grace)
            for task in pending:  # their claims lapse; a restarted worker resumes them
                task.cancel()
            if pending:
                await asyncio.wait(pending)
