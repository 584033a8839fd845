"""Reject answers that would bake a broken project, before anything is written.

Each validator takes the answers and returns an error message or None. Answers arrive
through `tojson`, so quotes, backslashes and braces in them cannot break this file.
Cookiecutter removes the output directory when this hook exits non-zero.
"""

import json
import keyword
import re
import sys

ANSWERS = json.loads({{cookiecutter | jsonify | tojson}})

# Modules the baked project imports, or that its tooling puts on sys.path: a package
# with one of these names would shadow it.
SHADOWED_MODULES = frozenset(
    {
        "asgiref",
        "brotli",
        "config",
        "dj_database_url",
        "django",
        "gunicorn",
        "manage",
        "psycopg",
        "psycopg_pool",
        "pydantic",
        "pydantic_settings",
        "pytest",
        "pytest_django",
        "redis",
        "site",
        "test",
        "tests",
        "users",
        "uvicorn",
        "uvicorn_worker",
        "whitenoise",
    }
)
SLUG_PATTERN = re.compile(r"[a-z][a-z0-9_]*")
EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
HOSTNAME_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
FREE_TEXT_FIELDS = ("project_name", "description", "author_name")


def check_project_name(answers: dict) -> str | None:
    """A project needs a name that is not just white space."""
    if not answers["project_name"].strip():
        return "project_name: must not be empty"
    return None


def check_slug_shape(answers: dict) -> str | None:
    """The slug becomes a Python package: ASCII, lowercase, an identifier."""
    slug = answers["project_slug"]
    if not slug:
        return "project_slug: must not be empty"
    if not slug.isascii() or not SLUG_PATTERN.fullmatch(slug):
        return (
            f"project_slug: {slug!r} must start with a lowercase ASCII letter and "
            "contain only lowercase letters, digits and underscores"
        )
    if len(slug) > 50:
        return f"project_slug: {slug!r} is longer than 50 characters"
    return None


def check_slug_not_reserved(answers: dict) -> str | None:
    """The slug must not be a keyword, nor hide a module the project imports."""
    slug = answers["project_slug"]
    if keyword.iskeyword(slug) or keyword.issoftkeyword(slug):
        return f"project_slug: {slug!r} is a Python keyword"
    if slug in SHADOWED_MODULES or slug in sys.stdlib_module_names:
        return f"project_slug: {slug!r} would shadow the Python module of that name"
    return None


def check_free_text(answers: dict) -> str | None:
    """Free text may hold any printable character, but not line breaks or controls."""
    for field in FREE_TEXT_FIELDS:
        if any(not char.isprintable() for char in answers[field]):
            return f"{field}: must be one line without control characters"
    return None


def check_email(answers: dict) -> str | None:
    """The author email lands in pyproject.toml, where tools expect an address."""
    if not EMAIL_PATTERN.fullmatch(answers["author_email"]):
        return f"author_email: {answers['author_email']!r} is not an email address"
    return None


def check_domain(answers: dict) -> str | None:
    """The domain becomes an ALLOWED_HOSTS entry: a lowercase DNS name with a dot."""
    domain = answers["domain_name"]
    labels = domain.split(".")
    if (
        len(domain) > 253
        or len(labels) < 2
        or not all(HOSTNAME_LABEL.fullmatch(label) for label in labels)
    ):
        return f"domain_name: {domain!r} is not a lowercase DNS name such as example.com"
    return None


VALIDATORS = (
    check_project_name,
    check_slug_shape,
    check_slug_not_reserved,
    check_free_text,
    check_email,
    check_domain,
)


def main() -> int:
    errors = [error for validate in VALIDATORS if (error := validate(ANSWERS))]
    for error in errors:
        print(f"ERROR: {error}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
