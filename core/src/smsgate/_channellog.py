"""Channel logs: every aggregator interaction, recorded with every secret value redacted."""

from __future__ import annotations

import base64
import re
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ._models import new_id, utcnow

__all__ = ["ChannelLog", "HttpTrace", "Redactor"]

MASK = "**********"
_SENSITIVE_HEADERS = {"authorization", "proxy-authorization", "x-api-key", "api-key", "cookie", "set-cookie"}
_SENSITIVE_PARAM = re.compile(
    r"(?i)((?:^|[?&;\s])(?:password|passwd|pass|pwd|auth_token|token|api_key|apikey|secret)=)([^&;\s\"']+)")


class Redactor:
    """Masks known secret values (and their URL-encoded and basic-auth forms) in any text."""

    def __init__(self, secrets: Iterable[str] = (), basic_auth: Iterable[tuple[str, str]] = ()) -> None:
        values: set[str] = set()
        plain = [s for s in secrets if s and len(s) >= 3]
        for secret in plain:
            values.update({secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret)})
            values.add(base64.b64encode(secret.encode()).decode())
        # basic-auth values combine a user with a secret: mask "user:secret" encodings too
        for secret in plain:
            for other in plain:
                if other != secret:
                    values.add(base64.b64encode(f"{other}:{secret}".encode()).decode())
        for user, password in basic_auth:
            if password:
                values.add(base64.b64encode(f"{user}:{password}".encode()).decode())
        self._values = sorted(values, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(v) for v in self._values)) if self._values else None

    def text(self, value: str) -> str:
        """`value` with every secret and every password-like query parameter masked."""
        if not value:
            return value
        if self._pattern is not None:
            value = self._pattern.sub(MASK, value)
        return _SENSITIVE_PARAM.sub(lambda m: m.group(1) + MASK, value)

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        """Headers with credential headers masked whole and secrets masked elsewhere."""
        return {k: (MASK if k.lower() in _SENSITIVE_HEADERS else self.text(v)) for k, v in headers.items()}


@dataclass(slots=True)
class HttpTrace:
    """One HTTP exchange, already redacted."""

    method: str
    url: str
    request_headers: dict[str, str]
    request_body: str
    status_code: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: str = ""
    elapsed_ms: float = 0.0
    error: str | None = None


@dataclass(slots=True)
class ChannelLog:
    """What happened on one channel interaction (a send, a callback): HTTP traces and errors, all redacted."""

    channel: str
    kind: str
    redactor: Redactor
    message_id: str | None = None
    id: str = field(default_factory=new_id)
    created_at: Any = field(default_factory=utcnow)
    traces: list[HttpTrace] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    elapsed_ms: float = 0.0

    def trace(self, method: str, url: str, request_headers: Mapping[str, str], request_body: bytes | str,
              status_code: int | None = None, response_headers: Mapping[str, str] | None = None,
              response_body: bytes | str = b"", elapsed_ms: float = 0.0, error: str | None = None) -> HttpTrace:
        """Record one exchange, masking secrets on the way in so nothing unredacted is ever kept."""
        r = self.redactor
        item = HttpTrace(
            method=method, url=r.text(url), request_headers=r.headers(request_headers),
            request_body=r.text(_decode(request_body)), status_code=status_code,
            response_headers=r.headers(response_headers or {}), response_body=r.text(_decode(response_body)),
            elapsed_ms=round(elapsed_ms, 3), error=r.text(error) if error else None)
        self.traces.append(item)
        self.elapsed_ms += elapsed_ms
        return item

    def error(self, message: str) -> None:
        """Record an error line (redacted)."""
        self.errors.append(self.redactor.text(message))

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view of this log."""
        return {
            "id": self.id, "channel": self.channel, "kind": self.kind, "message_id": self.message_id,
            "created_at": self.created_at.isoformat(), "elapsed_ms": round(self.elapsed_ms, 3),
            "errors": list(self.errors),
            "traces": [
                {"method": t.method, "url": t.url, "request_headers": t.request_headers,
                 "request_body": t.request_body, "status_code": t.status_code,
                 "response_headers": t.response_headers, "response_body": t.response_body,
                 "elapsed_ms": t.elapsed_ms, "error": t.error}
                for t in self.traces
            ],
        }


_MAX_BODY = 8192


def _decode(body: bytes | str) -> str:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes | bytearray) else str(body)
    return text if len(text) <= _MAX_BODY else text[:_MAX_BODY] + f"... ({len(text) - _MAX_BODY} more chars)"
