"""Exceptions raised by smsgate.

The whole hierarchy::

    SmsgateError
    ├── ConfigError                 bad config: names the file, channel and field
    ├── PluginError                 a plugin failed to load or registered something invalid
    ├── RequestRejected             an inbound request is invalid: answered 4xx with the reason
    ├── StoreUnavailable            the database cannot be reached or written now: answered 503, retried
    ├── StoreInvalid                the database is not one smsgate can use (not its file, a newer schema)
    ├── LimitReached                a tenant's `tps` or `daily_limit` refused a message: answered 429, Retry-After
    └── SendError                   a send did not succeed (`retryable`, `retry_after`, `code`, `not_taken`)
        ├── RetryableError          the same request may succeed later → status `errored`
        │   ├── ConnectionFailed    transport error, timeout or HTTP 5xx (`not_taken` when provably refused)
        │   │   └── SentButUnanswered  the request left, no answer came: the aggregator may have it
        │   └── Throttled           HTTP 429 or the aggregator's rate-limit code (always `not_taken`)
        └── PermanentError          retrying cannot help → status `failed`
            ├── ResponseStatusError other non-2xx answer
            ├── ResponseContentError 2xx whose body lacks the expected content
            ├── RejectedWithReason  the aggregator refused with its own code and message
            ├── ContactStopped      the recipient opted out
            ├── MessageInvalid      the message cannot be sent (bad number, empty text...)
            └── ChannelConfigError  the channel's configuration cannot send
"""

from __future__ import annotations

__all__ = [
    "ChannelConfigError",
    "ConfigError",
    "ConnectionFailed",
    "ContactStopped",
    "LimitReached",
    "MessageInvalid",
    "PermanentError",
    "PluginError",
    "RejectedWithReason",
    "RequestRejected",
    "ResponseContentError",
    "ResponseStatusError",
    "RetryableError",
    "SendError",
    "SentButUnanswered",
    "SmsgateError",
    "StoreInvalid",
    "StoreUnavailable",
    "Throttled",
]


class SmsgateError(Exception):
    """Base of every error smsgate raises on purpose; its message is fit to show a user."""


class ConfigError(SmsgateError):
    """The configuration is invalid; the message names the file, then the key: `file: channels.kn.password: ...`."""

    def __init__(self, message: str, *, file: str | None = None, channel: str | None = None,
                 field: str | None = None) -> None:
        self.file, self.channel, self.field = file, channel, field
        # one style everywhere: the file, then the key's dotted path as it is written in TOML
        key = ".".join(p for p in (f"channels.{channel}" if channel else None, field) if p)
        where = ": ".join(p for p in (file, key) if p)
        self.key = key
        self.line = f"{where}: {message}" if where else message
        """This mistake alone, on one line (`str()` of the first of several also says how many more there are)."""
        self.problems: list[ConfigError] = [self]
        """Every mistake found in the same config, this one first (`smsgate check` prints them all)."""
        super().__init__(self.line)

    @classmethod
    def several(cls, problems: list[ConfigError]) -> ConfigError:
        """The first of `problems`, carrying them all: one line for a command, every line for `smsgate check`."""
        first = problems[0]
        first.problems = list(problems)
        if len(problems) > 1:
            first.args = (f"{first.line} (and {len(problems) - 1} more mistake(s): `smsgate check` lists every "
                          "one)",)
        return first


class PluginError(SmsgateError):
    """A plugin could not be loaded or registered an invalid adapter."""


class RequestRejected(SmsgateError):
    """An inbound request that the gateway refuses, with the HTTP status and the reason sent back."""

    def __init__(self, reason: str, status_code: int = 400) -> None:
        self.reason, self.status_code = reason, status_code
        super().__init__(reason)


class StoreUnavailable(SmsgateError):
    """The database cannot be reached or written right now: nothing was stored, so the caller must retry."""


class StoreInvalid(SmsgateError):
    """The database named is not one smsgate can use: another program's file, or a schema this smsgate lacks."""


class LimitReached(SmsgateError):
    """A tenant's `tps` or `daily_limit` refused a new message: nothing was stored; retry after `retry_after`
    seconds (the API answers 429 with a Retry-After header)."""

    def __init__(self, reason: str, retry_after: float) -> None:
        self.reason, self.retry_after = reason, max(0.0, retry_after)
        super().__init__(reason)


class SendError(SmsgateError):
    """A send that did not succeed; `code` is a short machine-readable tag.

    `not_taken` is True only when the failure proves the aggregator did not take the message: the connection
    never opened (refused, reset while connecting, a name that does not resolve), or the aggregator answered
    that it refused it (HTTP 5xx or 429, an SMPP throttle, a refused bind). A route may then send the message
    on its next channel at once without risking a duplicate; a send that may have arrived never is.
    """

    retryable = False
    code = "send_error"
    not_taken = False

    def __init__(self, reason: str, *, code: str | None = None, ext_code: str | None = None,
                 retry_after: float | None = None, not_taken: bool | None = None) -> None:
        self.reason = reason
        self.ext_code = ext_code
        self.retry_after = retry_after
        if code:
            self.code = code
        if not_taken is not None:
            self.not_taken = not_taken
        super().__init__(reason)


class RetryableError(SendError):
    """The same request may succeed later."""

    retryable = True
    code = "retryable"


class ConnectionFailed(RetryableError):
    """Transport error, timeout or 5xx answer."""

    code = "connection_failed"


class SentButUnanswered(ConnectionFailed):
    """The request was written but no answer came (a read timeout, a dropped connection): the aggregator may
    have the message, so it is retried only where the channel allows a duplicate (`retry_on_timeout`)."""

    code = "read_timeout"


class Throttled(RetryableError):
    """The aggregator asked us to slow down (HTTP 429), optionally saying for how long: it refused this message."""

    code = "connection_throttled"
    not_taken = True


class PermanentError(SendError):
    """Retrying the same request cannot succeed."""

    code = "permanent"


class ResponseStatusError(PermanentError):
    """A non-2xx answer that is neither 429 nor 5xx."""

    code = "response_status"


class ResponseContentError(PermanentError):
    """A 2xx answer whose body does not contain what the channel requires."""

    code = "response_content"


class RejectedWithReason(PermanentError):
    """The aggregator refused the message with its own error code (kept in `ext_code`)."""

    code = "rejected_with_reason"


class ContactStopped(PermanentError):
    """The recipient has opted out; the gateway also records an opt-out event."""

    code = "contact_stopped"


class MessageInvalid(PermanentError):
    """The message itself cannot be sent (invalid number, nothing to send...)."""

    code = "message_invalid"


class ChannelConfigError(PermanentError):
    """The channel's configuration lacks what a send needs."""

    code = "channel_config"
