"""The platform side: what the applications behind smsgate hear, and how it reaches them.

    _platform   Platform: one config's webhooks and bridges; plans outbox rows from stored events
    _outbox     OutboxDispatcher: signed webhook deliveries with retries, from the durable outbox
    _bridges    RapidProBridge: RapidPro's Courier-style send endpoint and its callbacks
    twilio      Twilio's Messages API in front of the channels: the resource, status callbacks, incoming webhooks

What an event is (`smsgate._events`) is decided by the store in the write's own transaction; this package
only turns those events into deliveries.
"""

from ._bridges import RapidProBridge, make_bridges
from ._outbox import Deliver, DeliveryFailed, OutboxDispatcher, post, sign_webhook, webhook_body, webhook_delivery
from ._platform import Platform

__all__ = [
    "Deliver",
    "DeliveryFailed",
    "OutboxDispatcher",
    "Platform",
    "RapidProBridge",
    "make_bridges",
    "post",
    "sign_webhook",
    "webhook_body",
    "webhook_delivery",
]
