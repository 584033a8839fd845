"""Every setting the environment can change: its name, type, default and meaning.

This schema is the single source of truth. Django's settings, gunicorn.conf.py, the
README's table and .env.example are generated from it (config/envdocs.py).
A bad environment stops the process before it serves, with one message that names
every missing or invalid variable and never prints a value.
"""

import os
import secrets
import sys
from email.utils import parseaddr
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from config.cache import check_cache_url
from config.email import mailers

BASE_DIR = Path(__file__).resolve().parent.parent
DATABASE_SCHEMES = ("postgres", "postgresql", "pgsql", "sqlite")
CommaSeparated = Annotated[list[str], NoDecode]


class Env(BaseSettings):
    """The process environment, validated. Field descriptions are user documentation."""

    model_config = SettingsConfigDict(
        env_file=BASE_DIR / ".env",
        extra="ignore",
        case_sensitive=True,
        hide_input_in_errors=True,
    )

    # Core
    DJANGO_SECRET_KEY: SecretStr = Field(
        description="Signs sessions and tokens. At least 50 random characters; required.",
    )
    DEBUG: bool = Field(
        False, description="Development mode with detailed error pages. Never in production."
    )
    ALLOWED_HOSTS: CommaSeparated = Field(
        default_factory=list,
        description="Comma-separated host names this site answers to. Required unless DEBUG.",
    )
    CSRF_TRUSTED_ORIGINS: CommaSeparated = Field(
        default_factory=list,
        description="Comma-separated origins (https://example.com) trusted for unsafe requests.",
    )
    GIT_REVISION: str = Field(
        "unknown", description="The release being run, shown in /healthz and the boot log."
    )

    # Database
    DATABASE_URL: SecretStr = Field(
        description="postgres://user:password@host:5432/name (percent-encode special "
        "characters) or sqlite:///path. Required.",
    )
    DATABASE_POOL_MAX_SIZE: int = Field(
        4, ge=1, description="Postgres connections each server process may hold open."
    )
    DATABASE_CONNECT_TIMEOUT: int = Field(
        5, ge=1, description="Seconds to wait for a new Postgres connection."
    )
    DATABASE_STATEMENT_TIMEOUT: int = Field(
        20_000,
        ge=0,
        description="Milliseconds a query may run before Postgres cancels it (0: no limit).",
    )

    # Cache and sessions (config/cache.py)
    CACHE_URL: SecretStr = Field(
        SecretStr(""),
        description="redis://[:password@]host:6379/0 (rediss:// for TLS; valkey:// alike). "
        "Empty: each process caches in its own memory (development only).",
    )

    # Email (config/email.py)
    EMAIL_URL: SecretStr = Field(
        SecretStr(""),
        description="smtp://user:password@host:587 (STARTTLS), smtps://user:password@host:465 "
        "(TLS from the start), smtp://host:1025?starttls=false (plain). Empty or console://: "
        "printed to stdout (development only).",
    )
    DEFAULT_FROM_EMAIL: str = Field(
        {{ ("noreply@" ~ cookiecutter.domain_name) | python_string(8) | indent(8) }},
        description="Sender address of the site's emails (password resets), with an optional "
        "display name.",
    )
    SERVER_EMAIL: str = Field(
        "", description="Sender of error reports to the site's admins. Empty: DEFAULT_FROM_EMAIL."
    )
    ADMINS: CommaSeparated = Field(
        default_factory=list,
        description="Comma-separated email addresses of the site's admins, told of each new "
        "note. Empty: nobody.",
    )

    # Tasks (the worker process; config/tasks.py)
    TASKS_BACKEND: Literal["database", "immediate"] = Field(
        "database",
        description="database: queued in Postgres for the worker process; immediate: run "
        "inside the request that enqueues (tests only).",
    )
    TASKS_CONCURRENCY: int = Field(
        4, ge=1, description="Tasks each worker process runs at once, one thread each."
    )
    TASKS_POLL_INTERVAL: float = Field(
        1.0, gt=0, description="Seconds an idle worker waits before looking for new tasks."
    )
    TASKS_LEASE_SECONDS: int = Field(
        60, ge=3, description="Seconds after a worker dies before its running tasks run again."
    )
    TASKS_MAX_ATTEMPTS: int = Field(
        3, ge=1, description="Runs of a task that raises before it is marked failed."
    )
    TASKS_RETRY_DELAY: float = Field(
        10.0, gt=0, description="Seconds before a failed task's first retry; doubles each time."
    )
    TASKS_RESULT_DAYS: int = Field(
        7, ge=1, description="Days finished tasks are kept before the worker deletes them."
    )
    TASKS_HEARTBEAT_FILE: str = Field(
        # In the container, /tmp is a tmpfs of its own: the one writable, private place.
        "/tmp/worker-heartbeat",  # noqa: S108
        description="File the worker touches while its loop runs; the liveness probe reads it.",
    )

    # Security
    SECURE_SSL_REDIRECT: bool = Field(True, description="Redirect plain HTTP to HTTPS.")
    SECURE_HSTS_SECONDS: int = Field(
        31_536_000, ge=0, description="How long browsers must use HTTPS only (HSTS)."
    )
    SECURE_HSTS_PRELOAD: bool = Field(
        False, description="Ask to be put on browsers' HSTS preload lists."
    )
    FORWARDED_ALLOW_IPS: str = Field(
        "127.0.0.1,::1",
        description="Proxy addresses trusted for X-Forwarded-Proto ('*' when only the "
        "platform's router can reach the app).",
    )

    # Logging
    LOG_LEVEL: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        "INFO", description="The least severe level that is logged."
    )
    LOG_FORMAT: Literal["json", "console"] = Field(
        "json", description="json: one JSON object per line; console: for people."
    )

    # Server (read by gunicorn.conf.py)
    PORT: int = Field(8000, ge=1, le=65535, description="The port the web server binds.")
    WEB_CONCURRENCY: int = Field(2, ge=1, description="Server processes (gunicorn workers).")
    WEB_THREADS: int = Field(
        4, ge=1, description="Threads per process serving requests (WSGI interface only)."
    )
    WEB_TIMEOUT: int = Field(
        30, ge=1, description="Seconds a silent worker lives before it is restarted."
    )

    @field_validator("ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS", "ADMINS", mode="before")
    @classmethod
    def split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("DJANGO_SECRET_KEY")
    @classmethod
    def strong_secret_key(cls, value: SecretStr) -> SecretStr:
        key = value.get_secret_value()
        if key.startswith("django-insecure-"):
            raise ValueError("is Django's insecure placeholder; generate a new key")
        if len(key) < 50 or len(set(key)) < 5:
            raise ValueError("is too weak: use at least 50 random characters")
        return value

    @field_validator("ALLOWED_HOSTS")
    @classmethod
    def hosts_in_production(cls, value: list[str], info: ValidationInfo) -> list[str]:
        if value:
            return value
        if info.data.get("DEBUG") is True:
            return ["localhost", "127.0.0.1", "[::1]"]
        if "DEBUG" in info.data:
            raise ValueError("must name at least one host when DEBUG is off")
        return value

    @field_validator("CSRF_TRUSTED_ORIGINS")
    @classmethod
    def origins_have_scheme(cls, value: list[str]) -> list[str]:
        for origin in value:
            if not origin.startswith(("https://", "http://")):
                raise ValueError("each origin must start with https:// or http://")
        return value

    @field_validator("DATABASE_URL")
    @classmethod
    def usable_database_url(cls, value: SecretStr) -> SecretStr:
        url = urlsplit(value.get_secret_value())
        if url.scheme not in DATABASE_SCHEMES:
            raise ValueError(f"must start with one of {', '.join(DATABASE_SCHEMES)}://")
        if url.scheme != "sqlite" and not url.path.strip("/"):
            raise ValueError("must name a database after the host, as in /name")
        if url.scheme != "sqlite" and not url.hostname:
            raise ValueError("must name a host")
        return value

    @field_validator("CACHE_URL")
    @classmethod
    def usable_cache_url(cls, value: SecretStr) -> SecretStr:
        if url := value.get_secret_value():
            check_cache_url(url)
        return value

    @field_validator("EMAIL_URL")
    @classmethod
    def usable_email_url(cls, value: SecretStr) -> SecretStr:
        mailers(value.get_secret_value())
        return value

    @field_validator("DEFAULT_FROM_EMAIL", "SERVER_EMAIL")
    @classmethod
    def email_address(cls, value: str) -> str:
        if value and "@" not in parseaddr(value)[1]:
            raise ValueError("must be an email address, as in Name <noreply@example.com>")
        return value

    @field_validator("ADMINS")
    @classmethod
    def admin_addresses(cls, value: list[str]) -> list[str]:
        if any("@" not in parseaddr(address)[1] for address in value):
            raise ValueError("each must be an email address")
        return value


def describe_problems(error: ValidationError) -> str:
    """One message naming every bad variable; values are never echoed."""
    lines = []
    for problem in error.errors(include_input=False, include_url=False):
        name = ".".join(str(part) for part in problem["loc"]) or "environment"
        reason = "is required but not set" if problem["type"] == "missing" else problem["msg"]
        lines.append(f"  {name}: {reason.removeprefix('Value error, ')}")
    count = len(lines)
    header = f"{count} environment variable{'s are' if count > 1 else ' is'} missing or invalid:"
    return "\n".join([f"Configuration error: {header}", *lines])


def load() -> Env:
    """The validated environment, or exit with every problem listed."""
    try:
        return _build_step_env() if os.environ.get("DJANGO_BUILD") == "1" else Env()
    except ValidationError as error:
        sys.exit(describe_problems(error))


def _build_step_env() -> Env:
    """For collectstatic at image build, where no runtime configuration exists and no
    secret may: a throwaway key that dies with the process, and no database."""
    return Env(
        _env_file=None,
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DATABASE_URL="sqlite://:memory:",
        ALLOWED_HOSTS="build",
    )
