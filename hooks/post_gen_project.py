"""Finish a bake: write the local `.env` with fresh secrets and check for uv.

Secrets are generated here, never taken from the answers, so they reach neither a
committed file nor cookiecutter's replay file.
"""

import runpy
import shutil
import sys


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


def main() -> None:
    write_local_env()
    report_uv()


if __name__ == "__main__":
    main()
