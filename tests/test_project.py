"""Each baked project installs from its lock and passes its own checks against Postgres."""

import re

import pytest

from bakery import database_url, tool, uv_environment

pytestmark = pytest.mark.project


def test_shipped_lock_matches_the_baked_pyproject(project):
    result = project.run(tool("uv"), "lock", "--check", env=uv_environment(), check=False)
    assert result.returncode == 0, f"stale uv.lock: run `python3 dev.py lock`\n{result.stderr}"


def test_the_projects_own_check_script_passes_against_postgres(project, database):
    """bin/check: ruff, the project's tests, migrations, static files, deploy checklist;
    with --audit, the dependency audit too, skipped with a message where PyPI's
    vulnerability data cannot be reached (here: through a proxy on a closed port)."""
    unreachable = {"HTTPS_PROXY": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9"}
    environ = uv_environment() | {"DATABASE_URL": database_url(database)} | unreachable
    result = project.run("bin/check", "--audit", env=environ, timeout=600)
    assert "--- SKIPPED the dependency audit: PyPI's vulnerability data" in result.stdout
    summary = re.search(r"(\d+) passed", result.stdout)
    assert summary and int(summary.group(1)) >= 20, result.stdout[-3000:]
    assert " failed" not in result.stdout
    assert "--- all checks passed" in result.stdout
    print(f"\n[{project.interface}] bin/check: {summary.group(0)}")


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
    assert manifest.exists()
    assert (project.path / "staticfiles" / "admin" / "css" / "base.css.br").exists()


def test_the_serving_process_refuses_a_build_environment(project):
    result = project.run("gunicorn", "--check-config", env={"DJANGO_BUILD": "1"}, check=False)
    assert result.returncode != 0
    assert "DJANGO_BUILD=1 is for the image build" in result.stderr
