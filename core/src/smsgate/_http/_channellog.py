"""Channel logs: every aggregator interaction, recorded with every secret value redacted."""

from __future__ import annotations

import base64
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .._models import new_id, utcnow

__all__ = ["ChannelLog", "HttpTrace", "Redactor"]

MASK = "**********"
_SENSITIVE_HEADERS = {"authorization", "proxy-authorization", "x-api-key", "api-key", "cookie", "set-cookie"}
_PARAM_NAMES = "password|passwd|pass|pwd|auth_token|token|api_key|apikey|secret"
_SENSITIVE_PARAM = re.compile(rf"(?i)((?:^|[?&;\s])(?:{_PARAM_NAMES})=)([^&;\s\"']+)")
_SENSITIVE_KEY = re.compile(rf"(?i){_PARAM_NAMES}")
_LITERAL = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._")


class Redactor:
    """Masks known secret values (however URL-encoded, and their basic-auth forms) in any text."""

    def __init__(self, secrets: Iterable[str] = (), basic_auth: Iterable[tuple[str, str]] = (),
                 headers: Iterable[str] = (), others: Iterable[str] = ()) -> None:
        """`secrets` are the channel's own; `others` every other secret of the config, masked in the same forms
        but not combined pairwise into basic-auth values (only the channel's own credentials travel that way)."""
        values: set[str] = set()
        plain = [s for s in secrets if s and len(s) >= 3]
        for secret in [*plain, *(s for s in others if s and len(s) >= 3)]:
            # a case-folded copy of a secret still gives most of it away
            values.update({secret, secret.lower(), secret.upper(), base64.b64encode(secret.encode()).decode()})
        # basic-auth values combine a user with a secret: mask "user:secret" encodings too
        for secret in plain:
            for other in plain:
                if other != secret:
                    values.add(base64.b64encode(f"{other}:{secret}".encode()).decode())
        for user, password in basic_auth:
            if password:
                values.add(base64.b64encode(f"{user}:{password}".encode()).decode())
        self._values = sorted(values, key=len, reverse=True)
        # not re.IGNORECASE: it makes every scan about 20 times slower
        self._pattern = re.compile("|".join(_encodings(v) for v in self._values)) if self._values else None
        self._headers = _SENSITIVE_HEADERS | {h.lower() for h in headers}

    def text(self, value: str) -> str:
        """`value` with every secret and every password-like query parameter masked."""
        if not value:
            return value
        if self._pattern is not None:
            value = self._pattern.sub(MASK, value)
        if "=" not in value:  # no parameter to mask: skip a regex scan on every header and message text
            return value
        return _SENSITIVE_PARAM.sub(lambda m: m.group(1) + MASK, value)

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        """Headers with credential headers masked whole and secrets masked elsewhere."""
        return {k: (MASK if k.lower() in self._headers else self.text(v)) for k, v in headers.items()}

    def data(self, value: Any) -> Any:
        """JSON-like `value` with secrets masked in every string, and values of password-like keys masked whole."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.data(k): MASK if isinstance(k, str) and _SENSITIVE_KEY.fullmatch(k) and v else self.data(v)
                    for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        return value


def _encodings(value: str) -> str:
    """A pattern matching `value` plain or percent-encoded in any style (any safe characters, either hex case)."""
    parts = []
    for char in value:
        if char in _LITERAL:
            parts.append(re.escape(char))
        else:
            escaped = "".join(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogateescape"))
            escaped = re.sub("[A-F]", lambda m: f"[{m[0]}{m[0].lower()}]", escaped)
            spaced = r"|\+" if char == " " else ""
            # the escape first: a secret ending in "%" must not leave the "25" of its "%25" behind
            parts.append(f"(?:{escaped}|{re.escape(char)}{spaced})")
    return "".join(parts)


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
    on_going_out: Callable[[], Awaitable[None]] | None = field(default=None, repr=False, compare=False)
    """Handed in by the gateway for a send: durably marks the message as possibly at the aggregator."""
    requests: int = 0
    """Requests of this send that went out (`going_out` calls)."""
    refusals: int = 0
    """Of those, how many provably did not reach the aggregator or were refused by it (`refused` calls)."""

    async def going_out(self) -> None:
        """Call just before a request of this send leaves (core's HttpClient does; an adapter that speaks
        another protocol calls it before writing): once it returns, a crash leaves the message in doubt instead
        of resent blind. A no-op outside a gateway send."""
        self.requests += 1
        if self.on_going_out is not None:
            await self.on_going_out()

    def refused(self) -> None:
        """Call when a request that went out provably was not taken (the connection never opened, or the
        aggregator answered that it refused it: HTTP 5xx/429, an SMPP throttle). Only a send whose every request
        was refused may move to another channel (`untaken`)."""
        self.refusals += 1

    @property
    def untaken(self) -> bool:
        """True when no request of this send can have reached the aggregator (each one that left was refused)."""
        return self.refusals >= self.requests

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
