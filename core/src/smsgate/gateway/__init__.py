"""The gateway: channels bound to adapters, the send and inbound pipelines, and the send worker.

    _gateway   Gateway: `enqueue`, `send`, `send_claimed` (sending); `handle_inbound`, `receive` (inbound)
    _worker    SendWorker: claims due messages from the store and sends them through the gateway
"""

from ._gateway import IN_DOUBT_REASON, READ_TIMEOUT_REASON, ChannelInbound, Gateway, SendOutcome
from ._worker import SendWorker

__all__ = ["IN_DOUBT_REASON", "READ_TIMEOUT_REASON", "ChannelInbound", "Gateway", "SendOutcome", "SendWorker"]
