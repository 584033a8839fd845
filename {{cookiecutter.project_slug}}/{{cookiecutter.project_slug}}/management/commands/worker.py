"""`manage.py worker`: the Procfile's worker process, configured by the environment.

https://oxpull.com/django-ox/configuration/
"""

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
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
        call_command("ox_worker", **settings.TASKS_WORKER)
