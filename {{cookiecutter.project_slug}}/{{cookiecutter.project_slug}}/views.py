from django.conf import settings
from django.http import Http404
from django.shortcuts import render

from config import status
from config.env import BASE_DIR

PROJECT_NAME = {{ cookiecutter.project_name | python_string(15) }}
DESCRIPTION = {{ cookiecutter.description | python_string(14) }}

# Where the README explains each part of the development home page: the first line that
# holds the text, else its section.
README_LINES = {
    "release": "| `GIT_REVISION`",
    "database": "| `DATABASE_URL`",
    "cache": "| `CACHE_URL`",
    "email": "| `EMAIL_URL`",
    "services": "**Backing services from compose",
    "processes": "The `Procfile` declares the process types",
    "local": "`bin/dev` runs the Procfile locally",
    "checks": "`bin/check` runs what CI runs",
}


def readme_lines() -> list[str]:
    return (BASE_DIR / "README.md").read_text(encoding="utf-8").splitlines()


def readme_links() -> dict[str, str]:
    """The README line (its anchor on the /readme/ page) for each README_LINES topic."""
    lines = readme_lines()
    links = {}
    for topic, text in README_LINES.items():
        number = next((n for n, line in enumerate(lines, 1) if text in line), None)
        links[topic] = f"#L{number}" if number else ""
    links["services"] = links["services"] or "#L1"
    return links


def development_status() -> dict:
    """The twelve-factor view of the running configuration (config/status.py)."""
    links = readme_links()
    services = status.backing_services()
    for service in services:
        service.readme = links.get(service.kind) or links["services"]
    return {
        "links": links,
        "services": services,
        "processes": status.process_types(),
        "checks": status.deploy_checks(),
    }


def home(request):
    context = {
        "project_name": PROJECT_NAME,
        "description": DESCRIPTION,
        "release": settings.GIT_REVISION,
    }
    if settings.DEBUG:
        context["status"] = development_status()
    return render(request, "{{ cookiecutter.project_slug }}/home.html", context)


def readme(request):
    """The README with an anchor on every line, for the development home page's links.
    Development only: in production the README is in the repository, not on the site."""
    if not settings.DEBUG:
        raise Http404
    lines = list(enumerate(readme_lines(), 1))
    return render(request, "{{ cookiecutter.project_slug }}/readme.html", {"lines": lines})
