"""One logger hierarchy: every module logs through ``logging.getLogger(__name__)`` under
``chalicelib``, one JSON object per line on stdout (CloudWatch keeps each as one event), with the
correlation ids bound for the current request, event or scan.

Lambda's Python runtime leaves the root logger at WARNING, which would drop every INFO line of
a ``chalicelib.*`` logger; ``configure`` sets the level once, from ``LOG_LEVEL`` (default INFO),
on ``chalicelib`` itself, and does not propagate to the root (no line twice).
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from chalicelib.timestamps import iso

ROOT = "chalicelib"
_bound: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar("log_context", default=None)


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": iso(datetime.fromtimestamp(record.created, UTC)),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **(_bound.get() or {}),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(level: str | None = None) -> logging.Logger:
    """Idempotent: the first call in a process installs the handler."""
    logger = logging.getLogger(ROOT)
    if not any(isinstance(handler.formatter, JsonLines) for handler in logger.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(JsonLines())
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel((level or os.environ.get("LOG_LEVEL", "") or "INFO").upper())
    return logger


@contextmanager
def bound(**ids: str | None) -> Iterator[None]:
    """Add correlation ids (requestId, owner, fileId, versionId, execution, …) to every line
    logged inside the block; empty values are left out."""
    token = _bound.set({**(_bound.get() or {}), **{name: value for name, value in ids.items() if value}})
    try:
        yield
    finally:
        _bound.reset(token)
