"""How `smsgate serve` logs: smsgate's own level and format, for people (text) and for log shippers (JSON lines).

Python's logging stays the mechanism (uvicorn, httpx and adapters log through it); `configure_logging` installs one
handler on stderr for everything, sets smsgate's and uvicorn's loggers to the chosen level, and keeps the HTTP
libraries at WARNING unless the level is DEBUG (httpx logs every request at INFO). A line's facts are also its
record's attributes (`extra=`: channel, message_id, attempt, next_attempt_at, ...): the JSON format prints them as
fields, so a shipper can filter on `channel` without parsing sentences.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

__all__ = ["LOG_FORMATS", "LOG_LEVELS", "JsonFormatter", "TextFormatter", "configure_logging"]

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
LOG_FORMATS = ("text", "json")

# the attributes every LogRecord has: anything else on a record was passed as `extra=` and is a field
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}
# uvicorn's "color_message" is its message again with terminal colours
_SKIPPED = {"color_message"}


def _timestamp(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TextFormatter(logging.Formatter):
    """`2026-12-06T05:29:53.123Z WARNING smsgate.worker: channel ex: message ...`, a traceback after it if any."""

    def format(self, record: logging.LogRecord) -> str:
        """One line (plus an exception's traceback)."""
        line = f"{_timestamp(record)} {record.levelname} {record.name}: {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: `ts`, `level`, `logger`, `message`, every `extra=` field, and `exc` (a
    traceback) when there is one. Values JSON cannot hold are written as strings."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        data: dict[str, Any] = {"ts": _timestamp(record), "level": record.levelname, "logger": record.name,
                                "message": record.getMessage()}
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in _SKIPPED and not key.startswith("_") and key not in data:
                data[key] = value
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            data["stack"] = self.formatStack(record.stack_info)
        return json.dumps(data, ensure_ascii=False, default=str)


def configure_logging(level: str = "info", fmt: str = "text", stream: TextIO | None = None) -> None:
    """Log smsgate and uvicorn at `level` (debug, info, warning, error, critical) to `stream` (stderr) as `fmt`
    (`text` or `json`), replacing the root logger's handlers; other libraries log at WARNING unless `level` is
    debug. ValueError for an unknown level or format."""
    name = level.lower()
    if name not in LOG_LEVELS:
        raise ValueError(f"unknown log level {level!r} (one of {', '.join(LOG_LEVELS)})")
    if fmt not in LOG_FORMATS:
        raise ValueError(f"unknown log format {fmt!r} (one of {', '.join(LOG_FORMATS)})")
    numeric = getattr(logging, name.upper())
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric if numeric == logging.DEBUG else max(numeric, logging.WARNING))
    for logger in ("smsgate", "uvicorn", "uvicorn.error"):
        logging.getLogger(logger).setLevel(numeric)
    for logger in ("uvicorn", "uvicorn.error", "uvicorn.access"):  # through the root handler, in one format
        logging.getLogger(logger).handlers.clear()
        logging.getLogger(logger).propagate = True
