"""The release step as a production team meets it on day two: a deploy check that fails,
a migration that waits for a table a long read holds, two releases at once."""

import os
import shutil
import subprocess
import time
import uuid

import pytest

from bakery import Project, add_migration, drop_database, new_database, psql
from faults import NOTES_TABLE, Readers, TableLock, query
from server import procfile_command

pytestmark = pytest.mark.boot

# Short, so the test takes seconds; the default (README: The release) is a few seconds.
LOCK_TIMEOUT_MS = 1000

ALTER_NOTES = f"""migrations.RunSQL(
    "ALTER TABLE {NOTES_TABLE} ADD COLUMN release_test integer",
    "ALTER TABLE {NOTES_TABLE} DROP COLUMN release_test",
)"""


def test_two_releases_at_once_both_succeed_and_apply_each_migration_once(releases, database):
    """One of them came through the Unix socket in Cloud SQL's URL form (conftest)."""
    _, finished = releases
    for result in finished:
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    outputs = [result.stdout + result.stderr for result in finished]
    # Both waited while the lock was held; then one migrated and the other found nothing.
    assert all("another release is migrating" in output for output in outputs), outputs
    assert sum("No migrations to apply" in output for output in outputs) == 1, outputs
    duplicates = query(
        database, "SELECT app, name FROM django_migrations GROUP BY 1, 2 HAVING count(*) > 1"
    )
    assert duplicates == []
    assert int(query(database, "SELECT count(*) FROM django_migrations")[0]) > 10


@pytest.mark.parametrize("project", ["wsgi"], indirect=True)  # the checks are the same for both
def test_a_failing_deploy_check_stops_the_release_before_anything_is_migrated(project):
    """Without EMAIL_URL and with DEBUG off, password-reset links would go to the log."""
    database = new_database(f"tfd_check_{project.interface}")
    try:
        environ = project.release_env(database)
        del environ["EMAIL_URL"]
        result = project.run(*procfile_command(project, "release"), env=environ, check=False)
        assert result.returncode != 0
        assert "twelve_factor.E004" in result.stderr and "EMAIL_URL" in result.stderr
        assert query(database, "SELECT to_regclass('django_migrations') IS NULL") == ["t"]
    finally:
        drop_database(database)


@pytest.fixture
def altering_project(project, migrated, database, tmp_path):
    """A copy of the project (venv shared) whose next migration alters the notes table,
    on a copy of the migrated database."""
    copy = Project(path=tmp_path / "copy", interface=project.interface)
    shutil.copytree(project.path, copy.path, ignore=shutil.ignore_patterns(".venv"))
    (copy.path / ".venv").symlink_to(project.path / ".venv")
    add_migration(copy.path, "alter_notes", ALTER_NOTES)
    altered = f"tfd_lock_{project.interface}_{uuid.uuid4().hex[:8]}"
    psql(f'CREATE DATABASE "{altered}" TEMPLATE "{database}"')
    environ = project.release_env(altered) | {"DATABASE_LOCK_TIMEOUT": str(LOCK_TIMEOUT_MS)}
    yield copy, altered, environ
    drop_database(altered)


def start_release(project, environ: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        procfile_command(project, "release"),
        cwd=project.path,
        env=os.environ | environ | {"PATH": f"{project.bin}{os.pathsep}{os.environ['PATH']}"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def has_column(database: str) -> bool:
    sql = (
        "SELECT count(*) FROM information_schema.columns "
        f"WHERE table_name = '{NOTES_TABLE}' AND column_name = 'release_test'"
    )
    return query(database, sql) == ["1"]


@pytest.mark.parametrize("project", ["wsgi"], indirect=True)  # the same for both
def test_a_migration_blocked_by_a_long_read_never_stalls_the_tables_readers(altering_project):
    project, database, environ = altering_project
    # The long read never ends on its own: every attempt times out, then the release
    # gives up with a clear message, and the table is as it was.
    with (
        TableLock(database, NOTES_TABLE, mode="ACCESS SHARE"),
        Readers(database, NOTES_TABLE) as readers,
    ):
        started = time.monotonic()
        release = start_release(project, environ | {"DATABASE_MIGRATION_ATTEMPTS": "2"})
        output = release.communicate(timeout=120)[0]
        seconds = time.monotonic() - started
    assert release.returncode != 0, output
    assert "Gave up after 2 attempts" in output and "DATABASE_LOCK_TIMEOUT" in output, output
    assert output.count("migration attempt 1 of 2 waited") == 1, output
    assert not has_column(database)
    assert len(readers.waits) > 10, readers.waits
    # A reader queued behind the waiting ALTER TABLE waits at most the lock timeout (and
    # the time psql takes to answer); without one it would wait as long as the long read.
    assert readers.longest < LOCK_TIMEOUT_MS / 1000 + 1, readers.waits
    print(
        f"\n[{project.interface}] release gave up after {seconds:.1f} s; "
        f"{len(readers.waits)} reads, the longest waited {readers.longest:.2f} s"
    )

    # The long read ends while the release waits between attempts: the next one migrates.
    with TableLock(database, NOTES_TABLE, mode="ACCESS SHARE"):
        release = start_release(project, environ | {"DATABASE_MIGRATION_ATTEMPTS": "5"})
        lines = []
        for line in release.stdout:
            lines.append(line)
            if "retrying in" in line:
                break
    output = "".join(lines) + release.communicate(timeout=120)[0]
    assert release.returncode == 0, output
    assert has_column(database)
    retries = output.count("waited 1000 ms for a table lock")
    assert retries >= 1, output
    print(f"[{project.interface}] release retried {retries} time(s), then migrated")
