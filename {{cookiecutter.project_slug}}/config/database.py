"""The database connection, from DATABASE_URL, with settings chosen for resilience.

https://docs.djangoproject.com/en/6.1/ref/databases/#connection-pool
"""

import atexit
import weakref
from urllib.parse import urlsplit

from django.conf import settings
from pydantic import Field, SecretStr, field_validator

from config.variables import EnvPart

SCHEMES = ("postgres", "postgresql", "pgsql", "sqlite")

# Wait this long for a free pooled connection, then fail the request rather than
# queue it past a platform router's 30 s timeout.
POOL_CHECKOUT_TIMEOUT = 10
# The pool retries a lost connection with exponential back-off (1, 2, 4, 8, ... s), so
# after a 30 s outage its next attempt could come half a minute after Postgres is back.
# Giving up an attempt after this long frees its slot for the next request to try
# afresh: the app reconnects within seconds of the database's return, however long
# the database was away.
POOL_RECONNECT_TIMEOUT = 5


class DatabaseEnv(EnvPart):
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
        description="Milliseconds a query of a web request or a task may run before Postgres "
        "cancels it (0: no limit). Migrations and one-off commands have none.",
    )

    @field_validator("DATABASE_URL")
    @classmethod
    def usable_database_url(cls, value: SecretStr) -> SecretStr:
        url = urlsplit(value.get_secret_value())
        if url.scheme not in SCHEMES:
            raise ValueError(f"must start with one of {', '.join(SCHEMES)}://")
        if url.scheme != "sqlite" and not url.path.strip("/"):
            raise ValueError("must name a database after the host, as in /name")
        if url.scheme != "sqlite" and not url.hostname:
            raise ValueError("must name a host")
        return value


def database_settings(env: DatabaseEnv) -> dict:
    """Django's DATABASES["default"].

    Postgres connections come from a bounded pool per process: persistent like
    CONN_MAX_AGE, but a process never holds more than DATABASE_POOL_MAX_SIZE of them,
    however many threads or async tasks it runs (the ASGI interface's classic leak).
    """
    # Imported here: gunicorn's master validates the environment (config/env.py) but
    # never connects, and need not load the database drivers.
    import dj_database_url
    from psycopg_pool import ConnectionPool

    database = dj_database_url.parse(env.DATABASE_URL.get_secret_value())
    if database["ENGINE"] != "django.db.backends.postgresql":
        return database
    database["OPTIONS"] = {
        "connect_timeout": env.DATABASE_CONNECT_TIMEOUT,
        # The URL's own parameters (sslmode, sslrootcert, application_name,
        # target_session_attrs, options, ...) reach psycopg and win over the defaults.
        **database.get("OPTIONS", {}),
        "pool": {
            "min_size": 1,
            "max_size": env.DATABASE_POOL_MAX_SIZE,
            "timeout": POOL_CHECKOUT_TIMEOUT,
            "reconnect_timeout": POOL_RECONNECT_TIMEOUT,
            # A connection broken by a database restart is replaced, not handed out.
            "check": ConnectionPool.check_connection,
        },
    }
    return database


_limited = weakref.WeakSet()


def limit_statement_time() -> None:
    """In a serving process, a stuck query fails with an error instead of holding a
    worker. Called by the server's entry points only, so migrations and one-off
    commands run without the limit (a CREATE INDEX on a real table takes minutes).

    The limit is set with SET on each new connection, not as a start-up parameter,
    which PgBouncer in transaction mode and several managed poolers refuse.
    """
    from django.db.backends.signals import connection_created

    connection_created.connect(_set_statement_timeout, dispatch_uid="statement_timeout")


def _set_statement_timeout(sender, connection, **kwargs) -> None:
    timeout = settings.DATABASE_STATEMENT_TIMEOUT
    raw = connection.connection
    if connection.vendor != "postgresql" or not timeout or raw in _limited:
        return  # pooled connections come back already limited
    with raw.cursor() as cursor:
        cursor.execute("SELECT set_config('statement_timeout', %s, false)", [f"{timeout}ms"])
    _limited.add(raw)


@atexit.register
def close_pools() -> None:
    """Left to the interpreter's shutdown, each pool thread takes 5 s to stop, and a
    worker told to exit would overrun the platform's kill deadline."""
    if not settings.configured:  # the settings never loaded: no pool exists
        return
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        if getattr(connection, "pool", None) is not None:
            connection.close_pool()
