"""A real OTLP/HTTP receiver on loopback: what an OpenTelemetry collector accepts on
port 4318, decoded with the project's own protobuf definitions (opentelemetry-proto), or
only counted (the bench's, which must not hold a run's spans in memory)."""

import gzip
import http.server
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span as SpanMessage

from server import free_port

KINDS = {value: name.removeprefix("SPAN_KIND_") for name, value in SpanMessage.SpanKind.items()}


def _value(any_value):
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind else None


def _attributes(key_values) -> dict:
    return {item.key: _value(item.value) for item in key_values}


@dataclass
class Span:
    service: str
    name: str
    kind: str  # SERVER, CLIENT, PRODUCER, CONSUMER, INTERNAL
    trace_id: str
    span_id: str
    parent_id: str
    attributes: dict


@dataclass
class Received:
    spans: list[Span] = field(default_factory=list)
    metrics: list[tuple[str, str]] = field(default_factory=list)  # (service, metric name)
    requests: list[str] = field(default_factory=list)  # path and content type of each post

    def trace(self, trace_id: str) -> list[Span]:
        return [span for span in self.spans if span.trace_id == trace_id]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        received: Received = self.server.received
        received.requests.append(f"{self.path} {self.headers.get('Content-Type')}")
        if self.server.decode and self.path == "/v1/traces":
            self._traces(ExportTraceServiceRequest.FromString(body), received)
        elif self.server.decode and self.path == "/v1/metrics":
            self._metrics(ExportMetricsServiceRequest.FromString(body), received)
        reply = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    @staticmethod
    def _traces(request, received: Received) -> None:
        for resource_spans in request.resource_spans:
            service = _attributes(resource_spans.resource.attributes).get("service.name")
            for scope_spans in resource_spans.scope_spans:
                received.spans.extend(
                    Span(
                        service=service,
                        name=span.name,
                        kind=KINDS[span.kind],
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_id=span.parent_span_id.hex(),
                        attributes=_attributes(span.attributes),
                    )
                    for span in scope_spans.spans
                )

    @staticmethod
    def _metrics(request, received: Received) -> None:
        for resource_metrics in request.resource_metrics:
            service = _attributes(resource_metrics.resource.attributes).get("service.name")
            for scope_metrics in resource_metrics.scope_metrics:
                received.metrics.extend((service, metric.name) for metric in scope_metrics.metrics)

    def log_message(self, *args):
        pass


@contextmanager
def otlp_receiver(*, decode: bool = True):
    """Yields (endpoint URL, Received); stopped on exit. Without `decode`, what is
    received is only counted: Received.requests, one entry per export."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    server.received, server.decode = Received(), decode
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", server.received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
