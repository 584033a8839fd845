"""A task's trace continues the one that enqueued it, across processes, when tracing is
on (config/telemetry.py puts these classes in the TASKS setting).

The enqueuing request gets an `enqueue <task>` span, whose context (W3C traceparent)
travels in the stored task's keyword arguments: the one field django-ox keeps that the
enqueuing process can fill and the worker reads back. The worker removes it before the
task function is called and runs the task in a `run <task>` span, a child of the
enqueue span, with the task's queries and calls inside it.
"""

from django_ox.backend import OxBackend
from django_ox.worker import Worker
from opentelemetry import context, propagate, trace
from opentelemetry.trace import SpanKind

CONTEXT_KWARG = "_trace_context"
tracer = trace.get_tracer(__name__)


class TracedBackend(OxBackend):
    def enqueue(self, task, args, kwargs):
        with tracer.start_as_current_span(
            f"enqueue {task.name}",
            kind=SpanKind.PRODUCER,
            attributes={"messaging.system": "django-ox", "code.function": task.module_path},
        ) as span:
            carrier: dict[str, str] = {}
            propagate.inject(carrier)
            result = super().enqueue(task, args, kwargs | {CONTEXT_KWARG: carrier})
            span.set_attribute("messaging.message.id", str(result.id))
            return result


class _TaskSpan:
    """The span around one attempt of a task. A class rather than a generator, so that
    an exception from the task leaves with the traceback the worker stores, unchanged."""

    def __init__(self, db_task, body):
        carrier = db_task.kwargs.pop(CONTEXT_KWARG, None)
        self.parent = propagate.extract(carrier if isinstance(carrier, dict) else {})
        self.db_task, self.body = db_task, body

    def __enter__(self):
        self.span = tracer.start_span(
            f"run {self.db_task.task_path.rpartition('.')[2]}",
            context=self.parent,
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "django-ox",
                "messaging.message.id": str(self.db_task.id),
                "code.function": self.db_task.task_path,
                "task.attempt": self.db_task.attempts,
            },
        )
        self.token = context.attach(trace.set_span_in_context(self.span, self.parent))
        self.body.__enter__()

    def __exit__(self, kind, error, traceback):
        try:
            return self.body.__exit__(kind, error, traceback)
        finally:
            if error is not None:
                self.span.record_exception(error)
                self.span.set_status(trace.Status(trace.StatusCode.ERROR, type(error).__name__))
            context.detach(self.token)
            self.span.end()


class TracedWorker(Worker):
    def _task_body(self, db_task):
        return _TaskSpan(db_task, super()._task_body(db_task))
