"""The environment is validated before anything serves, and documented where people look."""

import re

import dj_database_url
import pytest
from pydantic import AliasChoices

from config.env import BASE_DIR, REVISION_VARIABLES, Env
from config.envdocs import example_file, markdown_table
from config.tasks import tasks_settings
from tests.conftest import STRONG_KEY, problems, run_python

# Other names a variable is read from (what platforms and boto3 set).
ALIASES = {
    alias
    for field in Env.model_fields.values()
    if isinstance(field.validation_alias, AliasChoices)
    for alias in field.validation_alias.choices
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in {*Env.model_fields, *ALIASES}:
        monkeypatch.delenv(name, raising=False)


def test_development_needs_no_database_url():
    """DEBUG on without DATABASE_URL: config/devdatabase.py starts PostgreSQL from a wheel."""
    env = Env(_env_file=None, DJANGO_SECRET_KEY=STRONG_KEY, DEBUG="1")
    assert env.DATABASE_URL.get_secret_value() == ""


def test_missing_required_variables_are_all_named_in_one_message():
    message = problems({})
    assert "DJANGO_SECRET_KEY: is required but not set" in message
    assert "DATABASE_URL: is required when DEBUG is off" in message
    assert "ALLOWED_HOSTS: must name at least one host when DEBUG is off" in message
    assert message.startswith("Configuration error: 3 environment variables")


def test_every_invalid_value_is_reported_without_echoing_it():
    message = problems(
        DJANGO_SECRET_KEY="django-insecure-abcdefghijklmnopqrstuvwxyz0123456789abcdefgh",
        DEBUG="maybe",
        DATABASE_URL="mysql://user:hunter2@db/app",
        PORT="eighty",
        LOG_FORMAT="xml",
    )
    for name in ("DJANGO_SECRET_KEY", "DEBUG", "DATABASE_URL", "PORT", "LOG_FORMAT"):
        assert re.search(rf"^  {name}: ", message, re.MULTILINE), message
    assert "hunter2" not in message
    assert "django-insecure-abc" not in message
    assert "maybe" not in message


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("localhost/app", "must start with one of"),
        ("postgres://db.internal:5432", "must name a database"),
        ("postgres:///app", "must name a host"),
        ("postgres://u:p@/app", "must name a host, or a socket directory"),
        ("postgres://u:p@db.internal/app?pgbouncer=yes", "?pgbouncer= must be true or false"),
    ],
)
def test_unusable_database_urls_are_refused(url, reason):
    message = problems(DATABASE_URL=url)
    assert f"DATABASE_URL: {reason}" in message


@pytest.mark.parametrize("key", ["short", "a" * 60, "django-insecure-" + STRONG_KEY])
def test_weak_secret_keys_are_refused(key):
    message = problems(DJANGO_SECRET_KEY=key)
    assert "DJANGO_SECRET_KEY:" in message
    assert key not in message


def test_debug_is_off_unless_set():
    env = Env(
        _env_file=None,
        DJANGO_SECRET_KEY=STRONG_KEY,
        DATABASE_URL="sqlite:///db",
        ALLOWED_HOSTS="a.b",
    )
    assert env.DEBUG is False


def test_a_password_with_url_special_characters_reaches_the_database_intact():
    env = Env(
        _env_file=None,
        DJANGO_SECRET_KEY=STRONG_KEY,
        ALLOWED_HOSTS="a.b",
        DATABASE_URL="postgres://app:p%40ss%2Fw%3Ard%23@db.internal:5432/app",
    )
    parsed = dj_database_url.parse(env.DATABASE_URL.get_secret_value())
    assert parsed["PASSWORD"] == "p@ss/w:rd#"
    assert parsed["HOST"] == "db.internal"


# DATABASE_URL as providers write it (README: providers), and what Django gets from it.
PROVIDER_DATABASE_URLS = {
    "heroku": (
        "postgres://u7f3k2:p%40ss@ec2-3-215-57-87.compute-1.amazonaws.com:5432/d8f3k2l1",
        {
            "HOST": "ec2-3-215-57-87.compute-1.amazonaws.com",
            "PORT": 5432,
            "NAME": "d8f3k2l1",
            "USER": "u7f3k2",
            "PASSWORD": "p@ss",
        },
    ),
    "render internal": (
        "postgresql://shop_user:pw@dpg-cq1abc2mll3s73b8ecdg-a/shop_db",
        {"HOST": "dpg-cq1abc2mll3s73b8ecdg-a", "PORT": "", "NAME": "shop_db"},
    ),
    "cloud sql socket": (
        "postgres://user:password@/db?host=/cloudsql/project:region:instance",
        {
            "HOST": "",
            "NAME": "db",
            "USER": "user",
            "OPTIONS": {"host": "/cloudsql/project:region:instance"},
        },
    ),
    "rds verified tls": (
        "postgres://app:pw@shop.c9akciq32.us-east-1.rds.amazonaws.com:5432/app"
        "?sslmode=verify-full&sslrootcert=/etc/ssl/certs/rds-global-bundle.pem",
        {
            "HOST": "shop.c9akciq32.us-east-1.rds.amazonaws.com",
            "OPTIONS": {
                "sslmode": "verify-full",
                "sslrootcert": "/etc/ssl/certs/rds-global-bundle.pem",
            },
        },
    ),
    "supabase transaction pooler": (
        "postgres://postgres.abcdefghijklmnopqrst:pw@aws-0-us-east-1.pooler.supabase.com:6543"
        "/postgres?pgbouncer=true",
        {
            "HOST": "aws-0-us-east-1.pooler.supabase.com",
            "PORT": 6543,
            "USER": "postgres.abcdefghijklmnopqrst",
            "DISABLE_SERVER_SIDE_CURSORS": True,
            "OPTIONS": {"prepare_threshold": None, "server_side_binding": False},
        },
    ),
    "neon pooler": (
        "postgresql://alex:pw@ep-cool-darkness-123456-pooler.us-east-2.aws.neon.tech/neondb"
        "?sslmode=require&channel_binding=require&pgbouncer=true",
        {
            "HOST": "ep-cool-darkness-123456-pooler.us-east-2.aws.neon.tech",
            "DISABLE_SERVER_SIDE_CURSORS": True,
            "OPTIONS": {
                "sslmode": "require",
                "channel_binding": "require",
                "prepare_threshold": None,
            },
        },
    ),
}


@pytest.mark.parametrize(
    ("url", "expected"), PROVIDER_DATABASE_URLS.values(), ids=PROVIDER_DATABASE_URLS
)
def test_database_urls_as_providers_write_them_reach_django(url, expected):
    from config.database import database_settings

    env = Env(_env_file=None, DJANGO_SECRET_KEY=STRONG_KEY, ALLOWED_HOSTS="a.b", DATABASE_URL=url)
    database = database_settings(env)
    expected = dict(expected)
    options = expected.pop("OPTIONS", {})
    assert {key: database[key] for key in expected} == expected
    assert {key: database["OPTIONS"][key] for key in options} == options
    assert "pgbouncer" not in database["OPTIONS"]
    pooled = url.endswith("pgbouncer=true")
    assert database.get("DISABLE_SERVER_SIDE_CURSORS", False) is pooled


def test_a_serving_process_refuses_to_start_and_lists_every_bad_variable(production_env):
    environ = production_env | {
        "DEBUG": "maybe",
        "DATABASE_URL": "mysql://u:hunter2@h/d",
        "CACHE_URL": "redis//:hunter2@cache",
        "EMAIL_URL": "smtp://u:hunter2@mail:bad port",
        "PORT": "x",
    }
    result = run_python("import django; django.setup()", environ)
    assert result.returncode != 0
    for name in ("DEBUG", "DATABASE_URL", "CACHE_URL", "EMAIL_URL", "PORT"):
        assert f"  {name}: " in result.stderr
    assert "hunter2" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_more_threads_than_pooled_connections_are_refused_naming_both():
    message = problems(
        DATABASE_URL="postgres://app@db.internal/shop",
        WEB_THREADS="8",
        DATABASE_POOL_MAX_SIZE="4",
    )
    assert "WEB_THREADS (8) is above DATABASE_POOL_MAX_SIZE (4)" in message


def test_env_example_documents_exactly_the_schema():
    assert (BASE_DIR / ".env.example").read_text() == example_file()


def test_readme_table_lists_exactly_the_schema():
    assert markdown_table() in (BASE_DIR / "README.md").read_text()


def test_malformed_service_urls_are_named_with_the_other_problems_and_never_shown():
    message = problems(
        {},
        DATABASE_URL="sqlite:///db",
        CACHE_URL="redis//:hunter2@cache",
        EMAIL_URL="smtp://postmaster:hunter3@mail.example:bad port",
        DEFAULT_FROM_EMAIL="nobody",
    )
    for name in ("DJANGO_SECRET_KEY", "ALLOWED_HOSTS", "CACHE_URL", "EMAIL_URL"):
        assert re.search(rf"^  {name}: ", message, re.MULTILINE), message
    assert "DEFAULT_FROM_EMAIL: must be an email address" in message
    assert "hunter" not in message


@pytest.mark.parametrize("url", ["mqtt://cache:1883", "valkey://", "redis://cache:x/0"])
def test_unusable_cache_urls_are_refused(url):
    message = problems(CACHE_URL=url)
    assert "  CACHE_URL: " in message


@pytest.mark.parametrize(
    ("environ", "name"),
    [
        (
            {"AWS_STORAGE_BUCKET_NAME": "media", "AWS_S3_ENDPOINT_URL": "minio:9000"},
            "AWS_S3_ENDPOINT_URL",
        ),
        (
            {"AWS_STORAGE_BUCKET_NAME": "media", "AWS_S3_ENDPOINT_URL": "http://h:port"},
            "AWS_S3_ENDPOINT_URL",
        ),
        (
            {"AWS_STORAGE_BUCKET_NAME": "media", "AWS_ENDPOINT_URL_S3": "ftp://h"},
            "AWS_ENDPOINT_URL_S3",
        ),
        ({"AWS_S3_ENDPOINT_URL": "https://objects.example"}, "AWS_S3_ENDPOINT_URL"),
        ({"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE"}, "AWS_ACCESS_KEY_ID"),
        (
            {"AWS_STORAGE_BUCKET_NAME": "media", "AWS_SECRET_ACCESS_KEY": "hunter2-secret"},
            "AWS_SECRET_ACCESS_KEY",
        ),
        ({"SENTRY_DSN": "https://sentry.example/42"}, "SENTRY_DSN"),
        ({"SENTRY_DSN": "not a dsn"}, "SENTRY_DSN"),
    ],
)
def test_unusable_service_settings_are_named_without_their_value(environ, name):
    message = problems(**environ)
    assert f"  {name}: " in message, message
    assert environ[name] not in message


def test_one_start_up_error_names_every_malformed_url():
    message = problems(
        DATABASE_URL="postgres//user:hunter2@db/app",
        AWS_STORAGE_BUCKET_NAME="media",
        AWS_S3_ENDPOINT_URL="https://objects.example:bad",
        SENTRY_DSN="https://hunter3@sentry.example",
    )
    for name in ("DATABASE_URL", "AWS_S3_ENDPOINT_URL", "SENTRY_DSN"):
        assert f"  {name}: " in message, message
    assert "hunter" not in message
    assert message.startswith("Configuration error: 3 environment variables")


def platform_revision(monkeypatch, **environ: str) -> str:
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    env = Env(_env_file=None, DJANGO_SECRET_KEY=STRONG_KEY, DATABASE_URL="sqlite:///db", DEBUG="1")
    return env.GIT_REVISION


@pytest.mark.parametrize("name", REVISION_VARIABLES)
def test_the_release_is_read_from_what_the_platform_sets(monkeypatch, name):
    assert platform_revision(monkeypatch, **{name: "3f2a9c1"}) == "3f2a9c1"


def test_an_explicit_git_revision_wins_and_an_empty_one_does_not(monkeypatch):
    assert platform_revision(monkeypatch) == "unknown"
    assert platform_revision(monkeypatch, RENDER_GIT_COMMIT="from-render") == "from-render"
    assert platform_revision(monkeypatch, GIT_REVISION="") == "from-render"
    assert platform_revision(monkeypatch, GIT_REVISION="explicit") == "explicit"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TASKS_BACKEND", "redis"),
        ("TASKS_CONCURRENCY", "-1"),
        ("TASKS_POLL_INTERVAL", "0"),
        ("TASKS_LEASE_SECONDS", "1"),
    ],
)
def test_bad_task_settings_are_refused(name, value):
    message = problems(**{name: value})
    assert re.search(rf"^  {name}: ", message, re.MULTILINE), message


def test_admins_are_email_addresses():
    message = problems(ADMINS="ops@example.com,nobody")
    assert "  ADMINS: each must be an email address" in message


def test_tasks_settings_follow_the_environment():
    env = Env(
        _env_file=None,
        DJANGO_SECRET_KEY=STRONG_KEY,
        DATABASE_URL="sqlite:///db",
        ALLOWED_HOSTS="a.example",
        TASKS_MAX_ATTEMPTS="5",
        TASKS_LEASE_SECONDS="30",
        TASKS_RESULT_DAYS="14",
    )
    (backend,) = tasks_settings(env).values()
    assert backend["BACKEND"] == "django_ox.backend.OxBackend"
    assert backend["OPTIONS"]["MAX_ATTEMPTS"] == 5
    assert backend["OPTIONS"]["LOCK_TIMEOUT"] == 30
    (schedule,) = backend["OPTIONS"]["SCHEDULES"].values()
    assert schedule["kwargs"] == {"days": 14}
