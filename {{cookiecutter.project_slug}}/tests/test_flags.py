"""Feature flags: code shipped dark shows where a flag is on, and stays dark when the
cache is down (tests/test_cache.py). (The template's boot tests turn one on across
processes.)"""

import pytest
from django.core.cache import cache
from waffle.models import Flag

from {{ cookiecutter.project_slug }}.models import Note
from {{ cookiecutter.project_slug }}.notes import NOTE_AGES_FLAG

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("static_files_without_collectstatic"),
]


@pytest.fixture(autouse=True)
def no_cached_flags():
    """Flags are cached across requests, so across tests too."""
    cache.clear()


@pytest.fixture
def note():
    return Note.objects.create(text="a note with an age")


def shows_ages(client, https) -> bool:
    page = client.get("/notes/", **https)
    assert page.status_code == 200
    return b'class="age"' in page.content


def test_a_feature_behind_a_flag_is_dark_until_the_flag_is_on(
    client, https, note, django_capture_on_commit_callbacks
):
    assert not shows_ages(client, https)
    # Saving a flag forgets its cached copy once the transaction commits.
    with django_capture_on_commit_callbacks(execute=True):
        Flag.objects.create(name=NOTE_AGES_FLAG, everyone=True)
    assert shows_ages(client, https)


def test_a_flag_on_for_staff_only_is_off_for_everyone_else(client, https, note, admin_user):
    Flag.objects.create(name=NOTE_AGES_FLAG, staff=True)
    assert not shows_ages(client, https)
    client.force_login(admin_user)
    assert shows_ages(client, https)


def test_a_percentage_rollout_keeps_a_visitor_in_it(client, https, note):
    Flag.objects.create(name=NOTE_AGES_FLAG, percent=50)
    first = shows_ages(client, https)
    assert f"dwf_{NOTE_AGES_FLAG}" in client.cookies  # the visitor's side of the coin
    assert all(shows_ages(client, https) == first for _ in range(5))
