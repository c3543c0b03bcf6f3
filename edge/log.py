"""Structured logging with the supervised task's name on every line.

The task name comes from a context variable set by the supervisor, so code
deep inside a driver needs no logger plumbing to be attributable.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import traceback
from datetime import UTC, datetime

from edge.redact import scrub

task_name: contextvars.ContextVar[str] = contextvars.ContextVar("task_name", default="main")


class _TaskFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.task = task_name.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "task": getattr(record, "task", "main"),
            "logger": record.name,
            "msg": scrub(record.getMessage()),
        }
        if record.exc_info:
            doc["exc"] = scrub("".join(traceback.format_exception(*record.exc_info)))
        return json.dumps(doc, ensure_ascii=False)


HUMAN = "%(asctime)s %(levelname)-7s [%(task)s] %(name)s: %(message)s"


class HumanFormatter(logging.Formatter):
    """Libraries log the URLs they were given, credentials included: scrub every line."""

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


def setup(fmt: str = "human", level: str = "INFO", levels: dict[str, str] | None = None) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_TaskFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else HumanFormatter(HUMAN))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name, lvl in (levels or {}).items():
        logging.getLogger(name).setLevel(lvl)
    for noisy in ("aiohttp.access", "pymodbus", "aiortc", "aioice", "libav"):
        if noisy not in (levels or {}):
            logging.getLogger(noisy).setLevel("WARNING")
