"""The accounts the front serves: who may call (HTTP basic auth, account SID and auth token) and what each sees.

Today one account, `[twilio_api]`, owning every channel. An account is what Twilio scopes everything by: the SID
in the URL must be the authenticated one, its messages are those of its channels, its inbound messages go to
its `incoming_url`, and its auth token signs what smsgate sends it.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass

from ...config._settings import Config

__all__ = ["Account", "Accounts"]


@dataclass(frozen=True, slots=True)
class Account:
    """One Twilio account served by the front."""

    sid: str
    token: str
    channels: tuple[str, ...]
    """The channels it sends on, sees and hears from."""
    incoming_url: str | None = None
    default_channel: str | None = None

    def owns(self, channel: str) -> bool:
        """Whether messages of `channel` are this account's."""
        return channel in self.channels


class Accounts:
    """The front's accounts by SID, and the basic-auth check."""

    def __init__(self, accounts: list[Account]) -> None:
        self._by_sid = {a.sid: a for a in accounts}
        self._by_channel = {c: a for a in accounts for c in a.channels}

    @classmethod
    def from_config(cls, config: Config) -> Accounts:
        """`[twilio_api]`'s account (none without the table)."""
        api = config.twilio_api
        if api is None:
            return cls([])
        return cls([Account(api.account_sid, api.auth_token.get_secret_value(), tuple(config.channels),
                            api.incoming_url, api.default_channel)])

    def __bool__(self) -> bool:
        return bool(self._by_sid)

    def get(self, sid: str) -> Account | None:
        """The account with SID `sid`, or None."""
        return self._by_sid.get(sid)

    def of_channel(self, channel: str) -> Account | None:
        """The account whose channel `channel` is, or None."""
        return self._by_channel.get(channel)

    def authenticate(self, authorization: str) -> Account | None:
        """The account an `Authorization: Basic` header proves, or None (missing, malformed or wrong)."""
        scheme, _, encoded = authorization.strip().partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, sep, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, ValueError):
            return None
        account = self._by_sid.get(user)
        expected = account.token if account is not None else "\0"  # the same comparison either way
        ok = hmac.compare_digest(password.encode("utf-8", "surrogatepass"), expected.encode())
        return account if sep and ok and account is not None else None
