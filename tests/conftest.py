"""Fixtures shared by the template's tests: bakes and installed projects, made once."""

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
def migrated(project, database) -> dict[str, str]:
    """A production environment whose database has been migrated (the release phase)."""
    environ = project.production_env(database)
    project.run("python", "manage.py", "migrate", "--noinput", env=environ)
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
