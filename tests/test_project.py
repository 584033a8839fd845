"""Each baked project installs from its lock and passes its own checks against Postgres."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from bakery import (
    database_url,
    python313,
    python_for_all,
    shared_directory,
    tool,
    unprivileged_account,
    uv_environment,
)

pytestmark = pytest.mark.project


def test_shipped_lock_matches_the_baked_pyproject(project):
    result = project.run(tool("uv"), "lock", "--check", env=uv_environment(), check=False)
    assert result.returncode == 0, f"stale uv.lock: run `python3 dev.py lock`\n{result.stderr}"


def test_the_projects_own_check_script_passes_against_postgres(project, database):
    """bin/check: ruff, mypy, the project's tests with coverage, migrations, static files,
    deploy checklist. As CI runs it (DATABASE_URL) on one interface, with --audit: the
    dependency audit, skipped with a message where PyPI's vulnerability data cannot be
    reached (here: through a proxy on a closed port); as a newcomer does on the other: an
    account without privileges runs bin/setup (DEBUG on, no DATABASE_URL) then
    bin/check, so the development PostgreSQL is created, used and stopped, and commits
    with the README's git hooks."""
    if project.interface == "asgi":
        unreachable = {"HTTPS_PROXY": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9"}
        environ = uv_environment() | {"DATABASE_URL": database_url(database)} | unreachable
        result = project.run("bin/check", "--audit", env=environ, timeout=600)
        assert "--- SKIPPED the dependency audit: PyPI's vulnerability data" in result.stdout
    else:
        result = check_as_a_newcomer(project)
    summary = re.search(r"(\d+) passed", result.stdout)
    assert summary and int(summary.group(1)) >= 20, result.stdout[-3000:]
    assert " failed" not in result.stdout
    assert "Success: no issues found" in result.stdout  # mypy
    assert re.search(r"^TOTAL .* (\d+)%$", result.stdout, re.M), result.stdout[-3000:]
    assert "--- all checks passed" in result.stdout
    coverage = re.search(r"^TOTAL .* (\d+)%$", result.stdout, re.M).group(1)
    print(f"\n[{project.interface}] bin/check: {summary.group(0)}, coverage {coverage}%")


def check_as_a_newcomer(project) -> subprocess.CompletedProcess:
    account = unprivileged_account()
    shared = shared_directory()
    copy, home = shared / "project", shared / "home"
    shutil.copytree(project.path, copy, ignore=shutil.ignore_patterns(".venv", ".postgres"))
    home.mkdir()
    newcomer = {
        "PATH": f"{copy / '.venv' / 'bin'}:{Path(tool('uv')).parent}:/usr/bin:/bin",
        "HOME": str(home),
        "UV_CACHE_DIR": str(home / "uv-cache"),
        "UV_PYTHON": python313(),
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_NO_PROGRESS": "1",
    }
    as_newcomer = {"cwd": copy, "env": newcomer, "user": account.pw_uid}
    as_newcomer |= {"group": account.pw_gid, "extra_groups": [], "timeout": 600}
    try:
        # Installed by root from its uv cache (the newcomer's would download it all).
        install = [tool("uv"), "sync", "--locked", "--quiet"]
        subprocess.run(install, cwd=copy, env=uv_environment(), check=True)
        for path in (copy, home):
            subprocess.run(["chown", "-R", f"{account.pw_uid}:{account.pw_gid}", path], check=True)
        with python_for_all():
            subprocess.run(["bin/setup"], check=True, capture_output=True, **as_newcomer)
            result = subprocess.run(["bin/check"], capture_output=True, text=True, **as_newcomer)
            assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-3000:]
            # The README's git hooks, on a first commit: local hooks, the locked tools.
            commit = ["git", "-c", "user.name=N", "-c", "user.email=n@example.com", "commit"]
            for command in (
                ["git", "init", "-q"],
                ["uv", "run", "--frozen", "prek", "install"],
                ["git", "add", "-A"],
                [*commit, "-qm", "Generated"],
            ):
                hooks = subprocess.run(command, capture_output=True, text=True, **as_newcomer)
                assert hooks.returncode == 0, hooks.stdout[-3000:] + hooks.stderr[-3000:]
        assert (hooks.stdout + hooks.stderr).count("Passed") == 4, hooks.stdout + hooks.stderr
        assert (copy / ".postgres").stat().st_uid == account.pw_uid
        assert (copy / ".postgres" / "PG_VERSION").exists()
        assert not (copy / ".postgres" / "postmaster.pid").exists(), "left running"
        return result
    finally:
        shutil.rmtree(shared, ignore_errors=True)


def test_collectstatic_needs_no_secret_and_no_database(project, tmp_path):
    """The image build's step: nothing but DJANGO_BUILD=1 in the environment."""
    result = project.run(
        "python",
        "manage.py",
        "collectstatic",
        "--noinput",
        env={"DJANGO_BUILD": "1", "DJANGO_SECRET_KEY": "", "DATABASE_URL": ""},
    )
    assert re.search(r"\d+ static files copied", result.stdout), result.stdout
    manifest = project.path / "staticfiles" / "staticfiles.json"
    hashed = json.loads(manifest.read_text())["paths"]["admin/css/base.css"]
    assert (project.path / "staticfiles" / f"{hashed}.br").exists()
    # Pages link hashed names only: no copy under the original name ships in the image.
    assert not (project.path / "staticfiles" / "admin" / "css" / "base.css").exists()


def test_the_serving_process_refuses_a_build_environment(project):
    result = project.run("gunicorn", "--check-config", env={"DJANGO_BUILD": "1"}, check=False)
    assert result.returncode != 0
    assert "DJANGO_BUILD=1 is for the image build" in result.stderr
