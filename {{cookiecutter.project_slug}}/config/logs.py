"""Logging as one event stream on stdout, shared by Django and gunicorn.

`LOG_FORMAT=json` writes one JSON object per line, access log included, so a log
platform can index it; `console` is for people reading a terminal. Every line made
while a request is handled carries that request's id.
"""

import functools
import json
import logging
from datetime import UTC, datetime
from typing import Literal

from pydantic import Field

from config.accesslog import SkipProbes
from config.requestid import current_request_id
from config.variables import EnvPart


class LoggingEnv(EnvPart):
    LOG_LEVEL: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        "INFO", description="The least severe level that is logged."
    )
    LOG_FORMAT: Literal["json", "console"] = Field(
        "json", description="json: one JSON object per line; console: for people."
    )


# Attributes every LogRecord has; anything else was passed through `extra=`.
_STANDARD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

# Neither format shows the caller's file, line and function, nor thread, process or task
# names, so no record collects them. Finding the caller walks the stack at every line:
# a third of an access line's cost, measured (docs/performance.md in the template).
# https://docs.python.org/3/howto/logging.html#optimization
logging._srcfile = None
logging.logThreads = False
logging.logProcesses = False
logging.logMultiprocessing = False
logging.logAsyncioTasks = False  # type: ignore[attr-defined]  # 3.12+, not in typeshed


class RequestIdFilter(logging.Filter):
    """Stamp each record with the id of the request being handled, if any."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        return True


class TaskFields(logging.Filter):
    """Django's own task lines ("Task id=%s path=%s state=%s") as fields too, named as
    django-ox names them, so one query finds every line of a task."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) == 3:
            record.task_id, record.task_path, record.state = map(str, record.args)
        return True


@functools.lru_cache(maxsize=1)
def _second(timestamp: int) -> str:
    """`2026-12-06T14:05:09`, made once per second rather than at every line."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _time(created: float) -> str:
    """ISO 8601 in UTC to the millisecond, as datetime.isoformat writes it."""
    seconds = int(created)
    return f"{_second(seconds)}.{int((created - seconds) * 1000):03d}+00:00"


# Made once: json.dumps(default=...) makes an encoder for every line, a fifth of the
# formatter's cost.
_encode = json.JSONEncoder(default=str).encode


class JsonFormatter(logging.Formatter):
    """One JSON object per record; tracebacks stay inside it, never on lines of their own."""

    def format(self, record: logging.LogRecord) -> str:
        event = {
            "time": _time(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        event |= {
            key: value
            for key, value in vars(record).items()
            if key not in _STANDARD_ATTRIBUTES and key[0] != "_"
        }
        if record.name == "uvicorn.access":
            event |= _uvicorn_access_fields(record)
        if record.exc_info:
            event["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            event["stack_info"] = self.formatStack(record.stack_info)
        return _encode(event)


def _uvicorn_access_fields(record: logging.LogRecord) -> dict:
    """Structured fields of uvicorn's access log lines (the ASGI interface)."""
    if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) == 5:
        remote_addr, method, path, _http_version, status = record.args
        return {"method": method, "path": path, "status": status, "remote_addr": remote_addr}
    return {}


def logging_config(level: str, log_format: str, *, tracing: bool = False) -> dict:
    """A dictConfig for the root logger and the servers' own loggers; with `tracing`
    (config/tracedrequests.py), lines carry the trace and span ids."""
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
        "filters": {
            "request_id": {"()": RequestIdFilter},
            "skip_probes": {"()": SkipProbes},
            "task_fields": {"()": TaskFields},
            **({"trace_ids": {"()": "config.tracedrequests.TraceIds"}} if tracing else {}),
        },
        "formatters": {"default": formatter},
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
                "formatter": "default",
                "filters": ["request_id", *(["trace_ids"] if tracing else [])],
            }
        },
        "root": {"handlers": ["stdout"], "level": level},
        "loggers": {
            **{
                name: propagate
                for name in (
                    "django",
                    "django.server",
                    "gunicorn.error",
                    "gunicorn.access",
                    "uvicorn",
                    "uvicorn.error",
                    "py.warnings",
                )
            },
            "uvicorn.access": propagate | {"filters": ["skip_probes"]},
            # The worker's task lines (id, name, attempt, duration, outcome as fields). A
            # handler of its own, or `manage.py worker` would add one writing to stderr.
            "django_ox": {"handlers": ["stdout"], "propagate": False},
            # Django's started and succeeded lines repeat django-ox's without the timing;
            # its line for a task that failed for good is kept: it has the traceback.
            "django.tasks": propagate | {"level": "WARNING", "filters": ["task_fields"]},
            # django-axes logs every failed sign-in as a WARNING of its own; the lockout
            # line config/signin.py writes (account, address, count) is the one kept.
            "axes": propagate | {"level": "ERROR"},
        },
    }
