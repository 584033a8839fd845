"""The example app's background work, run by the immediate backend: what a task does,
not how the worker runs it (the template's worker tests run the real worker)."""

import socket
from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.tasks import TaskResultStatus
from django.utils import timezone
from django_ox.models import OxTask

from {{ cookiecutter.project_slug }}.models import Note
from {{ cookiecutter.project_slug }}.tasks import process_note, prune_finished_tasks

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("static_files_without_collectstatic"),
]
SMTP = "django.core.mail.backends.smtp.EmailBackend"
IMMEDIATE = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture
def immediate(settings):
    settings.TASKS = IMMEDIATE
    settings.ADMINS = ["admin@example.com"]


def test_a_posted_note_gets_its_words_counted_and_the_admins_told(client, https, immediate):
    client.post("/notes/", {"text": "three short words"}, **https)
    note = Note.objects.get()
    assert note.words == 3
    (message,) = mail.outbox
    assert message.to == ["admin@example.com"]
    assert message.subject.endswith("New note (3 words)")
    assert message.body == "three short words"
    assert b"(3 words)" in client.get("/notes/", **https).content


def test_a_task_run_again_does_not_tell_the_admins_again(immediate):
    """A retry, or a second copy of a task whose worker was taken for dead."""
    note = Note.objects.create(text="told only once")
    assert process_note.call(note.pk) == 3
    assert process_note.call(note.pk) == 3
    assert len(mail.outbox) == 1
    assert Note.objects.get().admins_told


def test_a_mail_server_that_refuses_leaves_the_note_for_the_retry(immediate, settings):
    note = Note.objects.create(text="sent on retry")
    told = settings.MAILERS
    with socket.socket() as closed:  # a port nothing listens on: the connection is refused
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        settings.MAILERS = {
            "default": {"BACKEND": SMTP, "OPTIONS": {"host": "127.0.0.1", "port": port}}
        }
        with pytest.raises(ConnectionRefusedError):
            process_note.call(note.pk)
    assert (Note.objects.get().words, Note.objects.get().admins_told) == (None, False)
    settings.MAILERS = told
    assert process_note.call(note.pk) == 3
    assert len(mail.outbox) == 1


def test_a_note_waiting_for_the_worker_says_so(client, https):
    """Under the database backend the note is saved with its task queued beside it."""
    client.post("/notes/", {"text": "queued"}, **https)
    task = OxTask.objects.get()
    assert task.task_path == "{{ cookiecutter.project_slug }}.tasks.process_note"
    assert task.args == [Note.objects.get().pk]
    assert b"counting words" in client.get("/notes/", **https).content


def test_a_note_deleted_before_its_task_runs_is_skipped(immediate):
    note = Note.objects.create(text="gone soon")
    note.delete()
    result = process_note.enqueue(note.pk)
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value is None
    assert not mail.outbox


def test_pruning_deletes_finished_tasks_older_than_the_retention_only():
    now = timezone.now()
    rows = {
        name: OxTask.objects.create(
            task_path="{{ cookiecutter.project_slug }}.tasks.process_note",
            args=[1],
            kwargs={},
            backend_name="default",
            status=status,
            enqueued_at=now - timedelta(days=9),
            finished_at=finished,
        )
        for name, status, finished in [
            ("old success", OxTask.Status.SUCCESSFUL, now - timedelta(days=8)),
            ("old failure", OxTask.Status.FAILED, now - timedelta(days=8)),
            ("recent success", OxTask.Status.SUCCESSFUL, now - timedelta(days=6)),
            ("waiting", OxTask.Status.READY, None),
        ]
    }
    prune_finished_tasks.call(days=7)
    kept = set(OxTask.objects.values_list("pk", flat=True))
    assert kept == {rows["recent success"].pk, rows["waiting"].pk}


def test_the_worker_refuses_to_start_without_a_queue(immediate):
    with pytest.raises(CommandError, match="TASKS_BACKEND is not 'database'"):
        call_command("worker")
