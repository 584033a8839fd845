"""`manage.py worker`: the Procfile's worker process, configured by the environment.

https://oxpull.com/django-ox/configuration/
"""

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from django.tasks import task_backends
from django_ox.backend import OxBackend


class Command(BaseCommand):
    help = "Run queued tasks until SIGTERM, which lets the running ones finish first."

    def handle(self, *args, **options):
        if not isinstance(task_backends["default"], OxBackend):
            raise CommandError(
                "TASKS_BACKEND is not 'database': tasks run where they are enqueued, "
                "and a worker would have nothing to do."
            )
        worker = settings.TASKS_WORKER
        # DATABASE_POOL_MAX_SIZE is sized for a web process. Here each task thread holds
        # a connection while it runs and the polling loop needs one more; set before the
        # pool opens its first connection.
        pool = connections["default"].settings_dict.get("OPTIONS", {}).get("pool")
        if isinstance(pool, dict):
            pool["max_size"] = max(pool["max_size"], worker["concurrency"] + 1)
        call_command("ox_worker", **worker)
