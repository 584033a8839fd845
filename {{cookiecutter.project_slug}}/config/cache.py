"""The cache, from CACHE_URL: Redis or Valkey shared by every process, else local memory.

https://docs.djangoproject.com/en/6.1/topics/cache/#redis
"""

from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator

from config.variables import EnvPart

# Valkey speaks Redis' protocol; the client library knows only the redis schemes.
CLIENT_SCHEMES = {"redis": "redis", "rediss": "rediss", "valkey": "redis", "valkeys": "rediss"}
# A healthy cache answers within a millisecond or two. One that has not answered in
# 2 s is gone: the request fails then, not at the platform router's 30 s timeout.
SOCKET_TIMEOUT = 2


class CacheEnv(EnvPart):
    CACHE_URL: SecretStr = Field(
        SecretStr(""),
        description="redis://[:password@]host:6379/0 (rediss:// for TLS; valkey:// alike). "
        "Empty: each process caches in its own memory (development only).",
    )

    @field_validator("CACHE_URL")
    @classmethod
    def usable_cache_url(cls, value: SecretStr) -> SecretStr:
        if url := value.get_secret_value():
            check_cache_url(url)
        return value


def check_cache_url(url: str) -> None:
    """Raise ValueError saying what is wrong with a non-empty CACHE_URL, in words that
    never repeat it: the URL may hold a password."""
    parts = urlsplit(url)
    if parts.scheme not in CLIENT_SCHEMES:
        raise ValueError(f"must start with one of {', '.join(CLIENT_SCHEMES)}://")
    if not parts.hostname:
        raise ValueError("must name a host")
    try:
        parts.port  # noqa: B018 (parsing the port is the check)
    except ValueError:
        raise ValueError("has a port that is not a number from 0 to 65535") from None
    database = parts.path.strip("/")
    if database and not database.isdigit():
        raise ValueError("may end only in a database number, as in /0")


def cache_settings(url: str) -> dict:
    """Django's CACHES: Redis when CACHE_URL is set, else this process's own memory (for
    development: every process would then see a different cache)."""
    if not url:
        return {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    parts = urlsplit(url)
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": parts._replace(scheme=CLIENT_SCHEMES[parts.scheme]).geturl(),
            "OPTIONS": {
                "socket_connect_timeout": SOCKET_TIMEOUT,
                "socket_timeout": SOCKET_TIMEOUT,
            },
        }
    }


def session_engine(url: str) -> str:
    """Sessions are written to the database and, with a shared cache, read from it:
    a cache restart or eviction then costs a query, never a sign-out. A process-local
    cache would serve one process's stale copy to another, so without CACHE_URL
    sessions live in the database alone.
    https://docs.djangoproject.com/en/6.1/topics/http/sessions/#using-cached-sessions
    """
    if url:
        return "django.contrib.sessions.backends.cached_db"
    return "django.contrib.sessions.backends.db"
