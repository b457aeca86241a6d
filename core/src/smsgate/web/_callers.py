"""Who is calling: the operator (the `[gateway] api_token`) or a tenant (its `[tenants.<name>]` token), and what
each may see. The API and the console ask the same question the same way.

The operator sees every channel. A tenant sees, sends on and is routed to its own channels only; another
channel's message looks exactly like one that does not exist.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from ..config import GatewaySettings, TenantSettings, token_matches

__all__ = ["OPERATOR", "Caller", "Callers"]


@dataclass(frozen=True, slots=True)
class Caller:
    """One authenticated caller: the operator (`tenant` None, every channel) or a tenant and its channels."""

    tenant: str | None = None
    channels: frozenset[str] | None = None
    """The channels it may see and use; None: all of them."""

    def sees(self, channel: str) -> bool:
        """Whether this caller may see and use `channel`."""
        return self.channels is None or channel in self.channels

    @property
    def listing(self) -> list[str] | None:
        """The channels a listing of this caller covers (sorted), or None for all."""
        return None if self.channels is None else sorted(self.channels)


OPERATOR = Caller()


class Callers:
    """Tells callers apart by their bearer token: the operator's `api_token`, or a tenant's (compared by SHA-256
    digest, each in constant time, so neither a token nor a tenant's name leaks through timing)."""

    def __init__(self, settings: GatewaySettings, tenants: Mapping[str, TenantSettings]) -> None:
        self.settings = settings
        self.tenants = dict(tenants)
        self._digests = [(name, bytes.fromhex(t.digest().removeprefix("sha256:")), frozenset(t.channels))
                         for name, t in self.tenants.items()]

    @property
    def enabled(self) -> bool:
        """Whether anyone can sign in: an api_token or at least one tenant."""
        token = self.settings.api_token
        return bool(token is not None and token.get_secret_value()) or bool(self._digests)

    def who(self, token: str) -> Caller | None:
        """The caller `token` belongs to, or None."""
        if token_matches(self.settings.api_token, token):
            return OPERATOR
        if not self._digests:
            return None
        digest = hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()
        found: Caller | None = None
        for name, expected, channels in self._digests:  # every one compared: no early exit to time
            if hmac.compare_digest(digest, expected):
                found = Caller(name, channels)
        return found

    def tenant(self, name: str) -> Caller | None:
        """The caller for tenant `name` (a console session's), or None when the config no longer has it."""
        tenant = self.tenants.get(name)
        return None if tenant is None else Caller(name, frozenset(tenant.channels))
