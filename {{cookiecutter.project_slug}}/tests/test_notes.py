"""The example app's write: a posted note is saved and shown, or refused whole."""

import pytest
from django.core.cache import cache
from django.test import Client

from {{ cookiecutter.project_slug }}.models import Note

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def static_files_without_collectstatic(settings):
    """Hashed static names need collectstatic's manifest; the template's boot tests cover them."""
    settings.STORAGES = settings.STORAGES | {
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    }


@pytest.fixture
def https(settings) -> dict:
    """What the platform's router forwards: a known host, over HTTPS."""
    return {"headers": {"host": settings.ALLOWED_HOSTS[0]}, "secure": True}


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
