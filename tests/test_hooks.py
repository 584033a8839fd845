"""Bad answers are refused with a message naming the field, and leave nothing behind."""

import subprocess
import sys

import pytest

from bakery import TEMPLATE

pytestmark = pytest.mark.bake

BAD_ANSWERS = [
    ({"project_slug": "My-Project"}, "project_slug: 'My-Project' must start with a lowercase"),
    ({"project_slug": "1project"}, "project_slug: '1project' must start with a lowercase"),
    ({"project_slug": "café"}, "project_slug: 'café' must start with a lowercase"),
    ({"project_slug": "my project"}, "project_slug: 'my project' must start"),
    ({"project_slug": "class"}, "project_slug: 'class' is a Python keyword"),
    ({"project_slug": "match"}, "project_slug: 'match' is a Python keyword"),
    ({"project_slug": "django"}, "project_slug: 'django' would shadow"),
    ({"project_slug": "config"}, "project_slug: 'config' would shadow"),
    ({"project_slug": "test"}, "project_slug: 'test' would shadow"),
    ({"project_slug": "site"}, "project_slug: 'site' would shadow"),
    ({"project_slug": "json"}, "project_slug: 'json' would shadow"),
    ({"project_slug": "a" * 51}, "is longer than 50 characters"),
    ({"project_name": "   ", "project_slug": "blank"}, "project_name: must not be empty"),
    ({"description": "two\nlines"}, "description: must be one line"),
    ({"author_name": "tab\there"}, "author_name: must be one line"),
    ({"author_email": "not-an-email"}, "author_email: 'not-an-email' is not an email address"),
    ({"domain_name": "localhost"}, "domain_name: 'localhost' is not a lowercase DNS name"),
    ({"domain_name": "exa mple.com"}, "domain_name: 'exa mple.com' is not a lowercase DNS name"),
    ({"domain_name": "-bad.example.com"}, "domain_name: '-bad.example.com' is not a lowercase"),
]


def bake_cli(output_dir, answers: dict[str, str], *, optimize: bool = False):
    """The cookiecutter command line, as a user runs it."""
    args = [sys.executable, *(["-OO"] if optimize else []), "-m", "cookiecutter", "--no-input",
            "--output-dir", str(output_dir), str(TEMPLATE)]
    args += [f"{name}={value}" for name, value in answers.items()]
    return subprocess.run(args, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("answers", "message"), BAD_ANSWERS, ids=lambda v: repr(v)[:40])
def test_bad_answers_are_refused_and_leave_no_directory(tmp_path, answers, message):
    result = bake_cli(tmp_path, answers)
    assert result.returncode != 0
    assert message in result.stderr, result.stderr
    assert list(tmp_path.iterdir()) == []


def test_validation_still_runs_under_python_optimizations(tmp_path):
    result = bake_cli(tmp_path, {"project_slug": "django"}, optimize=True)
    assert result.returncode != 0
    assert "project_slug: 'django' would shadow" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_every_problem_is_reported_at_once(tmp_path):
    result = bake_cli(tmp_path, {"project_slug": "class", "author_email": "nope", "domain_name": "x"})
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR: ")]
    assert [error.split(":")[1].strip() for error in errors] == ["project_slug", "author_email", "domain_name"]


def test_the_default_answers_bake(tmp_path):
    result = bake_cli(tmp_path, {})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "my_project" / "manage.py").exists()
