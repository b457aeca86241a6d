"""The gateway: channels bound to adapters, the send and inbound pipelines, and the send worker.

    _gateway    Gateway: `enqueue`, `send` (`final=` for the command line), `send_claimed` (the worker's);
                `handle_inbound`, `receive` (inbound); ChannelInbound, the sink a bind's adapter stores through
    _channels   Channels: the read-only view of the channels the API, console, metrics and worker use
    _routing    Router: which channel sends a number by `[[routes]]`, and what `smsgate route` explains
    _worker     SendWorker: claims due messages from the store and sends them through the gateway
    _open       open_gateway / open_worker / open_outbox / open_retention: built from a config
"""

from ._channels import Channels
from ._gateway import (
    FINAL_REASON,
    IN_DOUBT_REASON,
    READ_TIMEOUT_REASON,
    ChannelInbound,
    Gateway,
    Sending,
    SendOutcome,
    resend_id,
)
from ._open import open_gateway, open_outbox, open_retention, open_worker, platform_of
from ._routing import Choice, LinkDown, Router, RouteVerdict
from ._worker import Sender, SendQueue, SendWorker

__all__ = [
    "FINAL_REASON",
    "IN_DOUBT_REASON",
    "READ_TIMEOUT_REASON",
    "ChannelInbound",
    "Channels",
    "Choice",
    "Gateway",
    "LinkDown",
    "RouteVerdict",
    "Router",
    "SendOutcome",
    "SendQueue",
    "SendWorker",
    "Sender",
    "Sending",
    "open_gateway",
    "open_outbox",
    "open_retention",
    "open_worker",
    "platform_of",
    "resend_id",
]
