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
import functools
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from .._models import MessageRecord, Status, utcnow
from ..config import GatewaySettings
from ..store import Notifier, StatusChange, WakeupLoop, backoff
from ._channels import Channels
from ._gateway import IN_DOUBT_REASON, SendOutcome
from ._routing import LinkDown

__all__ = ["SendQueue", "SendWorker", "Sender"]


class Sender(Protocol):
    """What the worker needs of the gateway: one attempt of a claimed message, and giving a message up."""

    async def send_claimed(self, claimed: MessageRecord) -> SendOutcome:
        """Send a message this worker claimed, once."""

    async def fail(self, message_id: str, error_code: str, error_reason: str, *, held: bool = False
                   ) -> StatusChange:
        """Mark a message failed for good."""


class SendQueue(Notifier, Protocol):
    """What the worker needs of the store: claims with leases, the retry schedule, and commits' wake-ups."""

    async def claim_due(self, channel: str, *, limit: int = 100, lease_seconds: float = 300, routed: bool = False
                        ) -> Sequence[MessageRecord]:
        """Claim up to `limit` due messages of `channel` (`routed`: only those a route may move elsewhere)."""

    async def renew(self, message_id: str, lease_seconds: float) -> Any:
        """Extend this worker's claim of a message still being sent."""

    async def schedule_retry(self, message_id: str, when: datetime) -> Any:
        """Leave an errored message alone until `when`."""


class SendWorker(WakeupLoop):
    """Attempts due messages, at most `concurrency` at once per channel, until stopped."""

    name = "worker"
    cancel_on_stop = False  # a round only starts attempts; `stop` lets those finish for `grace` seconds

    def __init__(self, sender: Sender, queue: SendQueue, channels: Channels, settings: GatewaySettings, *,
                 concurrency: int | None = None, max_attempts: int | None = None,
                 retry_base: float | None = None, retry_max: float | None = None, lease: float | None = None,
                 poll_interval: float = 1.0, link_down: LinkDown | None = None,
                 may_move: Callable[[str], bool] | None = None) -> None:
        super().__init__(queue, "queued", poll_interval)
        self.sender = sender
        self.queue = queue
        self.channels = channels
        self.link_down: LinkDown = link_down or channels.down
        """Why a channel's link is down (the gateway's `link_down`): its messages wait, or are moved."""
        self.may_move = may_move or (lambda _channel: False)
        """Whether a route may move a down channel's messages to a channel that is up (`Router.may_move`)."""
        self.concurrency = concurrency or settings.send_concurrency
        # a channel may want more in flight than the default (an SMPP window): its own send_concurrency wins
        self._limits = {name: concurrency or channels.settings(name).send_concurrency or self.concurrency
                        for name in channels}
        self.max_attempts = max_attempts or settings.send_max_attempts
        self.retry_base = settings.send_retry_base if retry_base is None else retry_base
        self.retry_max = settings.send_retry_max if retry_max is None else retry_max
        self.lease = lease or settings.send_lease
        self.inflight: dict[str, dict[str, asyncio.Task[None]]] = {name: {} for name in channels}

    # -- one round --------------------------------------------------------------------------------------

    async def round(self) -> int:
        """Start an attempt for each due message a channel has room for; return how many started."""
        return await self.fill()

    async def fill(self) -> int:
        """Start an attempt for each due message a channel has room for; return how many started."""
        started = 0
        for channel, running in self.inflight.items():
            room = self._limits[channel] - len(running)
            if room <= 0 or self._stopping:
                continue
            # a channel whose connection is down (an SMPP bind) keeps its messages queued, unattempted, until it
            # is back: attempting would only burn their attempts and back them off past the reconnect. Those a
            # route may send elsewhere are taken, and the gateway moves them to a channel that is up at once.
            options: dict[str, Any] = {}
            if self.link_down(channel) is not None:
                if not self.may_move(channel):
                    continue
                options["routed"] = True
            for record in await self.queue.claim_due(channel, limit=room, lease_seconds=self.lease, **options):
                if record.id in running:  # its lease lapsed while we still send it: the running task finishes it
                    continue
                task = asyncio.create_task(self._process(record), name=f"smsgate-send-{record.id}")
                running[record.id] = task
                task.add_done_callback(functools.partial(self._finished, channel, record.id))
                started += 1
        return started

    def _finished(self, channel: str, message_id: str, _task: asyncio.Task[None]) -> None:
        self.inflight[channel].pop(message_id, None)
        self.wake()

    async def run_once(self) -> int:
        """Start what is due now and wait for those attempts to end; return how many ran (for tests and tools)."""
        started = await self.fill()
        running = [t for tasks in self.inflight.values() for t in tasks.values()]
        if running:
            await asyncio.gather(*running, return_exceptions=True)
        return started

    # -- one message ------------------------------------------------------------------------------------

    async def _process(self, record: MessageRecord) -> None:
        try:
            await self._process_once(record)
        except Exception:  # the claim lapses and a later round retries; never let one message stop the worker
            self.log.exception("sending %s failed unexpectedly", record.id)

    async def _process_once(self, record: MessageRecord) -> None:
        # `record` is claimed for us, and its claim already counts an attempt
        settings = self.channels.settings(record.channel)
        if record.sending_at is not None and not settings.retry_on_timeout:
            # a request of an earlier claim went out and nobody saw its answer (that sender died): the aggregator
            # may have it, so it is failed, not sent again; with retry_on_timeout it is sent again below
            await self.sender.fail(record.id, "in_doubt", IN_DOUBT_REASON, held=True)
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
            await self.queue.schedule_retry(message.id, utcnow() + timedelta(seconds=delay))

    async def _give_up(self, message: MessageRecord, held: bool = False) -> None:
        reason = f"gave up after {message.attempts} attempt(s); last error: {message.error_reason or 'none'}"
        await self.sender.fail(message.id, message.error_code or "errored", reason, held=held)

    def backoff(self, attempts: int) -> float:
        """Seconds before attempt number `attempts + 1`: exponential, capped, with jitter."""
        return backoff(attempts - 1, self.retry_base, self.retry_max, 0.2)

    async def _attempt(self, record: MessageRecord) -> SendOutcome:
        message_id = record.id
        task = asyncio.ensure_future(self.sender.send_claimed(record))
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=self.lease / 3)
                if done:
                    return task.result()
                # still sending (retries, a slow aggregator): keep the claim so no other worker takes it
                await self.queue.renew(message_id, self.lease)
        finally:
            if not task.done():
                task.cancel()

    # -- stopping ---------------------------------------------------------------------------------------

    async def stop(self, grace: float = 30.0) -> None:
        """Take nothing new; let attempts in flight finish for up to `grace` seconds, then cancel them."""
        await super().stop()
        running = [t for tasks in self.inflight.values() for t in tasks.values()]
        if running:
            _done, pending = await asyncio.wait(running, timeout=grace)
            for task in pending:  # their claims lapse; a restarted worker resumes them
                task.cancel()
            if pending:
                await asyncio.wait(pending)
