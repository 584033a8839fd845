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

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from config.cache import check_cache_url
from config.email import mailers

BASE_DIR = Path(__file__).resolve().parent.parent
DATABASE_SCHEMES = ("postgres", "postgresql", "pgsql", "sqlite")
# Where platforms publish the commit they deployed, for when GIT_REVISION is not set:
# Heroku's dyno metadata (BUILD replaces SLUG), Render, Railway, Heroku-style builds
# (SOURCE_VERSION), and Cloud Run's revision name (not a commit, but it names the release).
REVISION_VARIABLES = (
    "GIT_REVISION",
    "HEROKU_BUILD_COMMIT",
    "HEROKU_SLUG_COMMIT",
    "RENDER_GIT_COMMIT",
    "RAILWAY_GIT_COMMIT_SHA",
    "SOURCE_VERSION",
    "K_REVISION",
)
CommaSeparated = Annotated[list[str], NoDecode]


class Env(BaseSettings):
    """The process environment, validated. Field descriptions are user documentation."""

    model_config = SettingsConfigDict(
        env_file=BASE_DIR / ".env",
        extra="ignore",
        case_sensitive=True,
        hide_input_in_errors=True,
        # A variable set to nothing (`KEY=` in .env, `${KEY:-}` in compose) is not set.
        env_ignore_empty=True,
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
        "unknown",
        validation_alias=AliasChoices(*REVISION_VARIABLES),
        description="The release being run (commit), shown in /healthz, the boot log and "
        f"error reports. If unset: {', '.join(REVISION_VARIABLES[1:])}.",
    )

    # Database
    DATABASE_URL: SecretStr = Field(
        SecretStr(""),
        description="postgres://user:password@host:5432/name (percent-encode special "
        "characters). Required unless DEBUG; empty with DEBUG: PostgreSQL from a wheel, "
        "in .postgres/.",
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
        description="Milliseconds a query of a web request or a task may run before Postgres "
        "cancels it (0: no limit). Migrations and one-off commands have none.",
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

    # Media storage: user uploads, in an S3-compatible bucket (config/storage.py)
    AWS_STORAGE_BUCKET_NAME: str = Field(
        "",
        description="The bucket for uploaded files. Empty: the local media/ directory, "
        "for development only.",
    )
    AWS_S3_ENDPOINT_URL: str = Field(
        "",
        validation_alias=AliasChoices("AWS_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"),
        description="https://host[:port] of an S3-compatible service (MinIO, R2, Tigris, "
        "...). Empty: Amazon S3.",
    )
    AWS_S3_REGION_NAME: str = Field(
        "",
        validation_alias=AliasChoices("AWS_S3_REGION_NAME", "AWS_REGION", "AWS_DEFAULT_REGION"),
        description="The bucket's region, if the service needs one.",
    )
    AWS_ACCESS_KEY_ID: str = Field(
        "", description="Access key for the bucket. Empty: the platform's role or profile."
    )
    AWS_SECRET_ACCESS_KEY: SecretStr = Field(
        SecretStr(""), description="Secret key that goes with AWS_ACCESS_KEY_ID."
    )
    AWS_QUERYSTRING_EXPIRE: int = Field(
        3600, ge=1, description="Seconds a signed link to an uploaded file stays valid."
    )

    # Error reporting (config/errors.py)
    SENTRY_DSN: SecretStr = Field(
        SecretStr(""),
        description="Send unhandled errors to Sentry (or a compatible service). Empty: off.",
    )
    SENTRY_ENVIRONMENT: str = Field(
        "production", description="The environment name errors are filed under."
    )

    # Security
    SECURE_SSL_REDIRECT: bool = Field(True, description="Redirect plain HTTP to HTTPS.")
    SECURE_HSTS_SECONDS: int = Field(
        31_536_000, ge=0, description="How long browsers must use HTTPS only (HSTS)."
    )
    SECURE_HSTS_INCLUDE_SUBDOMAINS: bool = Field(
        True,
        description="HSTS covers every subdomain too; turn off only while some are not HTTPS.",
    )
    SECURE_HSTS_PRELOAD: bool = Field(
        False, description="Ask to be put on browsers' HSTS preload lists."
    )
    FORWARDED_ALLOW_IPS: str = Field(
        "127.0.0.1,::1",
        description="Proxy addresses or networks trusted for X-Forwarded-Proto and -For ('*' "
        "when only the platform's router can reach the app).",
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
        4,
        ge=1,
        description="Threads per process serving requests (WSGI interface only); at most "
        "DATABASE_POOL_MAX_SIZE.",
    )
    WEB_TIMEOUT: int = Field(
        30,
        ge=1,
        description="Seconds before a worker whose main loop stops reporting is restarted "
        "(not a limit per request: see README, Timeouts).",
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
    def usable_database_url(cls, value: SecretStr, info: ValidationInfo) -> SecretStr:
        if not value.get_secret_value():
            if info.data.get("DEBUG") is False:
                raise ValueError("is required when DEBUG is off")
            return value
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

    @field_validator("DEFAULT_FROM_EMAIL", "SERVER_EMAIL", "ADMINS")
    @classmethod
    def email_addresses(cls, value: str | list[str]) -> str | list[str]:
        addresses = [value] if isinstance(value, str) else value
        if any(address and "@" not in parseaddr(address)[1] for address in addresses):
            if isinstance(value, str):
                raise ValueError("must be an email address, as in Name <noreply@example.com>")
            raise ValueError("each must be an email address")
        return value

    @field_validator("AWS_S3_ENDPOINT_URL")
    @classmethod
    def usable_endpoint_url(cls, value: str) -> str:
        if value:
            url = urlsplit(value)
            try:
                usable = url.scheme in ("https", "http") and bool(url.hostname) and url.port != 0
            except ValueError:  # a port that is not a number from 1 to 65535
                usable = False
            if not usable:
                raise ValueError("must be a URL like https://host[:port]")
        return value

    @field_validator("SENTRY_DSN")
    @classmethod
    def usable_sentry_dsn(cls, value: SecretStr) -> SecretStr:
        if value.get_secret_value():
            from sentry_sdk.utils import BadDsn, Dsn

            try:
                Dsn(value.get_secret_value())
            except (BadDsn, ValueError):
                raise ValueError(
                    "must look like https://key@host/project-id (Sentry's client keys page)"
                ) from None
        return value

    @field_validator("AWS_S3_ENDPOINT_URL", "AWS_ACCESS_KEY_ID")
    @classmethod
    def storage_needs_a_bucket(cls, value: str, info: ValidationInfo) -> str:
        if value and info.data.get("AWS_STORAGE_BUCKET_NAME") == "":
            raise ValueError("is set, but AWS_STORAGE_BUCKET_NAME is not")
        return value

    @field_validator("AWS_SECRET_ACCESS_KEY")
    @classmethod
    def keys_come_in_pairs(cls, value: SecretStr, info: ValidationInfo) -> SecretStr:
        key = info.data.get("AWS_ACCESS_KEY_ID")
        if key is not None and bool(key) != bool(value.get_secret_value()):
            raise ValueError("and AWS_ACCESS_KEY_ID must be set together, or neither")
        return value

    @model_validator(mode="after")
    def threads_fit_the_pool(self) -> "Env":
        """A thread beyond the pool's size waits for a connection, up to the pool's
        checkout timeout, while requests queue behind it."""
        postgres = not self.DATABASE_URL.get_secret_value().startswith("sqlite")
        if postgres and self.WEB_THREADS > self.DATABASE_POOL_MAX_SIZE:
            raise ValueError(
                f"WEB_THREADS ({self.WEB_THREADS}) is above DATABASE_POOL_MAX_SIZE "
                f"({self.DATABASE_POOL_MAX_SIZE}): threads would wait for a database "
                "connection; raise the pool or lower the threads"
            )
        return self


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
