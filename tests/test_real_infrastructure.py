"""What a new user and real infrastructure meet: a fresh clone, a long migration, a slow
database, a proxy the app does not trust yet."""

import contextlib
import http.client
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bakery import (
    SLUG,
    TEMPLATE,
    add_migration,
    bake,
    collect_static,
    drop_database,
    network_environment,
    new_database,
    python313,
    shared_directory,
    tool,
    with_test_views,
)
from server import free_port, procfile_command, serve

sys.path.insert(0, str(TEMPLATE / "scripts"))
import reserved_names  # noqa: E402  (a script of the template, not a package)

UNTRUSTED = {"FORWARDED_ALLOW_IPS": "10.9.9.9"}  # a proxy that is not the test's client


def readme_commands(project: Path, section: str) -> list[list[str]]:
    """The commands of every sh block under a README heading, as a user copies them."""
    text = (project / "README.md").read_text()
    body = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"^```sh\n(.*?)```", body, re.S | re.M)
    return [shlex.split(line) for block in blocks for line in block.splitlines() if line.strip()]


def get(port: int, path: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path, headers={"Host": "127.0.0.1"})
        return connection.getresponse().status
    finally:
        connection.close()


def clean_clone(tmp_path: Path, **options: str) -> Path:
    """A bake committed to git and cloned, as a teammate gets it: no .env, no .venv."""
    baked = bake(tmp_path / "origin", **options)
    author = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "Generated"]):
        subprocess.run(["git", *command], cwd=baked, check=True, env=os.environ | author)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(baked), str(clone)], check=True)
    assert not (clone / ".env").exists()
    return clone


@pytest.mark.boot
@pytest.mark.parametrize(
    ("interface", "postgres_version"),
    # The default major (18) serves in test_first_minutes.py, whose `dev.py demo` also
    # migrates and runs runserver: here the other majors' wheels install, initialise and
    # migrate.
    [("wsgi", "17"), ("asgi", "16")],
    ids=["wsgi-postgres17", "asgi-postgres16"],
)
def test_a_new_clone_serves_after_the_readme_commands(interface, postgres_version):
    """The README's commands as written, with two additions a script needs: the
    superuser's answers from DJANGO_SUPERUSER_* (`--noinput`), and a free port."""
    # Outside pytest's folder, closed to the account the development PostgreSQL runs as.
    options = {"web_interface": interface, "postgres_version": postgres_version}
    clone = clean_clone(shared_directory(), **options)
    port = free_port()
    environ = network_environment() | {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "UV_PYTHON": python313(),
        "UV_NO_PROGRESS": "1",
        "DJANGO_SUPERUSER_USERNAME": "admin",
        "DJANGO_SUPERUSER_EMAIL": "admin@example.com",
        "DJANGO_SUPERUSER_PASSWORD": secrets.token_urlsafe(16),
    }
    # bin/dev, the other way to serve, has its own test (test_first_minutes.py).
    *steps, runserver = [c for c in readme_commands(clone, "Run it locally") if c[0] != "bin/dev"]
    assert steps[0] == ["bin/setup"] and runserver[-1] == "runserver", runserver
    for command in steps:
        command = [tool("uv"), *command[1:]] if command[0] == "uv" else command
        if command[-1] == "createsuperuser":
            command.append("--noinput")  # the prompt's answers come from DJANGO_SUPERUSER_*
        subprocess.run(command, cwd=clone, env=environ, check=True, timeout=300)
    server = subprocess.Popen(
        [tool("uv"), *runserver[1:], f"127.0.0.1:{port}"],
        cwd=clone,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # runserver's autoreloader runs the server in a child
    )
    try:
        statuses = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and server.poll() is None:
            with contextlib.suppress(OSError):
                statuses = (get(port, "/"), get(port, "/admin/login/"))
                break
            time.sleep(0.2)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGINT)  # Ctrl-C
        # The last user stops the development PostgreSQL (a checkpoint): seconds when the
        # machine is busy, so this bounds a hang rather than timing the exit.
        outlived = False
        try:
            output = server.communicate(timeout=60)[0].decode(errors="replace")
        except subprocess.TimeoutExpired:
            # Never left running: it holds its port and the development PostgreSQL.
            outlived = True
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGKILL)
            output = server.communicate(timeout=10)[0].decode(errors="replace")
    assert not outlived, "runserver outlived Ctrl-C by 60 s\n" + output[-3000:]
    assert statuses == (200, 200), output[-3000:]
    # The development PostgreSQL (no DATABASE_URL in bin/setup's .env), of the bake's
    # major version, served them, and stopped with its last user.
    assert (clone / ".postgres" / "PG_VERSION").read_text().strip() == postgres_version
    assert not (clone / ".postgres" / "postmaster.pid").exists(), output[-3000:]
    shutil.rmtree(clone.parent)


SLOW_MIGRATION = 'migrations.RunSQL("SELECT pg_sleep(2)", migrations.RunSQL.noop)'


@pytest.fixture
def slow_database_project(project, tmp_path):
    """A copy of the project with the test views and a migration that takes 2 s, on a
    database of its own, with a statement timeout of 1 s."""
    copy = with_test_views(project, tmp_path / "copy")
    add_migration(copy.path, "slow", SLOW_MIGRATION)
    database = new_database(f"tfd_slow_{project.interface}")
    environ = copy.release_env(database) | {
        "DATABASE_STATEMENT_TIMEOUT": "1000",
        "WEB_CONCURRENCY": "1",
    }
    yield copy, environ
    drop_database(database)


@pytest.mark.boot
def test_a_migration_outlasts_the_statement_timeout_but_a_web_query_does_not(
    slow_database_project,
):
    project, environ = slow_database_project
    started = time.monotonic()
    project.run(*procfile_command(project, "release"), env=environ, timeout=120)
    assert time.monotonic() - started >= 2  # the slow migration ran, uncut
    with serve(project, environ) as server:
        server.wait_until_serving()
        started = time.monotonic()
        response = server.request("/test-slow-query/?seconds=5")
        seconds = time.monotonic() - started
        assert response.status == 500
        assert seconds < 3, f"the query ran {seconds:.1f} s"
        assert server.request("/").status == 200  # the worker kept serving
        time.sleep(0.3)
        assert server.count("canceling statement due to statement timeout") >= 1, server.log
    print(f"\n[{project.interface}] slow web query failed after {seconds:.2f} s")


@pytest.mark.boot
@pytest.mark.parametrize("project", ["asgi"], indirect=True)
def test_readyz_answers_in_time_while_slow_requests_hold_every_pooled_connection(
    slow_database_project,
):
    """Under WSGI a thread holds at most one connection and WEB_THREADS may not exceed
    the pool (the baked tests check that refusal), so only ASGI can exhaust the pool."""
    project, environ = slow_database_project
    environ |= {"DATABASE_POOL_MAX_SIZE": "2", "WEB_THREADS": "2"}
    environ["DATABASE_STATEMENT_TIMEOUT"] = "20000"
    project.run(*procfile_command(project, "release"), env=environ, timeout=120)
    with serve(project, environ) as server:
        server.wait_until_serving()
        slow = [
            threading.Thread(
                target=server.request, args=("/test-slow-query/?seconds=3",), kwargs={"timeout": 30}
            )
            for _ in range(4)
        ]
        for thread in slow:
            thread.start()
        time.sleep(1)  # two queries hold both connections, two wait for one
        started = time.monotonic()
        probe = server.request("/readyz", timeout=5)
        seconds = time.monotonic() - started
        for thread in slow:
            thread.join(timeout=30)
    assert (probe.status, json.loads(probe.body)["database"]) == (200, "ok")
    assert seconds <= 2, f"/readyz took {seconds:.2f} s"
    print(f"\n[{project.interface}] /readyz answered in {seconds:.3f} s with the pool exhausted")


def access_lines(server, path: str) -> list[dict]:
    events = [json.loads(line) for line in server.lines if line.startswith("{")]
    return [event for event in events if event.get("path") == path and "status" in event]


def host(address: str) -> str:
    """uvicorn logs host:port, gunicorn the host alone."""
    return address.rsplit(":", 1)[0] if address.count(":") == 1 else address


@pytest.mark.boot
def test_an_untrusted_proxy_is_named_in_one_warning_and_its_client_address_ignored(
    project, migrated
):
    with serve(project, migrated | UNTRUSTED | {"WEB_CONCURRENCY": "1"}) as server:
        server.wait_until_serving()
        forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}
        statuses = [server.request("/", headers=forwarded).status for _ in range(3)]
        time.sleep(0.3)
        warnings = [
            event
            for event in (json.loads(line) for line in server.lines if line.startswith("{"))
            if event["level"] == "WARNING" and "FORWARDED_ALLOW_IPS" in event["message"]
        ]
        logged = access_lines(server, "/")
    assert statuses == [301, 301, 301]  # the redirect loop a user would see
    assert len(warnings) == 1, warnings
    assert "FORWARDED_ALLOW_IPS=127.0.0.1" in warnings[0]["message"]
    assert {host(event["remote_addr"]) for event in logged} == {"127.0.0.1"}


@pytest.mark.boot
def test_the_access_log_records_the_client_address_a_trusted_proxy_sends(project, migrated):
    collect_static(project)  # the page names its stylesheet by the manifest
    with serve(project, migrated) as server:  # the default trusts loopback, the test's proxy
        server.wait_until_serving()
        forwarded = {"X-Forwarded-For": "198.51.100.9, 203.0.113.7"}
        assert server.request("/", headers=forwarded).status == 200
        time.sleep(0.3)
        (logged,) = access_lines(server, "/")
    assert host(logged["remote_addr"]) == "203.0.113.7"  # the hop the proxy saw


@pytest.mark.project
def test_reserved_slugs_are_current_with_the_shipped_locks(project):
    """Fails when a dependency (or a top-level name of the project) is added without
    `python3 dev.py lock`, which rewrites hooks/reserved_names.json."""
    stored = json.loads((TEMPLATE / "hooks" / "reserved_names.json").read_text())
    derived = reserved_names.derive(project.path, SLUG)
    missing = set().union(*derived.values()) - set().union(*stored.values())
    assert not missing, f"run `python3 dev.py lock`: {sorted(missing)} may be slugs"


@pytest.mark.bake
def test_env_files_other_than_the_example_are_never_committed(tmp_path):
    project = bake(tmp_path)
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    for name in (".env", ".env.production", ".env.local", ".env.example"):
        (project / name).touch()
    ignored = subprocess.run(
        ["git", "check-ignore", ".env", ".env.production", ".env.local", ".env.example"],
        cwd=project,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert ignored == [".env", ".env.production", ".env.local"]
