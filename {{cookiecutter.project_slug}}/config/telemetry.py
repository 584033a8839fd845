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
import logging
import os
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator

from config.middleware import SyncAndAsyncMiddleware
from config.variables import EnvPart

# The service name when OTEL_SERVICE_NAME (or service.name in OTEL_RESOURCE_ATTRIBUTES)
# does not give one: the SDK's own default is "unknown_service".
SERVICE_NAME = "{{ cookiecutter.project_slug }}"
# Buffered spans, then metrics, get this long each to leave at shutdown: 10 s at worst,
# with an unreachable collector, inside gunicorn's graceful timeout (25 s).
FLUSH_TIMEOUT_MILLIS = 5000
# The access line is written after the request's span has ended: the span's trace id
# is kept here for it (one context per gthread thread or per ASGI request task).
_request_trace_id: ContextVar[str | None] = ContextVar("request_trace_id", default=None)
ACCESS_LOGGERS = frozenset({"gunicorn.access", "uvicorn.access"})

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


def start(env: TelemetryEnv, revision: str, *, requests: bool = False) -> None:
    """Send this process's traces and metrics, if an endpoint is set. `requests`: also
    trace the Django requests it serves (the web process)."""
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
    if requests:
        _instrument_requests()
    atexit.register(stop)


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


def _instrument_requests() -> None:
    """Configure the Django instrumentation's tracer and request-duration metrics. Its
    middleware is RequestSpans below, which settings.MIDDLEWARE lists after the health
    probes: the instrumentation's own would go first, where a probe by IP address makes
    it raise DisallowedHost (it builds the request's absolute URL)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.conf import settings
    from opentelemetry.instrumentation.django import DjangoInstrumentor

    instrumentor = DjangoInstrumentor()
    instrumentor.instrument()
    settings.MIDDLEWARE.remove(instrumentor._opentelemetry_middleware)


class RequestSpans(SyncAndAsyncMiddleware):
    """A server span per request, named after its route, with its status; and the
    request-duration histogram. Sync and async, so that under ASGI a request does not
    hop to a thread for it. Not used at all when tracing is off."""

    def __init__(self, get_response):
        from django.core.exceptions import MiddlewareNotUsed

        if not _providers:
            raise MiddlewareNotUsed
        from opentelemetry.instrumentation.django.middleware.otel_middleware import (
            _DjangoMiddleware,
        )
        from opentelemetry.trace import get_current_span

        super().__init__(get_response)
        self.spans = _DjangoMiddleware(get_response)
        self.current_span = get_current_span

    def _begin(self, request) -> None:
        self.spans.process_request(request)
        context = self.current_span().get_span_context()
        _request_trace_id.set(f"{context.trace_id:032x}" if context.is_valid else None)

    def _end(self, request, response):
        # The route is known once the URL is resolved: the span and the duration get it
        # here rather than from a process_view, which under ASGI would hop to a thread.
        self.spans.process_view(request, None)
        return self.spans.process_response(request, response)

    def call(self, request):
        self._begin(request)
        return self._end(request, self.get_response(request))

    async def acall(self, request):
        self._begin(request)
        return self._end(request, await self.get_response(request))

    def process_exception(self, request, exception):
        self.spans.process_exception(request, exception)


class TraceIds(logging.Filter):
    """`trace_id` and `span_id` on every line made inside a span; on the access line,
    written after the request's span ended, that request's trace id. Only in the log
    configuration when tracing is on (config/logs.py)."""

    def __init__(self):
        super().__init__()
        from opentelemetry.trace import get_current_span

        self.current_span = get_current_span

    def filter(self, record: logging.LogRecord) -> bool:
        context = self.current_span().get_span_context()
        if context.is_valid:
            record.trace_id = f"{context.trace_id:032x}"
            record.span_id = f"{context.span_id:016x}"
        elif record.name in ACCESS_LOGGERS and (trace_id := _request_trace_id.get()):
            record.trace_id = trace_id
        return True


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
