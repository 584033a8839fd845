"""Logging as one event stream on stdout, shared by Django and gunicorn.

`LOG_FORMAT=json` writes one JSON object per line, access log included, so a log
platform can index it; `console` is for people reading a terminal. Every line made
while a request is handled carries that request's id.
"""

import json
import logging
from datetime import UTC, datetime

from config.requestid import current_request_id

# Attributes every LogRecord has; anything else was passed through `extra=`.
_STANDARD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class RequestIdFilter(logging.Filter):
    """Stamp each record with the id of the request being handled, if any."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record; tracebacks stay inside it, never on lines of their own."""

    def format(self, record: logging.LogRecord) -> str:
        event = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        event.update(
            (key, value)
            for key, value in vars(record).items()
            if key not in _STANDARD_ATTRIBUTES and not key.startswith("_")
        )
        event.update(_access_fields(record))
        if record.exc_info:
            event["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            event["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(event, default=str)


def _access_fields(record: logging.LogRecord) -> dict:
    """Structured fields of gunicorn's and uvicorn's access log lines."""
    if record.name == "gunicorn.access" and isinstance(record.args, dict):
        atoms = record.args
        return {
            "method": atoms.get("m"),
            "path": atoms.get("U"),
            "status": int(atoms["s"]) if str(atoms.get("s", "")).isdigit() else atoms.get("s"),
            "duration_ms": round(int(atoms.get("D", 0)) / 1000, 3),
            "bytes": atoms.get("B"),
            "remote_addr": atoms.get("h"),
            "user_agent": atoms.get("a"),
            "request_id": atoms.get("{x-request-id}o") or None,
        }
    if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) == 5:
        remote_addr, method, path, _http_version, status = record.args
        return {"method": method, "path": path, "status": status, "remote_addr": remote_addr}
    return {}


def logging_config(level: str, log_format: str) -> dict:
    """A dictConfig for the root logger and the servers' own loggers."""
    formatter = (
        {"()": JsonFormatter}
        if log_format == "json"
        else {"format": "%(asctime)s %(levelname)-8s %(name)s [%(request_id)s] %(message)s"}
    )
    # The servers' loggers hand their records to the root logger's single handler.
    propagate = {"handlers": [], "propagate": True}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"default": formatter},
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
                "formatter": "default",
                "filters": ["request_id"],
            }
        },
        "root": {"handlers": ["stdout"], "level": level},
        "loggers": {
            name: propagate
            for name in (
                "django",
                "django.server",
                "gunicorn.error",
                "gunicorn.access",
                "uvicorn",
                "uvicorn.error",
                "uvicorn.access",
                "py.warnings",
            )
        },
    }
