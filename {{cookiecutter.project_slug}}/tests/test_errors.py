"""Error reporting is off unless SENTRY_DSN is set; set, it files errors without personal data."""

import logging

from config.errors import scrub
from tests.conftest import run_python

REPORTING = """
import sys
import django
django.setup()
if "sentry_sdk" not in sys.modules:
    print("reporting: off")
else:
    import sentry_sdk
    options = sentry_sdk.get_client().options
    print(f"reporting: {options['release']} pii={options['send_default_pii']}")
    print(f"bodies: {options['max_request_body_size']} locals={options['include_local_variables']}")
"""


def test_nothing_is_loaded_without_a_dsn(production_env):
    result = run_python(REPORTING, production_env | {"SENTRY_DSN": ""})
    assert result.stdout.strip() == "reporting: off", result.stderr


def test_reports_name_the_release_and_carry_no_personal_data(production_env):
    environ = production_env | {
        "SENTRY_DSN": "http://public@127.0.0.1:9/1",
        "GIT_REVISION": "3f2a9c1",
    }
    result = run_python(REPORTING, environ)
    assert result.stdout.splitlines() == [
        "reporting: 3f2a9c1 pii=False",
        "bodies: never locals=False",
    ], result.stderr


def test_what_the_sdk_still_collects_is_scrubbed_before_an_event_leaves():
    event = {
        "request": {
            "url": "https://app.example.com/notes/",
            "method": "POST",
            "query_string": "token=Zq81xV&next=/",
            "data": {"email": "someone@example.com"},
            "cookies": {"theme": "dark"},
            "headers": {
                "Cookie": "theme=dark",
                "Referer": "https://app.example.com/accounts/reset/?token=Zq81xV",
                "User-Agent": "Firefox",
            },
        },
        "user": {"email": "someone@example.com"},
        "exception": {"values": [{"type": "ValueError"}]},
    }
    scrubbed = scrub(event, {})
    assert scrubbed["request"] == {
        "url": "https://app.example.com/notes/",
        "method": "POST",
        "query_string": "[Filtered]",
        "headers": {
            "Cookie": "[Filtered]",
            "Referer": "https://app.example.com/accounts/reset/",
            "User-Agent": "Firefox",
        },
    }
    assert "user" not in scrubbed
    assert scrubbed["exception"] == {"values": [{"type": "ValueError"}]}


def log_record(name: str, **extra) -> logging.LogRecord:
    record = logging.LogRecord(name, logging.ERROR, __file__, 1, "failed", None, None)
    record.__dict__.update(extra)
    return record


def test_a_task_that_fails_for_good_is_one_event_the_one_with_the_traceback():
    """django-ox and Django's tasks framework both log the final failure at ERROR."""
    workers_line = {"log_record": log_record("django_ox", event="task_failed")}
    frameworks_line = {"log_record": log_record("django.tasks")}
    other_worker_error = {"log_record": log_record("django_ox", event="schedule_dispatch_error")}
    assert scrub({"message": "failed"}, workers_line) is None
    assert scrub({"message": "failed"}, frameworks_line) == {"message": "failed"}
    assert scrub({"message": "failed"}, other_worker_error) == {"message": "failed"}
