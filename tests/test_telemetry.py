"""OpenTelemetry, on by the standard variable alone: the Procfile's web and worker send
one trace from a note's request through its queries, its attachment's upload and its
enqueue to the worker's run of the task, to a real OTLP/HTTP receiver; the log carries
the trace id; probes send nothing. That nothing is imported when it is off is the
project's own test."""

import json
import time

import pytest
from test_media import post_note

from backing import REDIS_URL, redis_database
from bakery import SLUG, collect_static, drop_database, new_database
from objectstore import object_store
from otlp import otlp_receiver
from server import serve

pytestmark = pytest.mark.boot

# Spans leave in batches every 200 ms rather than the default 5 s, metrics every second:
# the test waits for them, not for the defaults.
QUICK_EXPORT = {"OTEL_BSP_SCHEDULE_DELAY": "200", "OTEL_METRIC_EXPORT_INTERVAL": "1000"}
QUICK_WORKER = {"TASKS_POLL_INTERVAL": "0.2"}
# Generous: a worker importing the SDK on a loaded machine without bytecode is slow.
BOOT = 60


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.2)
    raise AssertionError(f"gave up after {timeout} s waiting for {what}")


def log_lines(process) -> list[dict]:
    return [json.loads(line) for line in process.lines if line.startswith("{")]


@pytest.fixture
def fresh(project):
    """A production environment on a database of its own, migrated: the kept one may hold
    other tests' tasks, and each of their runs would be a trace of its own."""
    database = new_database(f"tfd_trace_{project.interface}")
    environ = project.production_env(database)
    project.run("python", "manage.py", "migrate", "--noinput", env=environ)
    yield environ
    drop_database(database)


def test_one_trace_follows_a_note_from_the_request_to_the_worker(project, fresh, tmp_path):
    collect_static(project)
    with redis_database(), otlp_receiver() as (endpoint, received), object_store() as store:
        environ = (
            fresh
            | store.environ()
            | QUICK_EXPORT
            | QUICK_WORKER
            | {
                "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
                "CACHE_URL": REDIS_URL,
                "WEB_CONCURRENCY": "1",
                "TASKS_HEARTBEAT_FILE": str(tmp_path / "heartbeat"),
            }
        )
        with serve(project, environ) as web, serve(project, environ, "worker") as worker:
            web.wait_until_serving(timeout=BOOT)
            wait_for(lambda: worker.count('"worker_started"'), BOOT, "the worker to start")
            for probe in ("/healthz", "/readyz"):
                assert web.request(probe, headers={"Host": "10.1.2.3"}).status == 200
            post_note(web, "traced", "traced.txt", b"an attachment")

            def consumer():
                posted = {s.trace_id for s in received.spans if s.name == "POST notes/"}
                return [s for s in received.spans if s.kind == "CONSUMER" and s.trace_id in posted]

            wait_for(consumer, 30, "the worker's span of the note's task")
            # Metrics leave every second; on a loaded machine the request's duration can
            # miss the last export before SIGTERM, so it is awaited here.
            metric = (SLUG, "http.server.duration")
            wait_for(lambda: metric in received.metrics, 30, "the request-duration metric")
            # SIGTERM: whatever is still buffered must be sent on the way out.
            assert worker.stop() == 0
            assert web.stop() == 0
        spans = list(received.spans)

    (request,) = [s for s in spans if s.kind == "SERVER" and s.name == "POST notes/"]
    trace = [s for s in spans if s.trace_id == request.trace_id]
    by_id = {s.span_id: s for s in trace}
    summary = "\n".join(f"  {s.service} {s.kind} {s.name} <- {s.parent_id}" for s in trace)
    print(f"\n[{project.interface}] {len(spans)} spans received; the note's trace:\n{summary}")

    assert request.service == SLUG
    assert request.attributes.get("http.route") == "notes/"
    assert request.attributes.get("http.status_code") == 302
    queries = [s for s in trace if s.attributes.get("db.system") == "postgresql"]
    assert any("INSERT" in s.attributes.get("db.statement", "") for s in queries), summary
    assert any(s.attributes.get("db.system") == "redis" for s in trace), summary
    # The attachment's storage: HeadObject (is the name free?) from the request's thread.
    # Its PutObject runs in s3transfer's thread pool, outside the request's context, and
    # is dropped as a parentless client span (config/sampling.py).
    storage = [s for s in trace if s.attributes.get("rpc.service") == "S3"]
    assert "S3.HeadObject" in [s.name for s in storage], summary
    assert {s.parent_id for s in storage} == {request.span_id}, summary
    (enqueue,) = [s for s in trace if s.kind == "PRODUCER"]
    assert enqueue.name == "enqueue process_note"
    (run,) = [s for s in trace if s.kind == "CONSUMER"]
    assert run.name == "run process_note" and run.parent_id == enqueue.span_id
    # The task's own queries, in the worker, inside its span.
    assert any(
        s.parent_id == run.span_id and "UPDATE" in s.attributes.get("db.statement", "")
        for s in queries
    ), summary
    # Every span of the trace hangs from the request: one tree, across two processes.
    for span in trace:
        if span is not request:
            assert span.parent_id in by_id, f"{span.name} has no parent in the trace"

    # Probes make no span, nor does anything outside a request or a task (the worker's
    # polling, the pool's checks): every trace begins at a server span or a task.
    assert not [s for s in spans if "healthz" in str(s.attributes) or "readyz" in str(s.attributes)]
    roots = {s.kind for s in spans if not s.parent_id}
    assert roots <= {"SERVER", "PRODUCER"}, roots
    assert (SLUG, "http.server.duration") in received.metrics, set(received.metrics)

    # The access line of the request, written after its span ended, carries its trace id.
    access = [
        line
        for line in log_lines(web)
        if line.get("method") == "POST" and line.get("path") == "/notes/"
    ]
    assert [line.get("trace_id") for line in access] == [request.trace_id], access
    assert web.errors == [] and worker.errors == [], web.errors + worker.errors
