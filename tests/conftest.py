"""Fixtures shared by the template's tests: bakes and installed projects, made once."""

import os
import subprocess
import time
from pathlib import Path

import pytest

from bakery import (
    INTERFACES,
    MATRIX,
    Project,
    bake,
    drop_database,
    install,
    matrix_id,
    new_database,
    python313,
    socket_database_url,
)
from faults import HeldLock, query
from server import procfile_command

# The release command's advisory lock (config/management/commands/release.py).
RELEASE_LOCK = int.from_bytes(b"release")
WAITING_FOR_THE_LOCK = (
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


def pytest_report_header() -> list[str]:
    return [f"baked projects use: {python313()}"]


@pytest.fixture(scope="session", params=MATRIX, ids=matrix_id)
def baked(request, tmp_path_factory) -> tuple[dict, Path]:
    """One bake per option combination, shared by every bake test."""
    options = request.param
    return options, bake(tmp_path_factory.mktemp(matrix_id(options)), **options)


@pytest.fixture(scope="session", params=INTERFACES)
def project(request, tmp_path_factory) -> Project:
    """A default bake for one web interface, installed from its lock, without .env:
    the environment is all a production process gets."""
    started = time.monotonic()
    path = bake(tmp_path_factory.mktemp(f"project-{request.param}"), web_interface=request.param)
    installed = install(path, request.param)
    (path / ".env").unlink()
    print(f"\n[{request.param}] baked and installed in {time.monotonic() - started:.1f} s")
    return installed


@pytest.fixture(scope="session")
def database(project):
    """A fresh Postgres database for one project, dropped afterwards."""
    name = new_database(f"tfd_{project.interface}")
    yield name
    drop_database(name)


@pytest.fixture(scope="session")
def releases(project, database) -> tuple[dict[str, str], list[subprocess.CompletedProcess]]:
    """The release phase, as two platforms' hooks (or a retried Job) may run it: two
    Procfile `release` processes on the fresh database, one of them through the server's
    Unix socket in Cloud SQL's URL form. They are held at the release lock until both
    wait there, so they overlap however loaded the machine is."""
    release_env = project.release_env(database)
    environments = [release_env, release_env | {"DATABASE_URL": socket_database_url(database)}]
    command = procfile_command(project, "release")
    path = {"PATH": f"{project.bin}{os.pathsep}{os.environ['PATH']}"}
    with HeldLock(database, f"SELECT pg_advisory_lock({RELEASE_LOCK})"):
        started = [
            subprocess.Popen(
                command,
                cwd=project.path,
                env=os.environ | environ | path,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for environ in environments
        ]
        deadline = time.monotonic() + 180
        while int(query(database, WAITING_FOR_THE_LOCK)[0]) < len(started):
            assert time.monotonic() < deadline, "the releases never waited for the lock"
            assert all(process.poll() is None for process in started), "a release ended"
            time.sleep(0.2)
    finished = []
    for process in started:
        stdout, stderr = process.communicate(timeout=180)
        finished.append(subprocess.CompletedProcess(command, process.returncode, stdout, stderr))
    return project.production_env(database), finished


@pytest.fixture(scope="session")
def migrated(releases) -> dict[str, str]:
    """A production environment whose database has been migrated (the release phase)."""
    environ, finished = releases
    for result in finished:
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return environ


STAGES = ("bake", "project", "boot", "bench", "container")
_stage_seconds: dict[str, float] = {}
_started = time.monotonic()


def pytest_runtest_logreport(report):
    """Time each test, setup (bakes, installs) included, under its stage's marker. Runs
    where results are reported: in the main process under pytest-xdist too."""
    stage = next((m for m in STAGES if m in report.keywords), "other")
    _stage_seconds[stage] = _stage_seconds.get(stage, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter):
    terminalreporter.section("time per stage (summed over workers)")
    for stage, seconds in sorted(_stage_seconds.items(), key=lambda item: -item[1]):
        terminalreporter.write_line(f"{stage:<10} {seconds:7.1f} s")
    terminalreporter.write_line(f"{'wall':<10} {time.monotonic() - _started:7.1f} s")
