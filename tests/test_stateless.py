"""Factor VI: two web processes of one project share nothing but the backing services.
A session begun on one works on the other, a value one caches the other reads, a
feature flag turned on from an admin command shows on both at once, and when one is
killed outright the other still serves all of it."""

import os
import signal
import subprocess
import uuid

import pytest

from backing import REDIS_URL, redis_database
from bakery import collect_static, database_url
from server import serve
from visitor import Visitor, create_user

pytestmark = pytest.mark.boot
PASSWORD = "a shared-nothing passphrase 2468"


def note_count(visitor: Visitor, server) -> str:
    page = visitor.get(server, "/notes/")
    assert page.status == 200, page.text[:300]
    return page.text.split('<p class="count">', 1)[1].split(" ", 1)[0]


def insert_note_behind_the_apps_back(database: str) -> None:
    """A row the cache was not told about: only a shared cache hides it from both."""
    subprocess.run(
        [
            "psql",
            database_url(database),
            "--quiet",
            "--no-psqlrc",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            "INSERT INTO demo_shop_note (text, created_at, attachment, admins_told) "
            "VALUES ('raw', now(), '', false)",
        ],
        check=True,
        capture_output=True,
    )


def shows_note_ages(visitor: Visitor, server) -> bool:
    """The example app's feature shipped dark behind the `note_ages` flag."""
    return 'class="age"' in visitor.get(server, "/notes/").text


def test_sessions_and_cache_outlive_a_killed_process(project, migrated, database):
    collect_static(project)
    name, _ = create_user(project, migrated, PASSWORD)
    environ = migrated | {"CACHE_URL": REDIS_URL}
    with (
        redis_database() as cache,
        serve(project, environ) as first,
        serve(project, environ) as second,
    ):
        first.wait_until_serving()
        second.wait_until_serving()
        visitor = Visitor()

        signed_in = visitor.submit(
            first, "/accounts/login/", {"username": name, "password": PASSWORD}
        )
        assert signed_in.status == 302, signed_in.text[:300]
        assert f"Signed in as {name}" in visitor.get(second, "/").text
        assert list(cache.scan_iter("*cached_db*")), "no session in the shared cache"

        # Both processes have read (and cached) the flag as off; turning it on, with no
        # deploy and no restart, shows on both.
        posted = visitor.submit(first, "/notes/", {"text": "a note to show the age of"})
        assert posted.status == 302, posted.text[:300]
        assert not shows_note_ages(visitor, first)
        assert not shows_note_ages(visitor, second)
        project.run(
            *("python", "manage.py", "waffle_flag", "note_ages", "--everyone", "--create"),
            env=environ,
        )
        assert shows_note_ages(visitor, second)
        assert shows_note_ages(visitor, first)

        counted = note_count(visitor, first)
        insert_note_behind_the_apps_back(database)
        assert note_count(visitor, second) == counted  # read from what the first cached

        os.killpg(first.process.pid, signal.SIGKILL)
        first.process.wait(timeout=10)

        assert f"Signed in as {name}" in visitor.get(second, "/").text
        assert note_count(visitor, second) == counted
        text = f"after the crash {uuid.uuid4().hex[:6]}"
        posted = visitor.submit(second, "/notes/", {"text": text})
        assert posted.status == 302, posted.text[:300]
        assert note_count(visitor, second) == str(int(counted) + 2)  # forgotten and recounted
        assert second.errors == [], second.errors
