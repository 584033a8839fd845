"""`manage.py worker`: the Procfile's worker process, configured by the environment.
`manage.py worker --alive` is its liveness probe.

https://oxpull.com/django-ox/configuration/
"""

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from django.tasks import task_backends
from django_ox.backend import OxBackend

from config import telemetry
from config.database import limit_statement_time
from config.env import load

# The worker's loop touches its heartbeat file on every pass, at least once per poll
# interval, tasks running or not. A minute without one is a loop that is stuck, not one
# that is busy; a probe run every 30 s restarts it within 90 s.
HEARTBEAT_MAX_AGE = 60


class Command(BaseCommand):
    help = "Run queued tasks until SIGTERM, which lets the running ones finish first."

    def add_arguments(self, parser):
        parser.add_argument(
            "--alive",
            action="store_true",
            help="Exit 0 if this container's worker loop ran within the last minute, else 1.",
        )

    def handle(self, *args, alive=False, **options):
        worker = settings.TASKS_WORKER
        if alive:
            max_age = max(HEARTBEAT_MAX_AGE, 3 * worker["interval"])
            call_command(
                "ox_health", heartbeat_file=worker["heartbeat_file"], max_heartbeat_age=max_age
            )
            return
        if not isinstance(task_backends["default"], OxBackend):
            raise CommandError(
                "TASKS_BACKEND is not 'database': tasks run where they are enqueued, "
                "and a worker would have nothing to do."
            )
        # DATABASE_POOL_MAX_SIZE is sized for a web process. Here each task thread holds
        # a connection while it runs and the polling loop needs one more; set before the
        # pool opens its first connection.
        pool = connections["default"].settings_dict.get("OPTIONS", {}).get("pool")
        if isinstance(pool, dict):
            pool["max_size"] = max(pool["max_size"], worker["concurrency"] + 1)
        # A serving process like web: a stuck query fails its task (which is retried)
        # instead of holding a task thread for ever.
        limit_statement_time()
        # Traces and metrics, when configured (config/telemetry.py).
        telemetry.start(load(), settings.GIT_REVISION)
        call_command("ox_worker", **worker)
