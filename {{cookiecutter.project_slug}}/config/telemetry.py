"""OpenTelemetry traces and metrics, sent over OTLP/HTTP, when an endpoint is set.

Off unless OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT /
_METRICS_ENDPOINT) is set, and then only if OTEL_SDK_DISABLED is not true. Off, nothing
from `opentelemetry` is imported and no request pays for it. On, the SDK reads the
standard variables itself (service name, resource attributes, sampler, headers,
timeouts, batch sizes), as the specification says:
https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/

Each serving or working process starts its own exporters after gunicorn forks it
(gunicorn.conf.py) or when the worker command starts: the exporters' threads would not
survive a fork, and the master serves no request. What is buffered is sent on the way
out, so the last spans before SIGTERM are not lost.
"""

import atexit
from collections.abc import Mapping
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator

from config.variables import EnvPart

# The service name when OTEL_SERVICE_NAME (or service.name in OTEL_RESOURCE_ATTRIBUTES)
# does not give one: the SDK's own default is "unknown_service".
SERVICE_NAME = "{{ cookiecutter.project_slug }}"
# Buffered spans, then metrics, get this long each to leave at shutdown: 10 s at worst,
# with an unreachable collector, inside gunicorn's graceful timeout (25 s).
FLUSH_TIMEOUT_MILLIS = 5000
_providers: list = []


class TelemetryEnv(EnvPart):
    """The variables that turn telemetry on and say where it goes; the SDK reads the
    rest of the standard OTEL_* variables itself (README, OpenTelemetry)."""

    OTEL_EXPORTER_OTLP_ENDPOINT: str = Field(
        "",
        description="http(s)://collector:4318, where traces and metrics are sent over "
        "OTLP/HTTP (/v1/traces, /v1/metrics appended). Empty: OpenTelemetry is off.",
    )
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: str = Field(
        "", description="The full URL for traces alone, instead of the endpoint's."
    )
    OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: str = Field(
        "", description="The full URL for metrics alone, instead of the endpoint's."
    )
    OTEL_EXPORTER_OTLP_HEADERS: SecretStr = Field(
        SecretStr(""),
        description="Headers sent with every export, as key=value,key2=value2 (a "
        "vendor's API key, say).",
    )
    OTEL_EXPORTER_OTLP_PROTOCOL: Literal["http/protobuf"] = Field(
        "http/protobuf", description="The only protocol installed (no gRPC)."
    )
    OTEL_SDK_DISABLED: bool = Field(
        False, description="true: OpenTelemetry stays off even with an endpoint set."
    )

    @field_validator(
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    )
    @classmethod
    def http_url(cls, value: str) -> str:
        if value:
            url = urlsplit(value)
            if url.scheme not in ("http", "https") or not url.hostname:
                raise ValueError("must be a URL like https://host:4318")
        return value


def _endpoint(env: TelemetryEnv, signal: str) -> str | None:
    """A signal's URL, as the specification builds it, or None when it is off."""
    if env.OTEL_SDK_DISABLED:
        return None
    if own := getattr(env, f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT"):
        return own
    if base := env.OTEL_EXPORTER_OTLP_ENDPOINT:
        return f"{base.rstrip('/')}/v1/{signal}"
    return None


def tracing(env: TelemetryEnv) -> bool:
    """Whether this process sends traces: the settings, the log configuration and the
    tasks backend ask before start()."""
    return _endpoint(env, "traces") is not None


def _headers(env: TelemetryEnv) -> Mapping[str, str] | None:
    """OTEL_EXPORTER_OTLP_HEADERS, parsed as the SDK does, or None for the SDK's own
    reading of the environment (per-signal headers included)."""
    if not (text := env.OTEL_EXPORTER_OTLP_HEADERS.get_secret_value()):
        return None
    from opentelemetry.util.re import parse_env_headers

    return parse_env_headers(text, liberal=True)


def start(env: TelemetryEnv, revision: str) -> None:
    """Send this process's traces and metrics, if an endpoint is set. The requests it
    serves get their spans from config/tracedrequests.py's middleware."""
    traces, metrics = _endpoint(env, "traces"), _endpoint(env, "metrics")
    if not (traces or metrics) or _providers:
        return
    from opentelemetry.sdk.resources import OTELResourceDetector, Resource

    # The variables win over these defaults.
    resource = Resource.create({"service.name": SERVICE_NAME, "service.version": revision})
    resource = resource.merge(OTELResourceDetector().detect())
    if traces:
        _start_tracing(resource, traces, _headers(env))
    if metrics:
        _start_metrics(resource, metrics, _headers(env))
    _instrument_clients()
    atexit.register(stop)


def started() -> bool:
    """Whether this process sends traces or metrics."""
    return bool(_providers)


def stop() -> None:
    """Send what is buffered, then stop the exporters: at exit, or earlier from
    gunicorn's worker_exit, while the worker's logging still works."""
    while _providers:
        _providers.pop().shutdown()


def _start_tracing(resource, endpoint: str, headers: Mapping[str, str] | None) -> None:
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import _get_from_env_or_default

    from config.sampling import RequestsAndTasks

    # OTEL_TRACES_SAMPLER's sampler, as the SDK reads it, decides for every trace that
    # begins with a request or a task.
    provider = TracerProvider(
        resource=resource,
        sampler=RequestsAndTasks(_get_from_env_or_default()),
        shutdown_on_exit=False,
    )
    provider.add_span_processor(
        BatchSpanProcessor(
            OTLPSpanExporter(endpoint, headers=headers), export_timeout_millis=FLUSH_TIMEOUT_MILLIS
        )
    )
    trace.set_tracer_provider(provider)
    _providers.append(provider)


def _start_metrics(resource, endpoint: str, headers: Mapping[str, str] | None) -> None:
    from opentelemetry import metrics
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint, headers=headers), export_timeout_millis=FLUSH_TIMEOUT_MILLIS
    )
    provider = MeterProvider(resource=resource, metric_readers=[reader], shutdown_on_exit=False)
    metrics.set_meter_provider(provider)
    _providers.append(provider)


def _instrument_clients() -> None:
    """Spans for what the process calls: Postgres (pooled connections too: the pool
    opens them through psycopg.Connection.connect, wrapped here before the first one),
    Redis, S3 (botocore) and outgoing HTTP (urllib3, which botocore and Sentry use)."""
    from opentelemetry.instrumentation.botocore import BotocoreInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.instrumentation.urllib3 import URLLib3Instrumentor

    for instrumentor in (
        PsycopgInstrumentor,
        RedisInstrumentor,
        BotocoreInstrumentor,
        URLLib3Instrumentor,
    ):
        instrumentor().instrument()


def trace_tasks(tasks: dict, env: TelemetryEnv) -> dict:
    """The TASKS setting, with tasks that carry their enqueuer's trace to the worker
    when tracing is on (config/tracedtasks.py)."""
    backend = tasks["default"]
    if not tracing(env) or backend["BACKEND"] != "django_ox.backend.OxBackend":
        return tasks
    return tasks | {
        "default": backend
        | {
            "BACKEND": "config.tracedtasks.TracedBackend",
            "OPTIONS": backend["OPTIONS"] | {"WORKER_CLASS": "config.tracedtasks.TracedWorker"},
        }
    }
