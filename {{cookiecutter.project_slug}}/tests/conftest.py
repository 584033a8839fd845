"""Helpers to run the project as production would: a fresh process, an explicit environment."""

import json
import os
import secrets
import subprocess
import sys
from typing import Any

import pytest
from pydantic import ValidationError

from config.env import BASE_DIR, Env, describe_problems
from config.envdocs import default_text

# A secret key the schema accepts, and every variable a production process needs, valid.
STRONG_KEY = "k7Gq2vXz9LmP4wRt8YbN3cJh6FdS1aQe5UoI0pKlZxCvBnMgT-Wd"
REQUIRED = {"DJANGO_SECRET_KEY": STRONG_KEY, "DATABASE_URL": "sqlite:///db", "ALLOWED_HOSTS": "a.b"}


def problems(base: dict[str, Any] = REQUIRED, **environ: Any) -> str:
    """The message a process would print for `base` (by default valid) with `environ` on
    top, and whatever the process environment holds; no .env file read."""
    with pytest.raises(ValidationError) as error:
        Env(_env_file=None, **(base | environ))
    return describe_problems(error.value)


RESULT_MARK = "probe-result: "
PROBE = """
import json, sys
import django
django.setup()
from django.conf import settings
from django.test import Client
# Hashed static names need collectstatic's manifest; the template's boot tests cover them.
settings.STORAGES = settings.STORAGES | {
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
}
client = Client(raise_request_exception=False)
results = []
for method, path, headers in json.loads(sys.argv[1]):
    response = getattr(client, method)(path, **headers)
    results.append({
        "status": response.status_code,
        "headers": dict(response.headers),
        "cookies": {
            name: dict(morsel.items()) | {"value": morsel.value}
            for name, morsel in response.cookies.items()
        },
        "body": response.content.decode(errors="replace"),
    })
print("probe-result: " + json.dumps(results))
"""


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """The production hasher is slow on purpose (PBKDF2, 1.5 million rounds: a third of
    a CPU-second per password set or checked); the tests set and check dozens."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def production_env() -> dict[str, str]:
    """Every variable of the schema set explicitly, so a local .env cannot leak in."""
    environ = {
        name: default_text(name)
        for name, field in Env.model_fields.items()
        if not field.is_required()
    }
    environ.update(
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DATABASE_URL=os.environ.get("DATABASE_URL", "sqlite:///:memory:"),
        ALLOWED_HOSTS="app.example.com",
    )
    return environ


def run_python(code: str, environ: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=BASE_DIR,
        env={"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "config.settings", **environ},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def fetch(production_env):
    """Request paths from the project in a fresh process with a production environment."""

    def fetch(*requests: tuple[str, str, dict], **overrides: str) -> list[dict]:
        result = run_python(PROBE, production_env | overrides, json.dumps(requests))
        assert result.returncode == 0, result.stderr
        (line,) = (line for line in result.stdout.splitlines() if line.startswith(RESULT_MARK))
        return json.loads(line.removeprefix(RESULT_MARK))

    return fetch


@pytest.fixture
def static_files_without_collectstatic(settings):
    """Hashed static names need collectstatic's manifest; the template's boot tests cover them."""
    settings.STORAGES = settings.STORAGES | {
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    }


@pytest.fixture
def https(settings) -> dict:
    """What the platform's router forwards: a known host, over HTTPS."""
    return {"headers": {"host": settings.ALLOWED_HOSTS[0]}, "secure": True}
