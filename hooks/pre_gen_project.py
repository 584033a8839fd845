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

# Names the slug may not take: hooks/reserved_names.json, derived from installs of the
# shipped locks by scripts/reserved_names.py (`python3 dev.py lock`; a test fails when
# it is stale), passed in by local_extensions.ReservedNames.
RESERVED = json.loads({{reserved_names | jsonify | tojson}})
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


def check_slug_not_keyword(answers: dict) -> str | None:
    """A keyword cannot be imported as a package name."""
    slug = answers["project_slug"]
    if keyword.iskeyword(slug) or keyword.issoftkeyword(slug):
        return f"project_slug: {slug!r} is a Python keyword"
    return None


def check_slug_not_app_label(answers: dict) -> str | None:
    """The slug is the app's label, and Django refuses two apps with one label."""
    slug = answers["project_slug"]
    if slug in RESERVED["django_app_labels"]:
        return f"project_slug: {slug!r} is the label of Django's app django.contrib.{slug}"
    return None


def check_slug_not_shadowing(answers: dict) -> str | None:
    """The slug must not hide a module the project imports, nor one of its own names."""
    slug = answers["project_slug"]
    if slug in RESERVED["standard_library"] or slug in RESERVED["installed_modules"]:
        return f"project_slug: {slug!r} would shadow the Python module of that name"
    if slug in RESERVED["project_names"]:
        return f"project_slug: {slug!r} would shadow the project's own {slug!r}"
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
    check_slug_not_keyword,
    check_slug_not_app_label,
    check_slug_not_shadowing,
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
