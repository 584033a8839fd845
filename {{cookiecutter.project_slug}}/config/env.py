"""Every setting the environment can change: its name, type, default and meaning.

`Env` is the one schema, composed of one part per attached resource, each defined in
that resource's module beside the settings it produces (config/database.py, ...); the
core variables are defined here. Django's settings, gunicorn.conf.py, the README's table
and .env.example (config/envdocs.py) all come from it. How a variable is read (.env,
NAME_FILE, aliases): config/variables.py.
A bad environment stops the process before it serves, with one message that names
every missing or invalid variable and never prints a value.
"""

import os
import secrets
import sys

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from config.cache import CacheEnv
from config.database import DatabaseEnv
from config.email import EmailEnv
from config.errors import ErrorsEnv
from config.logs import LoggingEnv
from config.security import SecurityEnv
from config.server import ServerEnv
from config.storage import StorageEnv
from config.tasks import TasksEnv
from config.variables import BASE_DIR, CommaSeparated, EnvPart, FirstOf

__all__ = ["BASE_DIR", "Env", "describe_problems", "load"]

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


class CoreEnv(EnvPart):
    DJANGO_SECRET_KEY: SecretStr = Field(
        description="Signs sessions and tokens. At least 50 random characters; required.",
    )
    DJANGO_SECRET_KEY_FALLBACKS: SecretStr = Field(
        SecretStr(""),
        description="Comma-separated earlier keys, still accepted (never used to sign) "
        "while what they signed expires: see README, Rotating the secret key.",
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
        validation_alias=FirstOf(*REVISION_VARIABLES),
        description="The release being run (commit), shown in /healthz, the boot log and "
        f"error reports. If unset: {', '.join(REVISION_VARIABLES[1:])}.",
    )

    @field_validator("DJANGO_SECRET_KEY")
    @classmethod
    def strong_secret_key(cls, value: SecretStr) -> SecretStr:
        if problem := weakness(value.get_secret_value()):
            raise ValueError(problem)
        return value

    @field_validator("DJANGO_SECRET_KEY_FALLBACKS")
    @classmethod
    def strong_fallbacks(cls, value: SecretStr) -> SecretStr:
        for position, key in enumerate(secret_key_fallbacks(value), start=1):
            if problem := weakness(key):
                raise ValueError(f"key {position} {problem}")
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


def weakness(key: str) -> str:
    """What is wrong with a signing key, in words that do not repeat it; "" if nothing."""
    if key.startswith("django-insecure-"):
        return "is Django's insecure placeholder; generate a new key"
    if len(key) < 50 or len(set(key)) < 5:
        return "is too weak: use at least 50 random characters"
    return ""


def secret_key_fallbacks(value: SecretStr) -> list[str]:
    return [key.strip() for key in value.get_secret_value().split(",") if key.strip()]


# Pydantic lists the fields of the last base first: the parts are listed from the last
# section of the README's table to the first.
class Env(
    ServerEnv,
    LoggingEnv,
    SecurityEnv,
    ErrorsEnv,
    StorageEnv,
    TasksEnv,
    EmailEnv,
    CacheEnv,
    DatabaseEnv,
    CoreEnv,
):
    """The process environment, validated. Field descriptions are user documentation."""

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
