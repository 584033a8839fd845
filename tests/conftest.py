"""Fixtures shared by the template's tests: bakes and installed projects, made once."""

import os
import signal
import subprocess
import time
from collections.abc import Iterator
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


# Tests press Ctrl-C (SIGINT) on what they start. A suite started in the background by a
# shell (`.ci/run &`, nohup) inherits SIGINT ignored, and so would every child: a runserver
# would then outlive its Ctrl-C. A handled signal is reset to the default in children.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_report_header() -> list[str]:
    return [f"baked projects use: {python313()}"]


@pytest.fixture(scope="session")
def kept() -> Iterator[dict]:
    """What the parametrized session fixtures below made, for the whole session of this
    process. pytest holds one value of such a fixture at a time and makes it again when
    a test asks for another parameter; a pytest-xdist worker runs a whole file at a time,
    its tests of both interfaces, so every file would bake, install and migrate each
    project again. The databases made are dropped at the end."""
    made: dict = {}
    yield made
    for (kind, _), value in made.items():
        if kind == "database":
            drop_database(value)


@pytest.fixture(scope="session", params=MATRIX, ids=matrix_id)
def baked(request, tmp_path_factory, kept) -> tuple[dict, Path]:
    """One bake per option combination, shared by every bake test."""
    options = request.param
    key = ("baked", matrix_id(options))
    if key not in kept:
        kept[key] = options, bake(tmp_path_factory.mktemp(matrix_id(options)), **options)
    return kept[key]


@pytest.fixture(scope="session", params=INTERFACES)
def project(request, tmp_path_factory, kept) -> Project:
    """A default bake for one web interface, installed from its lock, without .env:
    the environment is all a production process gets."""
    key = ("project", request.param)
    if key not in kept:
        started = time.monotonic()
        path = bake(
            tmp_path_factory.mktemp(f"project-{request.param}"), web_interface=request.param
        )
        kept[key] = install(path, request.param)
        (path / ".env").unlink()
        print(f"\n[{request.param}] baked and installed in {time.monotonic() - started:.1f} s")
    return kept[key]


@pytest.fixture(scope="session")
def database(project, kept) -> str:
    """A fresh Postgres database for one project, dropped at the end of the session."""
    key = ("database", project.interface)
    if key not in kept:
        kept[key] = new_database(f"tfd_{project.interface}")
    return kept[key]


@pytest.fixture(scope="session")
def releases(project, database, kept) -> tuple[dict[str, str], list[subprocess.CompletedProcess]]:
    """The release phase, as two platforms' hooks (or a retried Job) may run it: two
    Procfile `release` processes on the fresh database, one of them through the server's
    Unix socket in Cloud SQL's URL form. They are held at the release lock until both
    wait there, so they overlap however loaded the machine is."""
    key = ("releases", project.interface)
    if key not in kept:
        kept[key] = project.production_env(database), release_twice(project, database)
    return kept[key]


def release_twice(project: Project, database: str) -> list[subprocess.CompletedProcess]:
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
            if any(process.poll() is not None for process in started):
                break  # failed before the lock: the tests show its output
            time.sleep(0.2)
    finished = []
    for process in started:
        stdout, stderr = process.communicate(timeout=180)
        finished.append(subprocess.CompletedProcess(command, process.returncode, stdout, stderr))
    return finished


@pytest.fixture(scope="session")
def migrated(releases) -> dict[str, str]:
    """A production environment whose database has been migrated (the release phase)."""
    environ, finished = releases
    for result in finished:
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return environ


# The files that take longest (setup included), longest first, as "time per file" below
# shows them. Each worker takes a whole file at a time (--dist loadfile), so a long file
# started last sets the wall time: these start first, the rest follow in collection
# order. Re-measure when a file's time moves by a minute.
LONGEST_FIRST = (
    "test_project.py",
    "test_bench_smoke.py",
    "test_container.py",
    "test_stateless.py",
    "test_error_reporting.py",
    "test_real_infrastructure.py",
    "test_worker.py",
    "test_media.py",
    "test_faults.py",
    "test_observatory.py",
    "test_telemetry.py",
    "test_accounts.py",
    "test_first_minutes.py",
    "test_update.py",
    "test_supply_chain.py",
)
STAGES = ("bake", "project", "boot", "bench", "container")
_stage_seconds: dict[str, float] = {}
_file_seconds: dict[str, float] = {}
_started = time.monotonic()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    """LONGEST_FIRST's files first. Last of the hooks: after pytest groups the tests by
    fixture parameter, which this stable sort keeps within each file. (dev.py tells
    pytest-xdist not to sort the files again, by their number of tests.)"""
    rank = {name: index for index, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


def pytest_runtest_logreport(report):
    """Time each test, setup (bakes, installs) included, under its stage's marker and
    its file. Runs where results are reported: in the main process under pytest-xdist."""
    stage = next((m for m in STAGES if m in report.keywords), "other")
    _stage_seconds[stage] = _stage_seconds.get(stage, 0.0) + report.duration
    name = report.nodeid.split("::", 1)[0].rsplit("/", 1)[-1]
    _file_seconds[name] = _file_seconds.get(name, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter):
    terminalreporter.section("time per file, the longest (see LONGEST_FIRST)")
    longest = sorted(_file_seconds.items(), key=lambda item: -item[1])[:12]
    for name, seconds in longest:
        terminalreporter.write_line(f"{name:<32} {seconds:7.1f} s")
    terminalreporter.section("time per stage (summed over workers)")
    for stage, seconds in sorted(_stage_seconds.items(), key=lambda item: -item[1]):
        terminalreporter.write_line(f"{stage:<10} {seconds:7.1f} s")
    terminalreporter.write_line(f"{'wall':<10} {time.monotonic() - _started:7.1f} s")
