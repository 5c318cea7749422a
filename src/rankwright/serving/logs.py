"""Structured request logs: one JSON object per request on the
``rankwright.serving.access`` logger, through the ``logging`` module.

Each record carries its fields in ``record.fields`` (method, path, status,
latency_ms, documents, request_id); :class:`JsonFormatter` writes them as one line
with the time and level. ``rankwright serve`` installs it on that logger; an
application embedding the app may route the logger anywhere.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone
from typing import Any

ACCESS_LOGGER = "rankwright.serving.access"
access_log = logging.getLogger(ACCESS_LOGGER)


class JsonFormatter(logging.Formatter):
    """``{"time": ..., "level": ..., "logger": ..., "event": message, **record.fields}``."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "event": record.getMessage(),
        }
        line.update(getattr(record, "fields", {}) or {})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def log_request(fields: dict[str, Any]) -> None:
    """One access-log record (level INFO; WARNING for a 5xx answer)."""
    level = logging.WARNING if int(fields.get("status", 0)) >= 500 else logging.INFO
    access_log.log(level, "request", extra={"fields": fields})


def install_json_access_log(stream=None) -> logging.Handler:
    """Write the access log as JSON lines to ``stream`` (default stderr), not through
    the root logger's text format."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    access_log.handlers = [handler]
    access_log.setLevel(logging.INFO)
    access_log.propagate = False
    return handler
