"""Background tasks: the slow part of saving a note, done by the worker process.

Tasks run at least once: a worker that dies mid-task leaves it to run again, so each
task must be safe to repeat.
https://docs.djangoproject.com/en/6.1/topics/tasks/
"""

from django.core.mail import mail_admins
from django.core.management import call_command
from django.tasks import task

from {{ cookiecutter.project_slug }}.models import Note


@task
def process_note(note_id: int) -> int | None:
    """Count the note's words and tell the site's admins about it.

    Returns the count, or None if the note was deleted before the task ran.
    """
    note = Note.objects.filter(pk=note_id).first()
    if note is None:
        return None
    note.words = len(note.text.split())
    note.save(update_fields=["words"])
    mail_admins(f"New note ({note.words} words)", note.text)
    return note.words


@task
def prune_finished_tasks(days: int) -> None:
    """Delete tasks finished more than `days` ago, failed ones included; config/tasks.py
    schedules it on the workers."""
    call_command("ox_prune", older_than=f"{days}d", include_failed=True, verbosity=0)
