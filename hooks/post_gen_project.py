"""Finish a bake: write the local `.env` with fresh secrets, check for uv, and tell a
person what to type next.

Secrets are generated here, never taken from the answers, so they reach neither a
committed file nor cookiecutter's replay file.
"""

import secrets
import shlex
import shutil
import sys
from pathlib import Path

ENV_FILE = Path(".env")
LOCAL_ENV = """\
# Local development only: git- and docker-ignored. Every variable is described in
# .env.example; production sets them in the platform's environment instead.
DJANGO_SECRET_KEY={secret_key}
DEBUG=true
ALLOWED_HOSTS=localhost,127.0.0.1,[::1]
DATABASE_URL=sqlite:///db.sqlite3
SECURE_SSL_REDIRECT=false
LOG_FORMAT=console
"""


def write_local_env() -> None:
    """A different key every bake; URL-safe so no shell or dotenv parser mangles it."""
    ENV_FILE.write_text(LOCAL_ENV.format(secret_key=secrets.token_urlsafe(50)))
    ENV_FILE.chmod(0o600)


def report_uv() -> None:
    """The lock ships with the template; uv is what installs from it."""
    if shutil.which("uv") is None:
        print(
            "uv was not found on PATH. The project ships a complete uv.lock; install uv "
            "(https://docs.astral.sh/uv/) and run `uv sync` to install it.",
            file=sys.stderr,
        )


NEXT_STEPS = """
Next steps:
    cd {path}
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
    report_uv()
    print_next_steps()


if __name__ == "__main__":
    main()
