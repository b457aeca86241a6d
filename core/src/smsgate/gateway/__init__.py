"""The gateway: channels bound to adapters, the send and inbound pipelines, and the send worker.

    _gateway    Gateway: `enqueue`, `send` (`final=` for the command line), `send_claimed` (the worker's);
                `handle_inbound`, `receive` (inbound); ChannelInbound, the sink a bind's adapter stores through
    _channels   Channels: the read-only view of the channels the API, console, metrics and worker use
    _routing    Router: which channel sends a number by `[[routes]]`, and what `smsgate route` explains
    _worker     SendWorker: claims due messages from the store and sends them through the gateway
    _links      Links: each channel's link by this instance's evidence (probes, sends, binds), kept in the store
    _prober     LinkProber: every channel's link probe every `health_interval` seconds under `smsgate serve`
    _status     channel_status: each channel's link, last minute, queue and last error (`smsgate status`)
    _open       open_gateway / open_worker / open_outbox / open_prober / open_retention: built from a config
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
from ._links import Links, send_evidence
from ._open import open_gateway, open_outbox, open_prober, open_retention, open_worker, platform_of
from ._prober import LinkProber
from ._routing import Choice, LinkDown, Router, RouteVerdict
from ._status import WINDOW_SECONDS, ChannelStatus, channel_status, message_timing
from ._worker import Sender, SendQueue, SendWorker

__all__ = [
    "FINAL_REASON",
    "IN_DOUBT_REASON",
    "READ_TIMEOUT_REASON",
    "WINDOW_SECONDS",
    "ChannelInbound",
    "ChannelStatus",
    "Channels",
    "Choice",
    "Gateway",
    "LinkDown",
    "LinkProber",
    "Links",
    "RouteVerdict",
    "Router",
    "SendOutcome",
    "SendQueue",
    "SendWorker",
    "Sender",
    "Sending",
    "channel_status",
    "message_timing",
    "open_gateway",
    "open_outbox",
    "open_prober",
    "open_retention",
    "open_worker",
    "platform_of",
    "resend_id",
    "send_evidence",
]
