"""Structured JSON logs. Ids travel as `extra=`; the request id from a context variable set per request."""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime

import orjson

request_id_var: ContextVar[str | None] = ContextVar("micd_request_id", default=None)

# Keys callers may pass in `extra`; anything else is dropped so a stray object never leaks into logs.
CONTEXT_KEYS = (
    "tenant",
    "incident",
    "proposal",
    "outage",
    "fingerprint",
    "alertname",
    "event_id",
    "path",
    "method",
    "status",
    "code",
    "topic",
    "partition",
    "offset",
    "operation",
    "outcome",
    "channel",
    "action",
    "rule",
    "count",
    "error",
    "listen",
    "version",
    "attempt",
    "retry_in",
)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = request_id_var.get()
        if rid:
            out["request_id"] = rid
        for key in CONTEXT_KEYS:
            value = record.__dict__.get(key)
            if value is not None:
                out[key] = value if isinstance(value, int | float | bool) else str(value)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(out).decode()


def setup(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
