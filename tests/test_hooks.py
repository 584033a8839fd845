"""Bad answers are refused with a message naming the field, and leave nothing behind;
hostile free text bakes literally. Both hold with Python's optimizations on
(PYTHONOPTIMIZE=2 reaches the hook scripts, which cookiecutter runs in a new process).
"""

import ast
import json
import os
import subprocess
import sys
import tomllib

import pytest

from bakery import TEMPLATE, tool

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
    # Jinja syntax is an answer like any other: refused as a slug, never rendered.
    ({"project_slug": "{{ 7*7 }}"}, "project_slug: '{{ 7*7 }}' must start with a lowercase"),
    ({"project_slug": "{% raw %}"}, "project_slug: '{% raw %}' must start with a lowercase"),
    ({"project_slug": "x; rm -rf ~"}, "project_slug: 'x; rm -rf ~' must start with a lowercase"),
]
OPTIMIZATION = {"": "no optimization", "2": "PYTHONOPTIMIZE=2"}

# Every kind of trouble a free-text answer can hold, each in every free-text field.
TROUBLE = (
    "Jinja {{ 7*7 }} {% raw %} {# comment #} {{ cookiecutter.project_slug }} {% endraw %} "
    'quotes \' " """ backslashes \\ \\n \\u0041 '
    "shell $(touch PWNED) `touch PWNED` ; | & > PWNED $HOME "
    "non-ASCII Café ünïcödé 中文 עברית 😀 "
)
HOSTILE = {
    "project_name": "Shop " + TROUBLE,
    "project_slug": "hostile",
    "description": TROUBLE * 12,  # 2,556 characters: longer than any line
    "author_name": "O'Brien " + TROUBLE,
    "author_email": 'o.brien+"quoted"@example.com',
}


def bake_cli(output_dir, answers: dict[str, str], *, optimize: str = ""):
    """The cookiecutter command line, as a user runs it, with cookiecutter's own files
    (its replay of the answers, its clones) kept under output_dir's parent."""
    home = output_dir.parent / f"{output_dir.name}-cookiecutter"
    home.mkdir(exist_ok=True)
    config = home / "config.yaml"
    config.write_text(f"cookiecutters_dir: {home / 'clones'}\nreplay_dir: {home / 'replay'}\n")
    args = [
        sys.executable,
        "-m",
        "cookiecutter",
        "--no-input",
        "--output-dir",
        str(output_dir),
        str(TEMPLATE),
    ]
    args += [f"{name}={value}" for name, value in answers.items()]
    environ = os.environ | {"COOKIECUTTER_CONFIG": str(config), "PYTHONOPTIMIZE": optimize}
    return subprocess.run(
        args, capture_output=True, text=True, timeout=60, cwd=output_dir, env=environ
    )


def left_behind(output_dir) -> list[str]:
    """Everything a bake wrote, apart from cookiecutter's replay of the answers, which it
    writes before any hook can refuse them."""
    home = output_dir.parent / f"{output_dir.name}-cookiecutter"
    written = [
        path
        for path in [*output_dir.rglob("*"), *home.rglob("*")]
        if path.is_file() and path.name != "config.yaml"
    ]
    return sorted(str(path) for path in written if path.parent != home / "replay")


@pytest.mark.parametrize(("answers", "message"), BAD_ANSWERS, ids=lambda v: repr(v)[:40])
def test_bad_answers_are_refused_and_leave_nothing_behind(tmp_path, answers, message):
    output_dir = tmp_path / "out"
    output_dir.mkdir()
    result = bake_cli(output_dir, answers)
    assert result.returncode != 0
    assert message in result.stderr, result.stderr
    assert left_behind(output_dir) == []


# One bake per slug validator, each with every other field wrong too: every validator
# must still run, report and refuse when `assert` and docstrings are stripped.
EVERY_VALIDATOR = {
    "slug shape": (
        {
            "project_slug": "{% raw %}",
            "project_name": " ",
            "description": "a\nb",
            "author_email": "nope",
            "domain_name": "localhost",
        },
        ["project_name", "project_slug", "description", "author_email", "domain_name"],
    ),
    "reserved slug": (
        {"project_slug": "class", "author_name": "tab\there"},
        ["project_slug", "author_name"],
    ),
}


@pytest.mark.parametrize(
    ("answers", "fields"), EVERY_VALIDATOR.values(), ids=EVERY_VALIDATOR.keys()
)
def test_validation_still_runs_under_python_optimizations(tmp_path, answers, fields):
    output_dir = tmp_path / "out"
    output_dir.mkdir()
    result = bake_cli(output_dir, answers, optimize="2")
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR: ")]
    assert result.returncode != 0
    assert [error.split(":")[1].strip() for error in errors] == fields, result.stderr
    assert left_behind(output_dir) == []


def test_the_default_answers_bake(tmp_path):
    result = bake_cli(tmp_path, {})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "my_project" / "manage.py").exists()


def python_constants(path) -> dict:
    """Module- and class-level NAME = "literal" assignments of a Python file."""
    nodes = ast.walk(ast.parse(path.read_text()))
    return {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in nodes
        if isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Name)
        and isinstance(node.value, ast.Constant)
    }


@pytest.mark.parametrize("optimize", OPTIMIZATION, ids=OPTIMIZATION.values())
def test_hostile_free_text_bakes_literally_into_a_clean_project(tmp_path, optimize):
    result = bake_cli(tmp_path, HOSTILE, optimize=optimize)
    assert result.returncode == 0, result.stderr
    project = tmp_path / "hostile"
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    views = python_constants(project / "hostile" / "views.py")
    apps = python_constants(project / "hostile" / "apps.py")
    answers = json.loads((project / ".cruft.json").read_text())["context"]["cookiecutter"]
    readme = (project / "README.md").read_text().splitlines()
    assert pyproject["description"] == HOSTILE["description"]
    assert pyproject["authors"] == [
        {"name": HOSTILE["author_name"], "email": HOSTILE["author_email"]}
    ]
    assert views["PROJECT_NAME"] == apps["verbose_name"] == HOSTILE["project_name"]
    assert views["DESCRIPTION"] == HOSTILE["description"]
    assert readme[0] == f"# {HOSTILE['project_name']}"
    assert readme[2] == HOSTILE["description"]
    assert {name: answers[name] for name in HOSTILE} == HOSTILE
    assert not list(tmp_path.rglob("PWNED")), "a shell ran a piece of an answer"
    for command in (["check", "--no-cache", "."], ["format", "--no-cache", "--check", "."]):
        lint = subprocess.run([tool("ruff"), *command], cwd=project, capture_output=True, text=True)
        assert lint.returncode == 0, lint.stdout + lint.stderr
    print(
        f"\n[{OPTIMIZATION[optimize]}] {len(HOSTILE['description'])}-character description, "
        f"Jinja, quotes, shell and non-ASCII baked literally; ruff clean"
    )
