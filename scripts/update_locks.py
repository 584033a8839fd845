"""Regenerate the uv.lock files the template ships, one per web interface, and the
slug validator's reserved names that follow from them (scripts/reserved_names.py).

A shipped lock makes a bake fast and offline (no resolution at bake time). The
template's tests fail when a lock no longer matches the baked pyproject.toml; then run
`python3 dev.py lock`, which calls this.
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import reserved_names
from reserved_names import INTERFACES, TEMPLATE

PROJECT_DIR = TEMPLATE / "{{cookiecutter.project_slug}}"
PLACEHOLDER_SLUG = "lockfile_placeholder"
DEFAULT_GROUPS = 'default-groups = ["dev", "postgres{major}"]'
DEFAULT_MAJOR = json.loads((TEMPLATE / "cookiecutter.json").read_text())["postgres_version"][0]


def lock_path(interface: str) -> Path:
    return (
        PROJECT_DIR / f'{{% if cookiecutter.web_interface == "{interface}" %}}uv.lock{{% endif %}}'
    )


def regenerate(interface: str, uv: str) -> None:
    with tempfile.TemporaryDirectory() as output:
        baked = reserved_names.bake(interface, output, PLACEHOLDER_SLUG)
        (baked / "uv.lock").unlink()
        environ = reserved_names.uv_environment()
        subprocess.run([uv, "lock", "--quiet"], cwd=baked, env=environ, check=True)
        text = (baked / "uv.lock").read_text()
    name = PLACEHOLDER_SLUG.replace("_", "-")
    if text.count(f'name = "{name}"') != 1:
        sys.exit(f"expected the project's own entry once in the {interface} lock")
    # uv records the default groups, which name the bake's Postgres major; every major's
    # group is resolved in the one lock.
    groups = DEFAULT_GROUPS.format(major=DEFAULT_MAJOR)
    if text.count(groups) != 1:
        sys.exit(f"expected {groups} once in the {interface} lock")
    text = text.replace(groups, DEFAULT_GROUPS.format(major="{{ cookiecutter.postgres_version }}"))
    lock_path(interface).write_text(
        text.replace(
            f'name = "{name}"', 'name = "{{ cookiecutter.project_slug | replace("_", "-") }}"'
        )
    )
    print(f"wrote {lock_path(interface).relative_to(TEMPLATE)}")


if __name__ == "__main__":
    uv = os.environ.get("UV", "uv")
    for interface in INTERFACES:
        regenerate(interface, uv)
    reserved_names.main(uv)
