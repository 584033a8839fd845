"""Regenerate hooks/reserved_names.json: the names a project slug may not take.

The slug becomes a top-level package and a Django app label of the baked project, so it
must not be the label of a Django contrib app, a top-level module of any package the
shipped locks install (the project's own tools and every dependency group included, as
a bake for another PostgreSQL major installs that major's), a module of the standard
library of the project's Python, or a top-level name the project already has. The list
is read from real installs of each bake, not kept by hand; keywords (and the standard
library of the Python running cookiecutter) the hook takes from its own Python.
`python3 dev.py lock` calls this after writing the locks; a template test fails when
the file is stale.
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from cookiecutter.main import cookiecutter

TEMPLATE = Path(__file__).resolve().parent.parent
RESERVED_NAMES = TEMPLATE / "hooks" / "reserved_names.json"
INTERFACES = ("wsgi", "asgi")
PLACEHOLDER_SLUG = "reserved_names_placeholder"


def site_packages(project: Path) -> Path:
    (path,) = (project / ".venv" / "lib").glob("python3*/site-packages")
    return path


def installed_modules(project: Path) -> set[str]:
    """Top-level importable names in the project's virtual environment."""
    names = set()
    for entry in site_packages(project).iterdir():
        if entry.name.endswith((".dist-info", ".pth", ".libs")):
            continue
        name = entry.name.split(".")[0]  # brotli.py, _brotli.cpython-313-....so
        if name.isidentifier() and name != "__pycache__":
            names.add(name)
    return names


STANDARD_LIBRARY = """
import os, sys, sysconfig
listed = os.listdir(sysconfig.get_paths()["stdlib"])
names = {name.split(".")[0] for name in listed} | set(sys.stdlib_module_names)
print(" ".join(sorted(name for name in names if name.isidentifier())))
"""


def standard_library(project: Path) -> set[str]:
    """Modules of the standard library of the project's Python, `test` included (which
    sys.stdlib_module_names leaves out)."""
    python = project / ".venv" / "bin" / "python"
    result = subprocess.run(
        [python, "-c", STANDARD_LIBRARY], capture_output=True, text=True, check=True
    )
    return set(result.stdout.split()) - {"__pycache__", "site-packages"}


def django_app_labels(project: Path) -> set[str]:
    """Labels of Django's contrib apps: a project app may not reuse one."""
    contrib = site_packages(project) / "django" / "contrib"
    return {path.parent.name for path in contrib.glob("*/apps.py")}


def project_names(project: Path, slug: str) -> set[str]:
    """Top-level modules, packages and directories of the baked project itself."""
    names = set()
    for entry in project.iterdir():
        name = entry.stem if entry.suffix == ".py" else entry.name
        if entry.is_file() and entry.suffix != ".py":
            continue
        if name.isidentifier() and not name.startswith("_") and name != slug:
            names.add(name)
    return names


def derive(project: Path, slug: str) -> dict[str, set[str]]:
    return {
        "django_app_labels": django_app_labels(project),
        "installed_modules": installed_modules(project),
        "project_names": project_names(project, slug),
        "standard_library": standard_library(project),
    }


def bake(interface: str, output: str, slug: str) -> Path:
    """The default project for one interface, under a slug that names no module."""
    context = {"project_slug": slug, "web_interface": interface}
    return Path(
        cookiecutter(str(TEMPLATE), no_input=True, output_dir=output, extra_context=context)
    )


def uv_environment() -> dict[str, str]:
    """The Python dev.py found for baked projects; uv must not download one."""
    return os.environ | {"UV_PYTHON": os.environ.get("BAKED_PYTHON", "3.13")}


def bake_and_install(interface: str, output: str, uv: str) -> Path:
    baked = bake(interface, output, PLACEHOLDER_SLUG)
    install = [uv, "sync", "--locked", "--quiet", "--all-groups"]
    subprocess.run(install, cwd=baked, env=uv_environment(), check=True)
    return baked


def main(uv: str) -> None:
    reserved: dict[str, set[str]] = {}
    with tempfile.TemporaryDirectory() as output:
        for interface in INTERFACES:
            project = bake_and_install(interface, f"{output}/{interface}", uv)
            for kind, names in derive(project, PLACEHOLDER_SLUG).items():
                reserved.setdefault(kind, set()).update(names)
    document = {kind: sorted(names) for kind, names in sorted(reserved.items())}
    RESERVED_NAMES.write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {RESERVED_NAMES.relative_to(TEMPLATE)}", file=sys.stderr)


if __name__ == "__main__":
    main(os.environ.get("UV", "uv"))
