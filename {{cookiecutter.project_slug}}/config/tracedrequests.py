"""A request's span, its duration and its trace id in the log, when telemetry is on
(config/telemetry.py). Imported when it is off too (settings.MIDDLEWARE and the log
configuration name these classes), so nothing of `opentelemetry` is imported at the top.

The span is ours rather than opentelemetry-instrumentation-django's middleware, the
largest part of OpenTelemetry's cost on a page (docs/performance.md in the template):
one span per request, named after its route, with the attributes a trace view shows
and nothing collected per request that nobody reads.
"""

import logging
import time
from contextvars import ContextVar

from django.core.exceptions import MiddlewareNotUsed

from config import telemetry
from config.middleware import SyncAndAsyncMiddleware

# The access line is written after the request's span has ended: the span's trace id
# is kept here for it (one context per gthread thread or per ASGI request task).
_request_trace_id: ContextVar[str | None] = ContextVar("request_trace_id", default=None)
ACCESS_LOGGERS = frozenset({"gunicorn.access", "uvicorn.access"})


class _Headers:
    """Reads a propagator's header (traceparent, tracestate, baggage) from request.META,
    where Django keeps it under both interfaces."""

    @staticmethod
    def get(meta: dict, key: str) -> list[str] | None:
        value = meta.get("HTTP_" + key.upper().replace("-", "_"))
        return None if value is None else [value]

    @staticmethod
    def keys(meta: dict) -> list[str]:
        return [key[5:].lower().replace("_", "-") for key in meta if key.startswith("HTTP_")]


class RequestSpans(SyncAndAsyncMiddleware):
    """A server span per request, continuing the caller's trace (W3C traceparent), named
    after its route, with its status; and the request-duration histogram. Sync and
    async, so that under ASGI a request does not hop to a thread for it. Listed after
    the health probes, which make no span; not used at all when telemetry is off."""

    def __init__(self, get_response):
        if not telemetry.started():
            raise MiddlewareNotUsed
        from opentelemetry import context, metrics, propagate, trace

        super().__init__(get_response)
        self.context, self.propagate, self.trace = context, propagate, trace
        self.tracer = trace.get_tracer(__name__)
        self.duration = metrics.get_meter(__name__).create_histogram(
            "http.server.duration", unit="ms", description="Duration of HTTP server requests."
        )

    def _begin(self, request):
        parent = self.propagate.extract(request.META, getter=_Headers)
        span = self.tracer.start_span(
            request.method,
            parent,
            kind=self.trace.SpanKind.SERVER,
            attributes={"http.method": request.method, "http.target": request.path},
        )
        context = span.get_span_context()
        _request_trace_id.set(f"{context.trace_id:032x}" if context.is_valid else None)
        token = self.context.attach(self.trace.set_span_in_context(span, parent))
        return span, token, time.perf_counter()

    def _end(self, request, response, span, token, started) -> None:
        self.context.detach(token)
        attributes = {}  # the span has had the method since it began
        # The route is known once the URL is resolved; a response from a middleware
        # before that (a redirect to HTTPS, say) has none.
        if route := getattr(request.resolver_match, "route", None):
            attributes["http.route"] = route
            span.update_name(f"{request.method} {route}")
        # No response: the request was cancelled (an ASGI client went away, say).
        if response is not None:
            attributes["http.status_code"] = response.status_code
        span.set_attributes(attributes)
        if response is None or response.status_code >= 500:
            span.set_status(self.trace.StatusCode.ERROR)
        span.end()
        duration = (time.perf_counter() - started) * 1000
        self.duration.record(duration, attributes | {"http.method": request.method})

    def call(self, request):
        begun, response = self._begin(request), None
        try:
            response = self.get_response(request)
            return response
        finally:
            self._end(request, response, *begun)

    async def acall(self, request):
        begun, response = self._begin(request), None
        try:
            response = await self.get_response(request)
            return response
        finally:
            self._end(request, response, *begun)

    def process_exception(self, request, exception):
        # Called for an exception from the view, inside the request's span.
        self.trace.get_current_span().record_exception(exception)


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
