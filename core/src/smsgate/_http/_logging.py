"""Python logging of the HTTP libraries with every channel's secrets masked, as in channel logs.

httpx logs each request URL at INFO and httpcore each response's headers at DEBUG: with `smsgate --debug`, a
password sent in a query string (Kannel's) or echoed in a header would otherwise reach the log output.
"""

from __future__ import annotations

import logging
import weakref

from ._channellog import Redactor

__all__ = ["redact_library_logs"]

# A filter on a logger only sees that logger's own records, not its children's: httpcore's are named one by one.
_LOGGERS = ("httpx", "httpcore.connection", "httpcore.http11", "httpcore.http2", "httpcore.proxy", "httpcore.socks")


class _RedactingFilter(logging.Filter):
    """Rewrites each record's message with the secrets of every live redactor masked; drops nothing."""

    def __init__(self) -> None:
        super().__init__()
        # weak: a closed gateway's adapters, and their secrets, must not be kept alive by logging
        self.redactors: weakref.WeakSet[Redactor] = weakref.WeakSet()

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask the record's formatted message in place; always let it through."""
        redactors = list(self.redactors)
        if not redactors:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the handler's to report, not a reason to fail the request
            return True
        masked = message
        for redactor in redactors:
            masked = redactor.text(masked)
        if masked != message:
            record.msg, record.args = masked, None
        return True


_filter = _RedactingFilter()


def redact_library_logs(redactor: Redactor) -> None:
    """Mask `redactor`'s secrets in what httpx and httpcore log, for as long as `redactor` lives."""
    _filter.redactors.add(redactor)
    for name in _LOGGERS:
        logging.getLogger(name).addFilter(_filter)  # a no-op when already there
