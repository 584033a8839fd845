"""OpenTelemetry is off unless an endpoint is set, and off it costs nothing: not one of
its modules is imported. What it sends when on is proved by the template's boot test."""

import pytest

from config.telemetry import TelemetryEnv, _endpoint, tracing
from tests.conftest import problems, run_python

# A serving process's whole start, as gunicorn's worker and the worker command run it,
# then a request through every middleware; prints the OpenTelemetry modules loaded.
SERVE = """
import runpy, sys
import django
django.setup()
from django.test import Client
from config import telemetry
from config.env import load
server = runpy.run_path("gunicorn.conf.py")
server["post_fork"](None, None)
telemetry.start(load(), "release")
Client().get("/no-such-page/", headers={"host": "app.example.com"}, secure=True)
server["worker_exit"](None, None)
print("loaded:", sorted(name for name in sys.modules if name.startswith("opentelemetry")))
"""


def test_off_by_default_nothing_of_opentelemetry_is_imported(production_env):
    result = run_python(SERVE, production_env)
    assert result.returncode == 0, result.stderr
    assert "loaded: []" in result.stdout, result.stdout


def test_sdk_disabled_keeps_it_off_with_an_endpoint(production_env):
    environ = production_env | {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318",
        "OTEL_SDK_DISABLED": "true",
    }
    result = run_python(SERVE, environ)
    assert result.returncode == 0, result.stderr
    assert "loaded: []" in result.stdout, result.stdout


@pytest.mark.parametrize(
    ("environ", "traces", "metrics"),
    [
        ({}, None, None),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector:4318/"},
            "https://collector:4318/v1/traces",
            "https://collector:4318/v1/metrics",
        ),
        (
            {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://tempo:4318/v1/traces"},
            "http://tempo:4318/v1/traces",
            None,
        ),
        (
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
                "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://mimir/otlp/v1/metrics",
            },
            "http://collector:4318/v1/traces",
            "http://mimir/otlp/v1/metrics",
        ),
    ],
)
def test_each_signal_goes_where_the_specification_says(environ, traces, metrics):
    env = TelemetryEnv(_env_file=None, **environ)
    assert (_endpoint(env, "traces"), _endpoint(env, "metrics")) == (traces, metrics)
    assert tracing(env) is (traces is not None)


def test_an_unusable_endpoint_or_protocol_is_refused_by_name():
    message = problems(
        OTEL_EXPORTER_OTLP_ENDPOINT="collector:4318",
        OTEL_EXPORTER_OTLP_PROTOCOL="grpc",
        OTEL_EXPORTER_OTLP_HEADERS="api-key=hunter2",
    )
    assert "  OTEL_EXPORTER_OTLP_ENDPOINT: must be a URL like https://host:4318" in message
    assert "  OTEL_EXPORTER_OTLP_PROTOCOL: " in message
    assert "hunter2" not in message
