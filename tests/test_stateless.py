"""Factor VI: two web processes of one project share nothing but the backing services.
A session begun on one works on the other, a value one caches the other reads, a
feature flag turned on from an admin command shows on both at once, sign-in failures are
counted across both, and when one is killed outright the other still serves all of it.

Both tests share one pair of processes; the one that kills a process comes last."""

import json
import os
import signal
import subprocess
import uuid

import pytest

from backing import REDIS_URL, redis_database
from bakery import collect_static, database_url
from faults import HOST
from server import serve
from visitor import Visitor, create_user, signs_in

pytestmark = pytest.mark.boot
PASSWORD = "a shared-nothing passphrase 2468"
ATTACKER = "203.0.113.10"  # the client address, as the trusted proxy (loopback) reports it
WRONG = "not the passphrase 0000"
FAILURE_LIMIT = 10


@pytest.fixture(scope="module")
def two_processes(project, migrated):
    """Two web processes on one database and one Redis: (environ, cache, first, second).
    Plain HTTP is served as it is: a peer that is not a trusted proxy cannot say HTTPS."""
    collect_static(project)
    environ = migrated | {"CACHE_URL": REDIS_URL, "SECURE_SSL_REDIRECT": "false"}
    with (
        redis_database() as cache,
        serve(project, environ) as first,
        serve(project, environ) as second,
    ):
        first.wait_until_serving()
        second.wait_until_serving()
        yield environ, cache, first, second


def behind_proxy(address: str) -> Visitor:
    return Visitor(headers={"X-Forwarded-For": address})


def untrusted_peer(claimed: str) -> Visitor:
    """A client on 127.0.0.2 (not in FORWARDED_ALLOW_IPS) claiming another address."""
    headers = {"X-Forwarded-For": claimed, "Origin": f"http://{HOST}"}
    return Visitor(headers=headers, source="127.0.0.2")


def lockouts(*servers) -> list[dict]:
    events = [json.loads(line) for server in servers for line in server.lines if "{" in line[:1]]
    return [event for event in events if event.get("logger") == "config.signin"]


def test_a_password_list_is_stopped_for_that_account_from_that_address(
    project, migrated, two_processes
):
    _, _, first, second = two_processes
    name, _ = create_user(project, migrated, PASSWORD)
    neighbour, _ = create_user(project, migrated, PASSWORD)
    attacker = behind_proxy(ATTACKER)
    statuses = [
        attacker.submit(
            (first, second)[n % 2], "/accounts/login/", {"username": name, "password": WRONG}
        ).status
        for n in range(FAILURE_LIMIT + 1)
    ]
    # Counted across both processes: refused from the tenth failure on.
    assert statuses == [200] * (FAILURE_LIMIT - 1) + [429, 429], statuses

    refused = attacker.submit(first, "/accounts/login/", {"username": name, "password": PASSWORD})
    assert refused.status == 429
    assert "Try again in 15 minutes" in refused.text
    admin = attacker.submit(
        second,
        "/admin/login/?next=/admin/",
        {"username": name, "password": PASSWORD, "next": "/admin/"},
    )
    assert admin.status == 429

    assert signs_in(behind_proxy(ATTACKER), first, neighbour, PASSWORD)
    assert signs_in(behind_proxy("203.0.113.11"), second, name, PASSWORD)

    (lockout,) = lockouts(first, second)
    assert lockout["level"] == "WARNING"
    assert (lockout["account"], lockout["remote_addr"]) == (name, ATTACKER)
    assert lockout["failures"] == FAILURE_LIMIT
    assert WRONG not in first.log + second.log

    # A peer that is not a trusted proxy is known by its own address, whatever
    # X-Forwarded-For it claims: claiming the locked-out one changes nothing.
    spoofer = untrusted_peer(ATTACKER)
    assert signs_in(spoofer, second, name, PASSWORD)
    assert len(lockouts(first, second)) == 1
    assert first.errors == second.errors == [], first.errors + second.errors


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


def test_sessions_and_cache_outlive_a_killed_process(project, migrated, database, two_processes):
    environ, cache, first, second = two_processes
    name, _ = create_user(project, migrated, PASSWORD)
    visitor = Visitor()

    assert signs_in(visitor, first, name, PASSWORD)
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
