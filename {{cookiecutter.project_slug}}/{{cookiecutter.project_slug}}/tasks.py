"""Background tasks: the slow part of saving a note, done by the worker process.

Tasks run at least once: a worker that dies mid-task leaves it to run again, so each
task must be safe to repeat.
https://docs.djangoproject.com/en/6.1/topics/tasks/
"""

from django.core.mail import mail_admins
from django.core.management import call_command
from django.db import transaction
from django.tasks import task

from {{ cookiecutter.project_slug }}.models import Note


@task
def process_note(note_id: int) -> int | None:
    """Count the note's words and tell the site's admins about it, once.

    Safe to run twice: the note's row stays locked while the task works on it, so a
    second copy waits, then finds `admins_told` set and sends nothing. The email goes
    last, inside the transaction: if the mail server refuses it, nothing is saved and the
    retry sends it; only a crash between the server's acceptance and the commit could
    send it twice.

    Returns the count, or None if the note was deleted before the task ran.
    """
    with transaction.atomic():
        note = Note.objects.select_for_update().filter(pk=note_id).first()
        if note is None:
            return None
        if note.admins_told:
            return note.words
        note.words = len(note.text.split())
        note.admins_told = True
        note.save(update_fields=["words", "admins_told"])
        mail_admins(f"New note ({note.words} words)", note.text)
    return note.words


@task
def prune_finished_tasks(days: int) -> None:
    """Delete tasks finished more than `days` ago, failed ones included; config/tasks.py
    schedules it on the workers."""
    call_command("ox_prune", older_than=f"{days}d", include_failed=True, verbosity=0)
