"""Reading Plivo's callbacks: field names in any case (as courier reads them), numbers compared without `+`,
MMS media, and how a long text is cut into the parts Plivo accepts."""

from __future__ import annotations

from smsgate import InboundRequest, RequestRejected
from smsgate.text import is_gsm7, segment, split_bytes

__all__ = ["MAX_MEDIA", "UCS2_LIMIT", "Fields", "same_number", "split_text"]

MAX_MEDIA = 10  # Plivo's MMS carries at most 10 media
UCS2_LIMIT = 737  # Plivo refuses a non-GSM `text` longer than this many UTF-16 units (11 segments of 67)


class Fields:
    """A callback's parameters (form or JSON body first, then the query string) looked up in any case."""

    def __init__(self, req: InboundRequest) -> None:
        self.raw = req.fields()
        self.lower: dict[str, str] = {}
        for key, value in self.raw.items():
            self.lower.setdefault(key.lower(), value)

    def get(self, name: str) -> str:
        """The stripped value of `name` ('' when absent)."""
        return self.lower.get(name.lower(), "").strip()

    def require(self, *names: str) -> list[str]:
        """The values of `names`, or one 400 naming every missing one."""
        values = [self.get(name) for name in names]
        missing = [f"field '{name}' required" for name, value in zip(names, values, strict=True) if not value]
        if missing:
            raise RequestRejected("; ".join(missing))
        return values


def same_number(a: str, b: str) -> bool:
    """True when two numbers are the same once a leading `+` is dropped (Plivo writes them without)."""
    return a.strip().lstrip("+") == b.strip().lstrip("+")


def split_text(text: str, max_length: int) -> list[str]:
    """Courier's byte split at `max_length`; a non-GSM part longer than Plivo's 737 UTF-16 units is cut further,
    at UCS-2 segment boundaries (11 segments a request), where the handset would join it anyway."""
    parts: list[str] = []
    for part in split_bytes(text, max_length):
        if is_gsm7(part) or len(part.encode("utf-16-le")) // 2 <= UCS2_LIMIT:
            parts.append(part)
            continue
        pieces = segment(part).parts
        per_request = UCS2_LIMIT // 67
        parts.extend("".join(pieces[i:i + per_request]) for i in range(0, len(pieces), per_request))
    return parts
