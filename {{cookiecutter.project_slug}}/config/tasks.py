"""Background tasks: Django's tasks framework, queued in Postgres for the worker process.

Application code uses only `django.tasks` (`@task`, `.enqueue()`, results), so another
backend is a change of this module alone. The database backend is django-ox: several
workers claim tasks with SELECT ... FOR UPDATE SKIP LOCKED, a task whose worker died
runs again when its lease expires, and a task that raises is retried with back-off.
https://docs.djangoproject.com/en/6.1/topics/tasks/
https://oxpull.com/django-ox/configuration/
"""

from typing import Literal

from pydantic import Field

from config.variables import EnvPart

BACKENDS = {
    "database": "django_ox.backend.OxBackend",
    "immediate": "django.tasks.backends.immediate.ImmediateBackend",
}
# Retries double their delay from TASKS_RETRY_DELAY up to this: a task failing on an
# outage that lasts hours is tried every 10 minutes, not every few seconds.
RETRY_DELAY_MAX = 600
# Finished tasks older than TASKS_RESULT_DAYS are deleted by the worker this often; an
# hour keeps each deletion small.
PRUNE_EVERY = 3600


class TasksEnv(EnvPart):
    TASKS_BACKEND: Literal["database", "immediate"] = Field(
        "database",
        description="database: queued in Postgres for the worker process; immediate: run "
        "inside the request that enqueues (tests only).",
    )
    TASKS_CONCURRENCY: int = Field(
        4, ge=1, description="Tasks each worker process runs at once, one thread each."
    )
    TASKS_POLL_INTERVAL: float = Field(
        1.0, gt=0, description="Seconds an idle worker waits before looking for new tasks."
    )
    TASKS_LEASE_SECONDS: int = Field(
        60, ge=3, description="Seconds after a worker dies before its running tasks run again."
    )
    TASKS_MAX_ATTEMPTS: int = Field(
        3, ge=1, description="Runs of a task that raises before it is marked failed."
    )
    TASKS_RETRY_DELAY: float = Field(
        10.0, gt=0, description="Seconds before a failed task's first retry; doubles each time."
    )
    TASKS_RESULT_DAYS: int = Field(
        7, ge=1, description="Days finished tasks are kept before the worker deletes them."
    )
    TASKS_HEARTBEAT_FILE: str = Field(
        # In the container, /tmp is a tmpfs of its own: the one writable, private place.
        "/tmp/worker-heartbeat",  # noqa: S108
        description="File the worker touches while its loop runs; the liveness probe reads it.",
    )


def tasks_settings(env: TasksEnv) -> dict:
    """Django's TASKS setting."""
    backend = {"BACKEND": BACKENDS[env.TASKS_BACKEND]}
    if env.TASKS_BACKEND == "database":
        backend["OPTIONS"] = {
            "MAX_ATTEMPTS": env.TASKS_MAX_ATTEMPTS,
            # A running task's worker renews its lease every third of it; a lease that
            # expires unrenewed means the worker died, and the task is run again.
            "LOCK_TIMEOUT": env.TASKS_LEASE_SECONDS,
            "BACKOFF_INITIAL": env.TASKS_RETRY_DELAY,
            "BACKOFF_MAX": RETRY_DELAY_MAX,
            # Dispatched by the workers themselves, once across all of them.
            "SCHEDULES": {
                "prune-finished-tasks": {
                    "task": "{{ cookiecutter.project_slug }}.tasks.prune_finished_tasks",
                    "every": PRUNE_EVERY,
                    "kwargs": {"days": env.TASKS_RESULT_DAYS},
                },
            },
        }
    return {"default": backend}


def worker_options(env: TasksEnv) -> dict:
    """What `manage.py worker` passes to django-ox's worker loop."""
    return {
        "concurrency": env.TASKS_CONCURRENCY,
        "interval": env.TASKS_POLL_INTERVAL,
        "heartbeat_file": env.TASKS_HEARTBEAT_FILE,
    }
