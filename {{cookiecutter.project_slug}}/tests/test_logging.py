"""Logs are one stream of JSON lines, and a server error's traceback is in it."""

import json
import logging
import sys
from datetime import timedelta
from types import SimpleNamespace

import pytest
from gunicorn.config import Config

from config.accesslog import AccessLogger
from config.logs import JsonFormatter, RequestIdFilter
from config.requestid import _request_id


def formatted(record: logging.LogRecord) -> dict:
    RequestIdFilter().filter(record)
    line = JsonFormatter().format(record)
    assert "\n" not in line
    return json.loads(line)


def test_a_log_line_is_one_json_object_with_the_request_id():
    token = _request_id.set("req-12345678")
    try:
        record = logging.makeLogRecord(
            {"name": "shop", "levelname": "INFO", "msg": "paid %s", "args": ("42",)}
        )
        event = formatted(record)
    finally:
        _request_id.reset(token)
    assert event["message"] == "paid 42"
    assert event["request_id"] == "req-12345678"
    assert event["level"] == "INFO"


def test_a_traceback_stays_inside_its_json_line():
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.makeLogRecord(
            {"name": "x", "levelname": "ERROR", "msg": "failed", "exc_info": sys.exc_info()}
        )
    event = formatted(record)
    assert "ValueError: boom" in event["exc_info"]


def access(path: str) -> list[dict]:
    """What gunicorn's access log writes for one request to `path`."""
    logger = AccessLogger(Config())
    records: list[logging.LogRecord] = []
    logger.access_log = logging.Logger("gunicorn.access", logging.INFO)
    logger.access_log.handle = records.append
    response = SimpleNamespace(status_code=200, sent=31, headers=[("X-Request-ID", "abc")])
    environ = {"PATH_INFO": path, "REQUEST_METHOD": "GET", "REMOTE_ADDR": "10.0.0.1"}
    logger.access(response, None, environ, timedelta(microseconds=1500))
    return [formatted(record) for record in records]


def test_access_log_lines_carry_structured_fields():
    (event,) = access("/notes/")
    assert event["message"] == "GET /notes/ 200"
    assert event["status"] == 200
    assert event["path"] == "/notes/"
    assert event["duration_ms"] == 1.5
    assert event["request_id"] == "abc"


def test_health_probes_leave_no_access_log_line():
    assert access("/healthz") == []
    assert access("/readyz") == []


@pytest.mark.urls("tests.error_urls")
def test_a_server_error_logs_its_traceback_and_shows_a_generic_page(client, caplog, settings):
    settings.DEBUG = False
    client.raise_request_exception = False
    response = client.get("/broken/", headers={"host": settings.ALLOWED_HOSTS[0]}, secure=True)
    assert response.status_code == 500
    assert b"the database schema" not in response.content
    errors = [record for record in caplog.records if record.name == "django.request"]
    assert errors
    assert errors[0].exc_info[0] is RuntimeError
