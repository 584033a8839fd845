"""Finish a bake: write the local `.env` with fresh secrets, record how to update the
project from the template, check for uv, and tell a person what to type next.

Secrets are generated here, never taken from the answers, so they reach neither a
committed file nor cookiecutter's replay file.
"""

import json
import os
import re
import runpy
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from cookiecutter.config import get_user_config
from cookiecutter.repository import expand_abbreviations

ANSWERS = json.loads({{cookiecutter | jsonify | tojson}})
UPDATE_STATE = Path(".cruft.json")
# The hook runs with the Python that runs cookiecutter (or cruft), so cookiecutter's own
# expansion of `gh:owner/repo` and the user's configured shorthands is at hand.
ABBREVIATIONS = get_user_config()["abbreviations"]
SCP_LIKE = re.compile(r"[\w.-]+@[\w.-]+:[^/].*")


def write_local_env() -> None:
    """The project's own `bin/setup` writes it, as it does for every later clone."""
    runpy.run_path("bin/setup")["write_development_env"]()


def report_uv() -> None:
    """The lock ships with the template; uv is what installs from it."""
    if shutil.which("uv") is None:
        print(
            "uv was not found on PATH. The project ships a complete uv.lock; install uv "
            "(https://docs.astral.sh/uv/) and run `uv sync` to install it.",
            file=sys.stderr,
        )


def template_checkout(answers: dict) -> Path:
    """The template's directory: cookiecutter's clone of a remote template, or the local
    path it was given (relative to where cookiecutter was started, which the shell's
    PWD still names; this hook runs inside the new project)."""
    return Path(os.environ.get("PWD", "."), answers.get("_repo_dir", ".")).resolve()


def template_location(answers: dict) -> str:
    """Where the template was baked from, as git can clone it again: a repository URL
    with no credentials in it, or the local checkout's path."""
    given = expand_abbreviations(answers.get("_template", ""), ABBREVIATIONS)
    url = urlsplit(given)
    if url.scheme in ("http", "https", "git", "ssh") and url.hostname:
        host = url.hostname + (f":{url.port}" if url.port else "")
        # ssh names an account (git@host); http user names are usually tokens.
        account = f"{url.username}@" if url.scheme == "ssh" and url.username else ""
        return urlunsplit((url.scheme, account + host, url.path, "", ""))
    if SCP_LIKE.fullmatch(given):  # git@github.com:owner/repo.git
        return given
    return str(template_checkout(answers))


def template_commit(answers: dict) -> str | None:
    """The template's revision, when it was baked from a git checkout."""
    if answers.get("_commit"):  # set when cruft itself renders the template
        return answers["_commit"]
    result = subprocess.run(
        ["git", "rev-parse", "HEAD"],
        cwd=template_checkout(answers),
        capture_output=True,
        text=True,
    )
    return result.stdout.strip() if result.returncode == 0 else None


def write_update_state() -> None:
    """`.cruft.json`, the state cruft reads to check for and apply template updates:
    the answers (no secrets, no paths of this machine), the template's location and
    commit. `cruft create` replaces it with its own, equivalent file."""
    if UPDATE_STATE.exists():
        return
    answers = {name: value for name, value in ANSWERS.items() if not name.startswith("_")}
    state = {
        "template": template_location(ANSWERS),
        "commit": template_commit(ANSWERS),
        "checkout": ANSWERS.get("_checkout") or None,
        "context": {"cookiecutter": answers},
        "directory": None,
    }
    UPDATE_STATE.write_text(json.dumps(state, indent=2, ensure_ascii=False) + "\n")
    if state["commit"] is None:
        print(
            "The template was not a git checkout, so its revision is unknown: before "
            "`cruft update` can work, run `cruft link <template repository URL>` here.",
            file=sys.stderr,
        )


NEXT_STEPS = """
Next steps:
    cd {path}
    bin/setup
    uv sync
    bin/dev
then open http://localhost:8000/ (Ctrl-C stops it). README.md has the rest.
"""


def print_next_steps() -> None:
    """Only for a person at a terminal: a bake run by a machine (CI, a test, an update
    tool) has no terminal on its standard input, and its logs need no instructions."""
    if sys.stdin is not None and sys.stdin.isatty():
        print(NEXT_STEPS.format(path=shlex.quote(str(Path.cwd()))))


def main() -> None:
    write_local_env()
    write_update_state()
    report_uv()
    print_next_steps()


if __name__ == "__main__":
    main()
