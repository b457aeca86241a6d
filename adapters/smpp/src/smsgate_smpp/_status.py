"""What SMPP's codes mean to smsgate: a refused request's command_status as a core error, a delivery receipt's
`stat` as a message status."""

from __future__ import annotations

from smsgate import SendError, Status
from smsgate.errors import ChannelConfigError, ConnectionFailed, MessageInvalid, RejectedWithReason, Throttled

from ._pdu import ESME_RMSGQFUL, ESME_RTHROTTLED, STATUS_NAMES, status_name

__all__ = ["RECEIPT_STATUS", "send_error"]

# command_status → the error class a refused submit_sm raises (the rest: RejectedWithReason)
_INVALID = {0x01, 0x0A, 0x0B, 0x42, 0x43, 0x48, 0x49, 0x50, 0x51, 0x61, 0x62, 0xC0, 0xC1, 0xC2, 0xC3, 0xC4}
_CONFIG = {0x0D, 0x0E, 0x0F, 0x15, 0x53}
_SESSION = {0x04, 0x05}  # the session is not in a state to submit: a new bind may succeed

#: A receipt's `stat:` → our status (SMPP 3.4 appendix B).
RECEIPT_STATUS = {
    "DELIVRD": Status.DELIVERED,
    "ACCEPTD": Status.SENT,
    "ENROUTE": Status.SENT,
    "UNDELIV": Status.FAILED,
    "REJECTD": Status.FAILED,
    "EXPIRED": Status.FAILED,
    "DELETED": Status.FAILED,
}


def send_error(command: str, status: int, where: str) -> SendError:
    """The core error for a refused request: THROTTLED/MSGQFUL retryable, the others by kind; `ext_code` is
    the SMPP name (e.g. ESME_RINVDSTADR), the reason names it with its value."""
    name = STATUS_NAMES.get(status, f"0x{status:08X}")
    reason = f"{command} refused by {where}: {status_name(status)}"
    if status in (ESME_RTHROTTLED, ESME_RMSGQFUL):
        return Throttled(reason, ext_code=name)
    if status in _SESSION:  # refused for the session's state: the SMSC did not take the message
        return ConnectionFailed(reason, ext_code=name, not_taken=True)
    if status in _INVALID:
        return MessageInvalid(reason, ext_code=name)
    if status in _CONFIG:
        return ChannelConfigError(reason, ext_code=name)
    return RejectedWithReason(reason, ext_code=name)
