"""The accounts the front serves: who may call (HTTP basic auth, account SID and auth token) and what each sees.

`[twilio_api]` is the operator's account, owning every channel; a tenant's `[tenants.<name>.twilio_api]` is that
tenant's, owning the tenant's channels and bound by its limits. An account is what Twilio scopes everything by:
the SID in the URL must be the authenticated one, its messages are those of its channels, its channels' inbound
messages go to its `incoming_url`, and its auth token signs what smsgate sends it.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass

from ...config._settings import Config, TwilioApiSettings

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
    tenant: str | None = None
    """The tenant it is (its channels, its limits), or None for the operator's account, which sees every channel."""

    def owns(self, channel: str) -> bool:
        """Whether messages of `channel` are this account's."""
        return channel in self.channels


def _account(settings: TwilioApiSettings, channels: tuple[str, ...], tenant: str | None) -> Account:
    return Account(settings.account_sid, settings.auth_token.get_secret_value(), channels, settings.incoming_url,
                   settings.default_channel, tenant)


class Accounts:
    """The front's accounts by SID, and the basic-auth check."""

    def __init__(self, accounts: list[Account]) -> None:
        self._by_sid = {a.sid: a for a in accounts}
        self._by_channel: dict[str, list[Account]] = {}
        for account in accounts:
            for channel in account.channels:
                self._by_channel.setdefault(channel, []).append(account)
        # the header each account's credentials make, as the SDKs write it: most calls match one at once
        self._headers = [("Basic " + base64.b64encode(f"{a.sid}:{a.token}".encode()).decode(), a) for a in accounts]

    @classmethod
    def from_config(cls, config: Config) -> Accounts:
        """`[twilio_api]`'s account and each tenant's own (none without those tables)."""
        found = []
        if config.twilio_api is not None:
            found.append(_account(config.twilio_api, tuple(config.channels), None))
        for name, tenant in config.tenants.items():
            if tenant.twilio_api is not None:
                found.append(_account(tenant.twilio_api, tuple(tenant.channels), name))
        return cls(found)

    def __bool__(self) -> bool:
        return bool(self._by_sid)

    def get(self, sid: str) -> Account | None:
        """The account with SID `sid`, or None."""
        return self._by_sid.get(sid)

    def of_channel(self, channel: str) -> list[Account]:
        """The accounts whose channel `channel` is (the operator's and its tenants')."""
        return self._by_channel.get(channel, [])

    def authenticate(self, authorization: str) -> Account | None:
        """The account an `Authorization: Basic` header proves, or None (missing, malformed or wrong)."""
        header = authorization.strip()
        found: Account | None = None
        for expected, account in self._headers:  # every comparison made, in constant time each
            if hmac.compare_digest(header.encode("utf-8", "surrogateescape"), expected.encode()):
                found = account
        if found is not None:
            return found
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, sep, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, ValueError):
            return None
        claimed = self._by_sid.get(user)
        expected_token = claimed.token if claimed is not None else "\0"  # the same comparison either way
        ok = hmac.compare_digest(password.encode("utf-8", "surrogatepass"), expected_token.encode())
        return claimed if sep and ok and claimed is not None else None
