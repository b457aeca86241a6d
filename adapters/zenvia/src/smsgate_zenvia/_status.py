"""What Zenvia's answers and codes mean to smsgate: message status codes, and send answers as `smsgate.errors`.

A send answer that is not 2xx carries `{"code", "message", "details"}`: 5xx and transport errors are retried
(`ConnectionFailed`), 429 too (`Throttled`; Zenvia does not document it, courier handles it), and any other
status with a Zenvia `code` is final as `RejectedWithReason` with that code (`VALIDATION_ERROR`,
`AUTHENTICATION_ERROR`, `NOT_FOUND`, `DUPLICATED`); without one it is `ResponseStatusError`. A 2xx without the
created message's `id` is `ResponseContentError`. Zenvia has no opt-out code at send time.
"""

from __future__ import annotations

from typing import Any

import httpx
from smsgate import Status
from smsgate.errors import ConnectionFailed, RejectedWithReason, ResponseStatusError, Throttled
from smsgate.http import parse_retry_after

__all__ = ["STATUS_MAP", "check_zenvia_response", "json_body"]

#: `messageStatus.code` (upper-cased) → our status; any other code is `errored`, as courier has it
STATUS_MAP: dict[str, Status] = {
    "SENT": Status.SENT,
    "DELIVERED": Status.DELIVERED,
    "READ": Status.READ,
    "REJECTED": Status.FAILED,
    "NOT_DELIVERED": Status.FAILED,
}


def json_body(response: httpx.Response) -> Any:
    """The answer's JSON, or None when it is not JSON (a proxy's error page, an empty body)."""
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError):
        return None


def _said(payload: Any) -> tuple[str, str]:
    """Zenvia's error `code` and a readable reason from `message` and each detail's `code: message`."""
    if not isinstance(payload, dict):
        return "", ""
    code = str(payload.get("code") or "").strip()[:64]
    parts = [str(payload.get("message") or "").strip()]
    details = payload.get("details")
    for detail in details if isinstance(details, list) else []:
        if isinstance(detail, dict):
            where = str(detail.get("path") or detail.get("code") or "").strip()
            parts.append(f"{where}: {str(detail.get('message') or '').strip()}".strip(": "))
    return code, "; ".join(p for p in parts if p)[:300]


def check_zenvia_response(response: httpx.Response) -> None:
    """2xx passes; 5xx and 429 are retried; a Zenvia error `code` is final as RejectedWithReason."""
    status = response.status_code
    if 200 <= status < 300:
        return
    code, said = _said(json_body(response))
    reason = f"HTTP {status}" + (f": {code}" if code else "") + (f": {said}" if said else "")
    if status >= 500:
        raise ConnectionFailed(f"{reason} (from {response.request.url.host})", ext_code=str(status))
    if status == 429:
        raise Throttled(reason, ext_code=code or "429",
                        retry_after=parse_retry_after(response.headers.get("retry-after")))
    if code:
        raise RejectedWithReason(reason, ext_code=code)
    raise ResponseStatusError(reason, ext_code=str(status))
