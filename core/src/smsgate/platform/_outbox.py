"""The platform outbox: signed webhooks and bridge calls, planned in the event's transaction, delivered until 2xx.

Planning (`build_planner`) runs inside the store's transaction and only decides *what* to deliver. The
`OutboxDispatcher` (started by `smsgate serve`) delivers each (target, key) queue in order — one message's
events never overtake each other — retrying with exponential backoff until the receiver answers 2xx.
Webhooks follow Standard Webhooks: headers `webhook-id` (stable across retries), `webhook-timestamp` and
`webhook-signature` = `v1,` + base64(HMAC-SHA256(key, f"{id}.{timestamp}.{body}")).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any

import httpx

from .. import _json as strict_json
from .._http._client import HttpClient, parse_retry_after
from .._models import utcnow
from ..config._settings import WebhookSettings
from ..store import OutboxRow, Store, WakeupLoop, backoff

__all__ = ["DeliveryFailed", "Deliver", "OutboxDispatcher", "post", "sign_webhook", "webhook_body", "webhook_delivery"]

Deliver = Callable[[OutboxRow], Awaitable[None]]
"""Delivers one outbox row to its target; raises `DeliveryFailed` (or anything) when it was not acknowledged."""

log = logging.getLogger("smsgate.outbox")


def sign_webhook(key: bytes, msg_id: str, timestamp: int, body: str) -> str:
    """The `webhook-signature` header value: `v1,` + base64(HMAC-SHA256(key, f"{id}.{timestamp}.{body}"))."""
    digest = hmac.new(key, f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def webhook_body(payload: Mapping[str, Any]) -> str:
    """The exact JSON text sent (and signed) for a webhook payload."""
    return strict_json.dumps(payload)


class DeliveryFailed(Exception):
    """The receiver did not acknowledge: retry later (after `retry_after` seconds when it said so)."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        self.reason, self.retry_after = reason, retry_after
        super().__init__(reason)


async def post(http: HttpClient, timeout: float, **request: Any) -> None:
    """Send one request with the shared client (its direct path, as sends take); DeliveryFailed unless the
    answer is 2xx."""
    try:
        response = await http.send_once(timeout=timeout, **request)
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__) from None
    if not 200 <= response.status_code < 300:
        retry_after = None
        if response.status_code in (429, 503):
            retry_after = parse_retry_after(response.headers.get("retry-after"))
        raise DeliveryFailed(f"HTTP {response.status_code}", retry_after)


def webhook_delivery(http: HttpClient, hook: WebhookSettings) -> Deliver:
    """Delivers rows to `hook`: the payload as JSON, signed per Standard Webhooks with the row's stable id."""
    key = hook.key()

    async def deliver(row: OutboxRow) -> None:
        body = webhook_body(row.payload)
        timestamp = int(time.time())
        headers = {"Content-Type": "application/json", "webhook-id": row.id, "webhook-timestamp": str(timestamp),
                   "webhook-signature": sign_webhook(key, row.id, timestamp, body)}
        await post(http, hook.timeout, method="POST", url=hook.url, content=body.encode(), headers=headers)

    return deliver


class OutboxDispatcher(WakeupLoop):
    """Delivers the outbox: in order per (target, key), concurrently across keys, retried until 2xx.

    `deliveries` maps each target (`webhook:<url>`, `bridge:<name>`) to what delivers to it; an item whose
    target is not there (removed from the config) is kept and retried, in case it comes back. A dead
    dispatcher's claims are not released by another: it may hold them right now; they expire within
    `lease_seconds` (a live dispatcher renews its own) and are delivered then.
    """

    name = "outbox"

    def __init__(self, store: Store, deliveries: Mapping[str, Deliver], *, lease_seconds: float = 15.0,
                 concurrency: int = 8, retry_base: float = 1.0, retry_max: float = 300.0,
                 poll_interval: float = 1.0, on_delivery: Callable[[str, str], None] | None = None) -> None:
        super().__init__(store, "outbox", poll_interval)
        self.store = store
        self.on_delivery = on_delivery  # told (target, "delivered" | "failed" | "error") after each attempt
        self.deliveries = dict(deliveries)
        self.lease_seconds = lease_seconds
        self.concurrency = concurrency
        self.retry_base = retry_base
        self.retry_max = retry_max

    # -- delivery -------------------------------------------------------------------------------------

    async def deliver_due(self) -> int:
        """Attempt every item due now once (the head of each queue); return how many were attempted.

        The items' leases are short and renewed every third of one until each is delivered or released: a
        receiver may take its whole timeout, yet the items of a dispatcher that died (its process, or its
        instance) are free for another within `lease_seconds`."""
        rows = await self.store.outbox_due(limit=self.concurrency * 4, lease_seconds=self.lease_seconds)
        if not rows:
            return 0
        limit = asyncio.Semaphore(self.concurrency)
        held = {row.id for row in rows}

        async def one(row: OutboxRow) -> None:
            async with limit:
                try:
                    await self._deliver(row)
                finally:
                    held.discard(row.id)

        renewing = asyncio.create_task(self._renew(held), name="smsgate-outbox-renew")
        try:
            await asyncio.gather(*(one(r) for r in rows))
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
        return len(rows)

    async def _renew(self, held: set[str]) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            try:
                await self.store.outbox_renew(sorted(held), self.lease_seconds)
            except Exception as exc:  # the next renewal may succeed; a lapsed lease means at most a repeat
                log.warning("outbox leases not renewed: %s", exc)

    async def round(self) -> int:
        """Deliver what is due now (the loop's round)."""
        return await self.deliver_due()

    async def _deliver(self, row: OutboxRow) -> None:
        deliver = self.deliveries.get(row.target)
        try:
            if deliver is None:
                # its webhook or bridge left the config: keep the item, in case it comes back
                raise DeliveryFailed(f"{row.target} is not configured", retry_after=self.retry_max)
            await deliver(row)
        except DeliveryFailed as exc:
            delay = (min(exc.retry_after, self.retry_max) if exc.retry_after is not None
                     else self._backoff(row.attempts))
            log.warning("outbox %s to %s failed (attempt %d): %s; next in %.1fs", row.id, row.target,
                        row.attempts + 1, exc.reason, delay)
            await self.store.outbox_retry(row.id, utcnow() + timedelta(seconds=delay), exc.reason)
            outcome = "failed"
        except Exception as exc:  # a bug must not stop the other deliveries; the item is retried
            log.exception("outbox %s to %s crashed", row.id, row.target)
            await self.store.outbox_retry(row.id, utcnow() + timedelta(seconds=self._backoff(row.attempts)),
                                          f"{type(exc).__name__}: {exc}")
            outcome = "error"
        else:
            await self.store.outbox_done(row.id)
            outcome = "delivered"
        if self.on_delivery is not None:
            self.on_delivery(row.target, outcome)

    def _backoff(self, attempts: int) -> float:
        # jitter: receivers coming back are not hit all at once
        return backoff(attempts, self.retry_base, self.retry_max, 0.25)
