"""What Kannel says, in smsgate's terms: delivery-report types as statuses, sendsms answers as send errors."""

from __future__ import annotations

import httpx
from smsgate import SendError, Status
from smsgate.http import check_response

__all__ = ["DLR_STATUS", "DLR_SUFFIX", "check_sendsms"]

#: Kannel DLR type (`%d`) → our status and the reason kept with a failure.
DLR_STATUS: dict[int, tuple[Status, str]] = {
    1: (Status.DELIVERED, "delivered to the phone"),
    2: (Status.FAILED, "not delivered to the phone"),
    4: (Status.SENT, "buffered at the SMSC"),
    8: (Status.SENT, "accepted by the SMSC"),
    16: (Status.FAILED, "rejected by the SMSC"),
}

#: What each send appends to the status callback: Kannel substitutes the DLR type and the SMSC's reply.
DLR_SUFFIX = "&status=%d&smsc_reply=%A"


def check_sendsms(response: httpx.Response) -> None:
    """The core's status classes, with Kannel's own explanation (e.g. `Authorization failed for sendsms`)."""
    try:
        check_response(response)
    except SendError as exc:
        said = " ".join(response.text.split())[:200]
        if said:
            exc.reason = f"{exc.reason}: {said}"
            exc.args = (exc.reason,)
        raise
