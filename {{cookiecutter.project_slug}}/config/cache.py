"""The cache, from CACHE_URL: Redis or Valkey shared by every process, else a table in
the database, which every process shares too. Redis is reached through
config/cacheoutage.py's client, to which an unreachable server is a miss.

https://docs.djangoproject.com/en/6.1/topics/cache/
"""

import ssl
from typing import Literal
from urllib.parse import parse_qsl, urlsplit

from pydantic import AliasChoices, Field, SecretStr, ValidationInfo, field_validator

from config.variables import EnvPart

# Valkey speaks Redis' protocol; the client library knows only the redis schemes.
CLIENT_SCHEMES = {"redis": "redis", "rediss": "rediss", "valkey": "redis", "valkeys": "rediss"}
TLS_SCHEMES = ("rediss", "valkeys")
# A healthy cache answers within a millisecond or two. One that has not answered in
# 2 s is gone: the request goes on without it then, not at the router's 30 s timeout.
SOCKET_TIMEOUT = 2
# How TLS connections check the server's certificate (redis-py's own parameter names and
# values, as managed services document them): `none` for a self-signed chain (Heroku),
# a CA file to verify one (Memorystore's server CA), else the system's CAs.
CERT_REQS = {"none": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL, "required": ssl.CERT_REQUIRED}
BOOLEANS = {"true": True, "false": False}
TLS_PARAMETERS = ("ssl_cert_reqs", "ssl_ca_certs", "ssl_check_hostname")
# Without CACHE_URL: Django's database cache, in a table the config app's migration
# creates, so every `migrate` (the release step, compose, tests) makes it exist.
CACHE_TABLE = "django_cache"
# Django's database cache counts its rows on every write and culls a third above this;
# a count of a few thousand index entries takes about a millisecond.
DATABASE_CACHE_ENTRIES = 5000


class CacheEnv(EnvPart):
    CACHE_URL: SecretStr = Field(
        SecretStr(""),
        # Heroku, Render, Railway and others attach their Redis as REDIS_URL.
        validation_alias=AliasChoices("CACHE_URL", "REDIS_URL"),
        description="redis://[:password@]host:6379/0; rediss:// for TLS, optionally with "
        "?ssl_cert_reqs=none (a self-signed chain) or ?ssl_ca_certs=/path/ca.pem (verified "
        "by that CA); valkey:// alike. Empty: the database is the cache.",
    )
    CACHE_SSL_CERT_REQS: Literal["", "none", "optional", "required"] = Field(
        "",
        description="none: do not verify the TLS cache's certificate, for a URL the platform "
        "sets and rotates (Heroku's REDIS_URL, a self-signed chain). Empty: CACHE_URL's "
        "ssl_cert_reqs, else required.",
    )

    @field_validator("CACHE_URL")
    @classmethod
    def usable_cache_url(cls, value: SecretStr) -> SecretStr:
        if url := value.get_secret_value():
            check_cache_url(url)
        return value

    @field_validator("CACHE_SSL_CERT_REQS")
    @classmethod
    def cert_reqs_said_once(cls, value: str, info: ValidationInfo) -> str:
        if not value or "CACHE_URL" not in info.data:  # unset, or the URL is wrong already
            return value
        url = info.data["CACHE_URL"].get_secret_value()
        in_url = dict(parse_qsl(urlsplit(url).query)).get("ssl_cert_reqs", value)
        if in_url != value:
            raise ValueError("and CACHE_URL's ssl_cert_reqs are both set, to different values")
        if urlsplit(url).scheme not in TLS_SCHEMES:
            raise ValueError("is set, but the cache URL is not TLS (rediss://)")
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
    tls_options(url)


def tls_options(url: str) -> dict:
    """redis-py's TLS keyword arguments from CACHE_URL's query, typed and checked:
    redis-py would hand an unknown parameter to the connection as a string, and a typo
    would surface only as a failed connection."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    if unknown := sorted(set(query) - set(TLS_PARAMETERS)):
        raise ValueError(
            f"has a parameter other than {', '.join(TLS_PARAMETERS)}: {', '.join(unknown)}"
        )
    if query and parts.scheme not in TLS_SCHEMES:
        raise ValueError(f"has {', '.join(query)} but is not TLS: use rediss://")
    options: dict[str, object] = {}
    if "ssl_cert_reqs" in query:
        if query["ssl_cert_reqs"] not in CERT_REQS:
            raise ValueError(f"ssl_cert_reqs must be one of {', '.join(CERT_REQS)}")
        options["ssl_cert_reqs"] = CERT_REQS[query["ssl_cert_reqs"]]
    if "ssl_check_hostname" in query:
        if query["ssl_check_hostname"] not in BOOLEANS:
            raise ValueError("ssl_check_hostname must be true or false")
        options["ssl_check_hostname"] = BOOLEANS[query["ssl_check_hostname"]]
    if "ssl_ca_certs" in query:
        try:
            ssl.create_default_context(cafile=query["ssl_ca_certs"])
        except (OSError, ssl.SSLError):
            raise ValueError("ssl_ca_certs must name a readable file of PEM certificates") from None
        options["ssl_ca_certs"] = query["ssl_ca_certs"]
    return options


def cache_settings(url: str, ssl_cert_reqs: str = "") -> dict:
    """Django's CACHES: Redis when CACHE_URL is set, else the database."""
    if not url:
        return {
            "default": {
                "BACKEND": "django.core.cache.backends.db.DatabaseCache",
                "LOCATION": CACHE_TABLE,
                "OPTIONS": {"MAX_ENTRIES": DATABASE_CACHE_ENTRIES},
            }
        }
    parts = urlsplit(url)
    return {
        "default": {
            "BACKEND": "config.cacheoutage.DegradingRedisCache",
            # The query is passed as typed options, not left for redis-py to read as text.
            "LOCATION": parts._replace(scheme=CLIENT_SCHEMES[parts.scheme], query="").geturl(),
            "OPTIONS": {
                "socket_connect_timeout": SOCKET_TIMEOUT,
                "socket_timeout": SOCKET_TIMEOUT,
                **tls_options(url),
                **({"ssl_cert_reqs": CERT_REQS[ssl_cert_reqs]} if ssl_cert_reqs else {}),
            },
        }
    }


def session_engine(url: str) -> str:
    """Sessions are written to the database and, with Redis, read from it: a cache
    restart or eviction then costs a query, never a sign-out. Over the database cache,
    a cached read would be a query too, and every write two: sessions live in the
    database alone.
    https://docs.djangoproject.com/en/6.1/topics/http/sessions/#using-cached-sessions
    """
    if url:
        return "django.contrib.sessions.backends.cached_db"
    return "django.contrib.sessions.backends.db"
