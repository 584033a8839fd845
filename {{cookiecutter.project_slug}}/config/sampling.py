"""Where traces begin, when tracing is on (config/telemetry.py): at a request or a task.

A query, cache call or outgoing HTTP request made outside both (the worker polling its
queue, the readiness probe's query, the connection pool's checks, Sentry sending a
report) would each start a trace of one span, every few seconds, in every process:
those are dropped. Every other span is left to the sampler OTEL_TRACES_SAMPLER chose.
"""

from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import SpanKind, get_current_span


class RequestsAndTasks(Sampler):
    def __init__(self, sampler: Sampler):
        self.sampler = sampler

    def should_sample(  # type: ignore[override]  # the SDK's own samplers' signature
        self, parent_context, trace_id, name, kind=None, attributes=None, links=None
    ) -> SamplingResult:
        parentless = not get_current_span(parent_context).get_span_context().is_valid
        if parentless and kind == SpanKind.CLIENT:
            return SamplingResult(Decision.DROP)
        return self.sampler.should_sample(parent_context, trace_id, name, kind, attributes, links)

    def get_description(self) -> str:
        return "RequestsAndTasks(" + self.sampler.get_description() + ")"
