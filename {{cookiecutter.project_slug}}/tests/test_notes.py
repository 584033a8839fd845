"""The example app's write: a posted note is saved and shown, or refused whole."""

import pytest
from django.core.cache import cache
from django.core.files.storage import FileSystemStorage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client

from {{ cookiecutter.project_slug }}.models import Note

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("static_files_without_collectstatic"),
]


def test_a_posted_note_is_saved_and_shown_escaped(client, https):
    response = client.post("/notes/", {"text": "Hello <b>world</b>"}, **https)
    assert response.status_code == 302
    assert response["Location"] == "/notes/"
    assert list(Note.objects.values_list("text", flat=True)) == ["Hello <b>world</b>"]
    page = client.get("/notes/", **https)
    assert b"Hello &lt;b&gt;world&lt;/b&gt;" in page.content


def test_an_invalid_note_is_refused_and_nothing_is_saved(client, https):
    for text in ("", "x" * 281):
        response = client.post("/notes/", {"text": text}, **https)
        assert response.status_code == 400
    assert not Note.objects.exists()


def test_a_note_without_the_csrf_token_is_refused(https):
    response = Client(enforce_csrf_checks=True).post("/notes/", {"text": "forged"}, **https)
    assert response.status_code == 403
    assert not Note.objects.exists()


def test_notes_are_only_read_and_posted(client, https):
    assert client.put("/notes/", **https).status_code == 405
    assert client.delete("/notes/", **https).status_code == 405


def test_the_note_count_is_cached_and_forgotten_when_a_note_is_saved(
    client, https, django_capture_on_commit_callbacks
):
    cache.clear()
    assert b"0 notes so far" in client.get("/notes/", **https).content
    Note.objects.bulk_create([Note(text="skips the model's signals")])
    assert b"0 notes so far" in client.get("/notes/", **https).content
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/notes/", {"text": "saved"}, **https)
    assert b"2 notes so far" in client.get("/notes/", **https).content


@pytest.fixture
def development_media(settings, tmp_path):
    """Uploads on the local disk, as in development (production's bucket: template tests)."""
    settings.DEBUG = True
    settings.MEDIA_ROOT = tmp_path


# For each upload: was a database transaction open (a slow bucket would hold it open)?
uploads_in_a_transaction: list[bool] = []


class WatchedStorage(FileSystemStorage):
    """The development disk, noting each upload in uploads_in_a_transaction."""

    def _save(self, name, content):
        uploads_in_a_transaction.append(connection.in_atomic_block)
        return super()._save(name, content)


# Committed for real: inside the test's own transaction every upload would look enclosed.
@pytest.mark.django_db(transaction=True)
def test_a_note_keeps_its_attachment_uploaded_outside_any_transaction(
    client, https, development_media, settings, tmp_path
):
    settings.STORAGES = settings.STORAGES | {
        "default": {"BACKEND": f"{__name__}.WatchedStorage", "OPTIONS": {"location": tmp_path}}
    }
    uploads_in_a_transaction.clear()
    upload = SimpleUploadedFile("plan.txt", b"step one", content_type="text/plain")
    response = client.post("/notes/", {"text": "See attached", "attachment": upload}, **https)
    assert response.status_code == 302
    assert uploads_in_a_transaction == [False]
    note = Note.objects.get()
    with note.attachment.open() as attachment:
        assert attachment.read() == b"step one"
    page = client.get("/notes/", **https).content.decode()
    assert f'<a href="{note.attachment.url}">attachment</a>' in page


def test_an_oversized_attachment_is_refused_and_nothing_is_saved(
    client, https, development_media, tmp_path
):
    upload = SimpleUploadedFile("big.bin", b"x" * (5 * 1024 * 1024 + 1))
    response = client.post("/notes/", {"text": "Too big", "attachment": upload}, **https)
    assert response.status_code == 400
    assert b"5.0\xc2\xa0MB or less" in response.content
    assert not Note.objects.exists()
    assert not any(tmp_path.iterdir())
