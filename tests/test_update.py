"""A baked project takes the template's later improvements with cruft (docs/updating.md).

Each test makes a throwaway git repository of the template (revision A), bakes from it,
moves the template on (revision B) and updates the project with the real `cruft`. Only
the user's `uv add` reaches a package index, as it would for the user.
"""

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from cookiecutter.main import cookiecutter

from bakery import TEMPLATE, drop_database, install, new_database, tool, uv_environment
from server import procfile_command

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Template Tests",
    "GIT_AUTHOR_EMAIL": "tests@example.com",
    "GIT_COMMITTER_NAME": "Template Tests",
    "GIT_COMMITTER_EMAIL": "tests@example.com",
}
USER_SETTING = 'LANGUAGE_CODE = "en-us"'
ANSWERS = {"project_name": "Demo Shop"}


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=uv_environment() | GIT_IDENTITY,
        check=True,
    )
    return result.stdout.strip()


def commit_all(repository: Path, message: str) -> str:
    git(repository, "add", "--all")
    git(repository, "commit", "--quiet", "--message", message)
    return git(repository, "rev-parse", "HEAD")


def cruft(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [tool("cruft"), *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        env=uv_environment() | GIT_IDENTITY,
    )


def template_repository(destination: Path) -> Path:
    """The template as it stands in this working tree, committed as revision A."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=TEMPLATE,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for name in filter(None, listed.split("\0")):
        source = TEMPLATE / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    git(destination, "init", "--quiet", "--initial-branch=main")
    commit_all(destination, "revision A")
    return destination


def baked_file(template: Path, name: str) -> Path:
    return template / "{{cookiecutter.project_slug}}" / name


def bake_into_git(template: Path, output_dir: Path, *, with_cruft: bool = False) -> Path:
    """A project baked from the throwaway template and committed, as a user starts."""
    if with_cruft:
        result = subprocess.run(
            [
                tool("cruft"),
                "create",
                "--no-input",
                "--extra-context",
                json.dumps(ANSWERS),
                "--output-dir",
                str(output_dir),
                str(template),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        project = output_dir / "demo_shop"
    else:
        project = Path(
            cookiecutter(
                str(template),
                no_input=True,
                output_dir=str(output_dir),
                extra_context=ANSWERS,
            )
        )
    git(project, "init", "--quiet", "--initial-branch=main")
    commit_all(project, "Baked from the template")
    return project


def user_changes(project: Path) -> None:
    """What a team does in its first weeks: an app, a setting, a dependency."""
    app = project / "inventory"
    app.mkdir()
    (app / "__init__.py").write_text("")
    (app / "apps.py").write_text(
        "from django.apps import AppConfig\n\n\n"
        "class InventoryConfig(AppConfig):\n"
        '    name = "inventory"\n'
    )
    settings = project / "config" / "settings.py"
    text = settings.read_text()
    assert '    "django.contrib.staticfiles",\n' in text
    settings.write_text(
        text.replace(
            '    "django.contrib.staticfiles",\n',
            '    "django.contrib.staticfiles",\n    "inventory",\n',
        )
    )
    subprocess.run(
        [tool("uv"), "add", "--quiet", "humanize>=4"],
        cwd=project,
        env=uv_environment(),
        check=True,
        capture_output=True,
        timeout=300,
    )
    commit_all(project, "An inventory app and a dependency")


def template_moves_on(template: Path) -> str:
    """Revision B: a file the user never touched, a new file, and a change to a file the
    user edited, in another place."""
    gunicorn_conf = baked_file(template, "gunicorn.conf.py")
    gunicorn_conf.write_text(gunicorn_conf.read_text().replace("keepalive = 75", "keepalive = 76"))
    baked_file(template, "docs").mkdir()
    baked_file(template, "docs/runbook.md").write_text("# Runbook\n\nWhat to do at 3 am.\n")
    settings = baked_file(template, "config/settings.py")
    text = settings.read_text()
    assert USER_SETTING in text
    settings.write_text(text.replace(USER_SETTING, 'LANGUAGE_CODE = "en-gb"'))
    return commit_all(template, "revision B")


@pytest.fixture
def template(tmp_path) -> Path:
    return template_repository(tmp_path / "template")


@pytest.mark.project
def test_a_plain_cookiecutter_bake_records_what_cruft_needs_and_no_local_path(template, tmp_path):
    output_dir = tmp_path / "out"
    project = bake_into_git(template, output_dir)
    recorded = (project / ".cruft.json").read_text()
    state = json.loads(recorded)
    assert state["template"] == str(template)
    assert state["commit"] == git(template, "rev-parse", "HEAD")
    assert state["context"]["cookiecutter"]["project_slug"] == "demo_shop"
    assert not [name for name in state["context"]["cookiecutter"] if name.startswith("_")]
    assert str(output_dir) not in recorded
    secret_key = next(
        line.partition("=")[2]
        for line in (project / ".env").read_text().splitlines()
        if line.startswith("DJANGO_SECRET_KEY=")
    )
    assert secret_key not in recorded
    assert ".cruft.json" in git(project, "ls-files")
    checked = cruft(project, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.project
def test_update_brings_template_changes_and_keeps_the_users_work(template, tmp_path):
    project = bake_into_git(template, tmp_path / "out")
    env_before = (project / ".env").read_text()
    user_changes(project)
    revision_b = template_moves_on(template)
    fresh_b = Path(
        cookiecutter(
            str(template), no_input=True, output_dir=str(tmp_path / "b"), extra_context=ANSWERS
        )
    )

    checked = cruft(project, "check")
    assert checked.returncode != 0
    assert "out of date" in checked.stdout
    updated = cruft(project, "update", "--skip-apply-ask")
    assert updated.returncode == 0, updated.stdout + updated.stderr
    assert "conflict" not in (updated.stdout + updated.stderr).lower()

    assert (project / "gunicorn.conf.py").read_text() == (fresh_b / "gunicorn.conf.py").read_text()
    assert (project / "docs" / "runbook.md").exists()
    settings = (project / "config" / "settings.py").read_text()
    assert 'LANGUAGE_CODE = "en-gb"' in settings
    assert '    "inventory",\n' in settings
    assert (project / "inventory" / "apps.py").exists()
    assert "humanize>=4" in (project / "pyproject.toml").read_text()
    assert 'name = "humanize"' in (project / "uv.lock").read_text()
    assert (project / ".env").read_text() == env_before
    assert json.loads((project / ".cruft.json").read_text())["commit"] == revision_b
    assert not list(project.rglob("*.rej"))

    # The updated project installs from its lock, is lint-clean, releases (the deploy
    # checks, then its migrations) with the merged settings and the user's app, has no
    # model change left unmigrated, and gunicorn takes the merged config. Its own tests
    # and mypy see nothing an update changes but these files: they run on the same code
    # in tests/test_project.py, through bin/check.
    installed = install(project, "wsgi")
    installed.run("ruff", "check", ".")
    installed.run("ruff", "format", "--check", ".")
    database = new_database("tfd_update")
    try:
        environ = installed.release_env(database)
        installed.run(*procfile_command(installed, "release"), env=environ)
        installed.run("python", "manage.py", "makemigrations", "--check", "--dry-run", env=environ)
        installed.run("gunicorn", "--check-config", env=environ)
    finally:
        drop_database(database)
    print(f"\nupdated A -> B with the user's app, setting and dependency kept; {updated.stdout}")


@pytest.mark.project
def test_a_conflicting_template_change_is_marked_and_nothing_else_is_lost(template, tmp_path):
    project = bake_into_git(template, tmp_path / "out")
    settings = project / "config" / "settings.py"
    settings.write_text(settings.read_text().replace(USER_SETTING, 'LANGUAGE_CODE = "de-de"'))
    commit_all(project, "German first")
    template_moves_on(template)

    updated = cruft(project, "update", "--skip-apply-ask")
    output = updated.stdout + updated.stderr
    assert "with conflicts" in output, output
    text = settings.read_text()
    assert "<<<<<<<" in text and ">>>>>>>" in text
    assert 'LANGUAGE_CODE = "de-de"' in text and 'LANGUAGE_CODE = "en-gb"' in text
    # Everything that did not conflict arrived; the user's choice is still there to keep.
    assert "keepalive = 76" in (project / "gunicorn.conf.py").read_text()
    assert (project / "docs" / "runbook.md").exists()
    assert "config/settings.py" in git(project, "diff", "--name-only", "--diff-filter=U")


@pytest.mark.parametrize("with_cruft", [False, True], ids=["cookiecutter", "cruft-create"])
@pytest.mark.project
def test_updating_an_unchanged_project_to_its_own_revision_changes_nothing(
    template, tmp_path, with_cruft
):
    project = bake_into_git(template, tmp_path / "out", with_cruft=with_cruft)
    updated = cruft(project, "update", "--skip-apply-ask")
    assert updated.returncode == 0, updated.stderr
    assert "Nothing to do" in updated.stdout
    assert git(project, "status", "--porcelain") == ""


def post_gen_hook() -> dict:
    """The post-gen hook's functions, its answers placeholder filled with none."""
    source = (TEMPLATE / "hooks" / "post_gen_project.py").read_text()
    namespace: dict = {"__name__": "post_gen_project"}
    exec(source.replace("{{cookiecutter | jsonify | tojson}}", "'{}'"), namespace)
    return namespace


@pytest.mark.bake
@pytest.mark.parametrize(
    ("given", "recorded"),
    [
        (
            "https://x-access-token:ghp_s3cret@github.com/acme/tpl.git",
            "https://github.com/acme/tpl.git",
        ),
        (
            "https://deploy@gitlab.example.com:8443/acme/tpl",
            "https://gitlab.example.com:8443/acme/tpl",
        ),
        ("gh:acme/tpl", "https://github.com/acme/tpl.git"),
        ("ssh://git@github.com/acme/tpl.git", "ssh://git@github.com/acme/tpl.git"),
        ("git@github.com:acme/tpl.git", "git@github.com:acme/tpl.git"),
    ],
)
def test_the_recorded_template_location_never_keeps_credentials(given, recorded):
    hook = post_gen_hook()
    assert hook["template_location"]({"_template": given}) == recorded
