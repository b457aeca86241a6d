"""Console sessions: a signed cookie (itsdangerous), HttpOnly and SameSite=Lax, scoped to the console's path.

The signing key is derived from the gateway's credentials (the api_token, the console password hash and the
tenants' tokens), so changing any signs everyone out, and a cookie from a gateway with other credentials is
refused. Each session carries a random CSRF token that every form must send back, and a signed-in one a random
session id: signing out records that id in the store (`SessionRevocations`), so a copy of the cookie stops
working on every instance at once, not only when it expires.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from ...config._settings import GatewaySettings

COOKIE = "smsgate_console"
MAX_AGE = 12 * 3600  # a shift: sign in again the next day


def _secret(value: Any) -> bytes:
    return value.get_secret_value().encode() if value is not None else b""


class Sessions:
    """Reads and writes the console's session cookie for one gateway's settings."""

    def __init__(self, settings: GatewaySettings, tenant_digests: Iterable[str] = ()) -> None:
        self.settings = settings
        token, password = _secret(settings.api_token), _secret(settings.console_password_hash)
        tenants = "\0".join(sorted(tenant_digests)).encode()
        self.enabled = bool(token or password or tenants)
        key = hashlib.sha256(b"smsgate console session v1\0" + token + b"\0" + password
                             + (b"\0" + tenants if tenants else b"")).digest()
        self._serializer = URLSafeTimedSerializer(key, salt="smsgate-console")

    def load(self, request: Request) -> dict[str, Any]:
        """The request's session, or an empty one when the cookie is missing, forged, foreign or expired."""
        raw = request.cookies.get(COOKIE)
        if not raw or not self.enabled:
            return {}
        try:
            data = self._serializer.loads(raw, max_age=MAX_AGE)
        except BadSignature:  # also SignatureExpired
            return {}
        return data if isinstance(data, dict) else {}

    def save(self, request: Request, response: Response, data: dict[str, Any]) -> None:
        """Set the session cookie on `response`."""
        response.set_cookie(COOKIE, self._serializer.dumps(data), max_age=MAX_AGE, path=_path(request),
                            secure=_https(request, self.settings), httponly=True, samesite="lax")

    def clear(self, request: Request, response: Response) -> None:
        """Remove the session cookie."""
        response.delete_cookie(COOKIE, path=_path(request), secure=_https(request, self.settings), httponly=True,
                               samesite="lax")


def new_session(user: str | None = None) -> dict[str, Any]:
    """A session with a fresh CSRF token; `user` (how it signed in) and a session id `sid` when signed in."""
    data: dict[str, Any] = {"csrf": secrets.token_urlsafe(24), "at": int(time.time())}
    if user:
        data["user"] = user
        data["sid"] = secrets.token_urlsafe(18)
    return data


def csrf_ok(session: dict[str, Any], offered: str | None) -> bool:
    """True when the form sent back this session's CSRF token."""
    expected = session.get("csrf")
    return bool(expected and offered) and hmac.compare_digest(str(expected), str(offered))


def _path(request: Request) -> str:
    return str(request.scope.get("root_path") or "/")


def _https(request: Request, settings: GatewaySettings) -> bool:
    if settings.trust_proxy:
        forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip()
        if forwarded:
            return forwarded == "https"
    return request.url.scheme == "https"
