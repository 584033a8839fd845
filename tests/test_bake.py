"""Every option combination bakes into a clean, valid project."""

import json
import re
import shlex
import subprocess
import tomllib

import pytest
import yaml

from bakery import bake, tool

pytestmark = pytest.mark.bake

# Unrendered cookiecutter syntax. Django templates have {% tags %} of their own, so in
# HTML only a reference to the cookiecutter context counts; GitHub's ${{ expressions }}
# belong in a workflow.
COOKIECUTTER_REFERENCE = re.compile(r"cookiecutter\.(?!json\b)\w+")
JINJA_LEFTOVER = re.compile(rf"(?<!\$){{{{|{{%|%}}|{COOKIECUTTER_REFERENCE.pattern}")


def text_files(root):
    for path in sorted(root.rglob("*")):
        if path.is_file() and ".venv" not in path.parts:
            try:
                yield path, path.read_text()
            except UnicodeDecodeError:
                continue


def test_no_template_syntax_is_left_in_any_file_or_name(baked):
    _, project = baked
    for path in project.rglob("*"):
        assert not JINJA_LEFTOVER.search(path.name), path
    for path, text in text_files(project):
        if path.name == ".cruft.json":
            continue  # JSON of the answers: braces of its own, checked elsewhere
        pattern = COOKIECUTTER_REFERENCE if path.suffix == ".html" else JINJA_LEFTOVER
        found = pattern.search(text)
        assert not found, (
            f"{path.relative_to(project)}: {text[found.start() - 40 : found.end() + 40]!r}"
        )


def test_only_the_chosen_interface_is_shipped(baked):
    options, project = baked
    has_wsgi = (project / "config" / "wsgi.py").exists()
    has_asgi = (project / "config" / "asgi.py").exists()
    assert (has_wsgi, has_asgi) == (
        options["web_interface"] == "wsgi",
        options["web_interface"] == "asgi",
    )
    gunicorn_conf = (project / "gunicorn.conf.py").read_text()
    assert f'"config.{options["web_interface"]}:application"' in gunicorn_conf
    lock = (project / "uv.lock").read_text()
    assert ('name = "uvicorn-worker"' in lock) == (options["web_interface"] == "asgi")


def test_github_workflow_is_present_only_when_chosen(baked):
    options, project = baked
    workflow = project / ".github" / "workflows" / "ci.yml"
    assert workflow.exists() == (options["github_actions"] == "yes")
    if workflow.exists():
        assert f"postgres:{options['postgres_version']}" in workflow.read_text()


def test_compose_runs_one_image_migrating_once_after_a_healthy_postgres(baked):
    options, project = baked
    compose = tool("docker-compose")
    result = subprocess.run([compose, "config", "-q"], cwd=project, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    rendered = subprocess.run(
        [compose, "config"], cwd=project, capture_output=True, text=True, check=True
    )
    services = yaml.safe_load(rendered.stdout)["services"]
    assert services["db"]["image"] == f"postgres:{options['postgres_version']}"
    assert services["db"]["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    assert services["web"]["image"] == services["migrate"]["image"] == "demo_shop:local"
    assert services["migrate"]["command"] == ["python", "manage.py", "release"]
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert services["web"]["depends_on"]["db"] == {"condition": "service_healthy"}
    assert services["web"]["depends_on"]["migrate"] == {
        "condition": "service_completed_successfully"
    }
    assert services["web"]["read_only"] is True
    assert services["web"]["stop_grace_period"] == "30s"
    # The app reads its database URL from a file, as on Kubernetes, and the file agrees
    # with the password the database reads from its own file.
    assert services["web"]["environment"]["DATABASE_URL_FILE"] == "/run/secrets/database_url"
    assert "DATABASE_URL" not in services["web"]["environment"]
    db = services["db"]["environment"]
    password = (project / "deploy" / "compose" / "database-password").read_text().strip()
    url = (project / "deploy" / "compose" / "database-url").read_text().strip()
    assert url == f"postgres://{db['POSTGRES_USER']}:{password}@db:5432/{db['POSTGRES_DB']}"


def test_dockerfile_is_hadolint_clean(baked):
    _, project = baked
    result = subprocess.run(
        [tool("hadolint"), "--failure-threshold", "info", "Dockerfile"],
        cwd=project,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_procfile_declares_web_and_release(baked):
    _, project = baked
    result = subprocess.run([tool("honcho"), "check"], cwd=project, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    processes = dict(line.split(":", 1) for line in (project / "Procfile").read_text().splitlines())
    assert shlex.split(processes["web"]) == ["gunicorn"]
    assert shlex.split(processes["release"]) == ["python", "manage.py", "release"]


def test_pyproject_is_valid_toml_for_python_313(baked):
    _, project = baked
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["name"] == "demo_shop"
    assert pyproject["project"]["requires-python"] == ">=3.13,<3.14"


def test_env_file_has_a_fresh_secret_that_is_never_committed(tmp_path):
    first, second = bake(tmp_path / "one"), bake(tmp_path / "two")
    keys = []
    for project in (first, second):
        env = dict(
            line.split("=", 1)
            for line in (project / ".env").read_text().splitlines()
            if line and not line.startswith("#")
        )
        keys.append(env["DJANGO_SECRET_KEY"])
        assert len(env["DJANGO_SECRET_KEY"]) >= 50
        assert ".env" in (project / ".gitignore").read_text().splitlines()
        assert ".env" in (project / ".dockerignore").read_text().splitlines()
        for path, text in text_files(project):
            if path.name != ".env":
                assert env["DJANGO_SECRET_KEY"] not in text, path
    assert keys[0] != keys[1]


def test_answers_are_recorded_for_later_updates_without_secrets(baked):
    options, project = baked
    answers = json.loads((project / ".cruft.json").read_text())["context"]["cookiecutter"]
    for name, value in options.items():
        assert answers[name] == value
    assert "secret" not in json.dumps(answers).lower()
