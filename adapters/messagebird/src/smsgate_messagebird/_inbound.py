"""Reading MessageBird's callbacks as courier does: every parameter of the form and the query string, names in any
case, the last value of a repeated name winning; media URLs in order; MessageBird's two date formats."""

from __future__ import annotations

from datetime import UTC, datetime

from smsgate import InboundRequest, RequestRejected

__all__ = ["Fields", "parse_compact", "parse_rfc3339"]


class Fields:
    """A callback's parameters (body first, then query) by lower-cased name; a repeated name keeps its last value."""

    def __init__(self, req: InboundRequest) -> None:
        self.pairs = [*req.form, *req.query]
        self.lower: dict[str, str] = {}
        for key, value in self.pairs:
            self.lower[key.lower()] = value
        self.raw = {key: value for key, value in self.pairs}

    def get(self, name: str) -> str:
        """The stripped value of `name` ('' when absent)."""
        return self.lower.get(name.lower(), "").strip()

    def every(self, name: str) -> list[str]:
        """Every non-empty value of `name`, in order."""
        return [v.strip() for k, v in self.pairs if k.lower() == name.lower() and v.strip()]


def parse_rfc3339(value: str) -> datetime:
    """`createdDatetime`: an RFC 3339 time with its offset (`Z` or `+02:00` too); a 400 otherwise."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise RequestRejected(f"unable to parse date '{value[:40]}': expected RFC 3339, such as "
                              "2023-07-27T00:49:29+00:00")
    return parsed.astimezone(UTC)


def parse_compact(value: str) -> datetime:
    """`receive_datetime` of a short-code message: `YYYYMMDDhhmmss` in UTC; a 400 otherwise."""
    try:
        return datetime.strptime(value, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        raise RequestRejected(f"unable to parse date '{value[:40]}': expected YYYYMMDDhhmmss") from None
