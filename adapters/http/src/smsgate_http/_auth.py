"""Credentials of an `http` channel: who may call its routes, and which send headers logs must hide.

RapidPro's External API lets anyone who knows the URL inject messages, so smsgate adds an opt-in shared-secret
header and HTTP basic auth (either one is enough). Send headers whose names look like credentials are masked in
channel logs, with the parts a reader could still use on their own.
"""

from __future__ import annotations

import base64
import contextlib
import re

from smsgate import InboundRequest, RequestRejected, same_secret

from ._settings import HttpSettings

__all__ = ["authenticate", "header_secrets"]

_SENSITIVE_HEADER = re.compile(r"(?i)auth|token|secret|key|password|signature|cookie")


def header_secrets(headers: dict[str, str]) -> list[str]:
    """The values of credential-looking `headers`, plus the credential inside a scheme or a basic-auth pair."""
    values = []
    for name, value in headers.items():
        if _SENSITIVE_HEADER.search(name) and value:
            values.append(value)
            scheme, _, credential = value.partition(" ")
            if credential and len(credential) >= 6:
                values.append(credential)  # "Bearer xyz": xyz alone must not leak either
            if scheme.lower() == "basic":  # and the password inside "Basic base64(user:password)"
                with contextlib.suppress(ValueError, UnicodeDecodeError):
                    password = base64.b64decode(credential, validate=True).decode().partition(":")[2]
                    if password:
                        values.append(password)
    return values


def authenticate(settings: HttpSettings, req: InboundRequest) -> None:
    """Return if `req` carries a configured credential (or none is configured); otherwise 401 with the reason."""
    s = settings
    if s.inbound_secret is None and s.inbound_password is None:
        return
    offered = False
    if s.inbound_secret is not None:
        given = req.headers.get(s.inbound_secret_header.lower())
        if given is not None:
            offered = True
            if same_secret(given, s.inbound_secret.get_secret_value()):
                return
    if s.inbound_password is not None:
        pair = req.basic_auth()
        if pair is not None:
            offered = True
            user_ok = same_secret(pair[0], s.inbound_username)
            password_ok = same_secret(pair[1], s.inbound_password.get_secret_value())
            if user_ok & password_ok:  # both compared every time: no early exit to time
                return
    ways = " or ".join(w for w in (f"the {s.inbound_secret_header} header" if s.inbound_secret else "",
                                   "HTTP basic auth" if s.inbound_password else "") if w)
    if offered:
        raise RequestRejected(f"invalid credentials in {ways}", 401)
    raise RequestRejected(f"authentication required: send {ways}", 401)
