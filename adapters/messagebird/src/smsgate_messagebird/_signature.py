"""`MessageBird-Signature-JWT`: MessageBird's signature of its webhooks, checked as MessageBird documents it.

The header is a JWT signed with the channel's signing key (HMAC: HS256, or HS384/HS512). Its claims: `iss` is
`MessageBird`; `nbf` and `exp` bound its validity, with one second of clock skew allowed either way; `jti` is a
non-empty nonce; `url_hash` is the hex SHA-256 of the full URL as MessageBird called it, query string included;
`payload_hash` is the hex SHA-256 of the body, present exactly when there is a body. PyJWT checks the signature,
the algorithm and `iss`; the times and hashes are checked here against an injectable clock.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import warnings
from collections.abc import Callable
from typing import Any

import jwt
from smsgate import InboundRequest, RequestRejected

__all__ = ["ALGORITHMS", "HEADER", "LEEWAY", "check_request", "verify"]

HEADER = "messagebird-signature-jwt"
ALGORITHMS = ["HS256", "HS384", "HS512"]
LEEWAY = 1.0  # seconds of clock skew MessageBird's own validator allows


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _same(given: Any, expected: str) -> bool:
    return isinstance(given, str) and hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode())


def verify(token: str, key: str, url: str, body: bytes, now: float) -> str | None:
    """None when `token` is MessageBird's valid signature of a request to `url` with `body` at time `now`, else
    the reason it is not."""
    try:
        with warnings.catch_warnings():
            # MessageBird chooses the signing keys; PyJWT's advice on short HMAC keys is not ours to act on
            warnings.filterwarnings("ignore", message=r"The HMAC key is \d+ bytes long")
            claims = jwt.decode(token, key, algorithms=ALGORITHMS, issuer="MessageBird",
                                options={"require": ["iss", "nbf", "exp", "jti", "url_hash"],
                                         "verify_exp": False, "verify_nbf": False, "verify_iat": False})
    except jwt.InvalidTokenError as exc:
        return str(exc) or type(exc).__name__
    nbf, exp = claims.get("nbf"), claims.get("exp")
    if isinstance(nbf, bool) or isinstance(exp, bool) or not isinstance(nbf, int | float) \
            or not isinstance(exp, int | float):
        return "claims nbf and exp must be numbers"
    if now < nbf - LEEWAY:
        return "claim nbf is in the future"
    if now > exp + LEEWAY:
        return "claim exp is in the past"
    if not isinstance(claims.get("jti"), str) or not claims["jti"]:
        return "claim jti is empty or missing"
    if not _same(claims.get("url_hash"), _sha256(url.encode("utf-8", "surrogateescape"))):
        return f"claim url_hash does not match {url}"
    payload_hash = claims.get("payload_hash")
    if body and payload_hash is None:
        return "claim payload_hash is not set but a body is present"
    if not body and payload_hash is not None:
        return "claim payload_hash is set but the body is missing"
    if body and not _same(payload_hash, _sha256(body)):
        return "claim payload_hash does not match the body"
    return None


def check_request(req: InboundRequest, key: str | None, clock: Callable[[], float] = time.time) -> None:
    """403 unless `req` carries MessageBird's valid signature, keyed by the channel's signing key `key`."""
    token = req.headers.get(HEADER, "").strip()
    if not token:
        raise RequestRejected("missing request signature (MessageBird-Signature-JWT)", 403)
    if not key:
        raise RequestRejected("the channel has no signing key: set its `secret` (or validate_signatures = false)",
                              403)
    why = verify(token, key, req.url, req.body, clock())
    if why is not None:
        raise RequestRejected(f"invalid request signature: {why} (is [gateway] public_url, or trust_proxy behind a "
                              "proxy, the URL MessageBird calls?)", 403)
