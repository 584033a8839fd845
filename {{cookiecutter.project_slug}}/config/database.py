"""The database connection, from DATABASE_URL, with settings chosen for resilience.

https://docs.djangoproject.com/en/6.1/ref/databases/#connection-pool
"""

import atexit
import select
import time
import weakref
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from django.conf import settings
from pydantic import Field, SecretStr, ValidationInfo, field_validator

from config.devdatabase import development_database_url
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
# Prisma's convention, which Supabase and Neon print in their pooler URLs: this
# DATABASE_URL reaches Postgres through a pooler in transaction mode (PgBouncer,
# Supavisor), which hands each transaction to any of its server connections.
POOLER_PARAMETER = "pgbouncer"
# A pooled connection lent again within this many seconds is not sent a query to check
# it: pgx's pool's default (pgxpool.Config.ShouldPing).
RECHECK_AFTER = 1.0
# libpq's answer to an empty query (psycopg.pq.ExecStatus.EMPTY_QUERY; psycopg is imported
# only when a process connects).
EMPTY_QUERY = 0


class DatabaseEnv(EnvPart):
    DATABASE_URL: SecretStr = Field(
        SecretStr(""),
        description="postgres://user:password@host:5432/name (percent-encode special "
        "characters; ?host=/socket/directory for a Unix socket; ?pgbouncer=true behind a "
        "transaction pooler: README, Behind PgBouncer). Required unless DEBUG; empty with "
        "DEBUG: PostgreSQL from a wheel, in .postgres/.",
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
        "cancels it (0: no limit). Migrations and one-off commands have none. Behind a "
        "transaction pooler, set on the database role instead (README, Behind PgBouncer).",
    )
    # Reads of a table queue behind a migration waiting for its lock: a few seconds
    # keeps them well inside the statement timeout, and is ample for the lock itself
    # once the table is free (an ALTER TABLE holds it for milliseconds).
    DATABASE_LOCK_TIMEOUT: int = Field(
        5_000,
        ge=1,
        description="Milliseconds a release's migration waits for a table's lock before it "
        "gives up and retries; reads of that table wait no longer behind it.",
    )
    DATABASE_MIGRATION_ATTEMPTS: int = Field(
        5,
        ge=1,
        description="Tries of the release's migrations while a table's lock stays taken, "
        "1 s, 2 s, 4 s... apart.",
    )

    @field_validator("DATABASE_URL")
    @classmethod
    def usable_database_url(cls, value: SecretStr, info: ValidationInfo) -> SecretStr:
        if not value.get_secret_value():
            if info.data.get("DEBUG") is False:
                raise ValueError("is required when DEBUG is off")
            return value
        url = urlsplit(value.get_secret_value())
        if url.scheme not in SCHEMES:
            raise ValueError(f"must start with one of {', '.join(SCHEMES)}://")
        if url.scheme != "sqlite" and not url.path.strip("/"):
            raise ValueError("must name a database after the host, as in /name")
        if url.scheme == "sqlite":
            return value
        # Cloud SQL's form: no host in the address, the socket's directory in ?host=.
        if not url.hostname and not dict(parse_qsl(url.query)).get("host"):
            raise ValueError("must name a host, or a socket directory as in ?host=/cloudsql/...")
        split_pooler_flag(value.get_secret_value())
        return value


def split_pooler_flag(url: str) -> tuple[str, bool]:
    """The URL without `?pgbouncer=`, and whether it said true. Raises ValueError
    for a value other than true or false."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    flags = [value.lower() for name, value in query if name == POOLER_PARAMETER]
    if not flags:
        return url, False
    if any(flag not in ("true", "false") for flag in flags):
        raise ValueError(f"?{POOLER_PARAMETER}= must be true or false")
    rest = urlencode([(name, value) for name, value in query if name != POOLER_PARAMETER])
    return parts._replace(query=rest).geturl(), flags[-1] == "true"


def behind_transaction_pooler(database: dict[str, Any]) -> bool:
    """Whether this DATABASES entry came from a URL with ?pgbouncer=true."""
    return database.get("DISABLE_SERVER_SIDE_CURSORS", False)


def database_settings(env: DatabaseEnv) -> dict[str, Any]:
    """Django's DATABASES["default"].

    Postgres connections come from a bounded pool per process: persistent like
    CONN_MAX_AGE, but a process never holds more than DATABASE_POOL_MAX_SIZE of them,
    however many threads or async tasks it runs (the ASGI interface's classic leak).

    Behind a transaction pooler (?pgbouncer=true) nothing may outlive a transaction,
    since the next one may run on another server connection:
    https://docs.djangoproject.com/en/6.1/ref/databases/#transaction-pooling-server-side-cursors
    """
    # Imported here: gunicorn's master validates the environment (config/env.py) but
    # never connects, and need not load the database drivers.
    import dj_database_url

    given = env.DATABASE_URL.get_secret_value() or development_database_url()
    url, pooled = split_pooler_flag(given)
    database: dict[str, Any] = {**dj_database_url.parse(url)}
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
            "check": check_connection,
        },
    }
    if pooled:
        # A cursor (.iterator()) and a prepared statement live in one server session.
        # The worker reads this setting too, and polls instead of LISTEN/NOTIFY.
        database["DISABLE_SERVER_SIDE_CURSORS"] = True
        database["OPTIONS"] |= {"prepare_threshold": None, "server_side_binding": False}
    return database


# When each pooled connection was last lent, forgotten with the connection.
_lent_at: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()


def check_connection(connection: Any) -> None:
    """The pool's check before it lends a connection, as pgx's pool (Go) checks: one
    lent again within RECHECK_AFTER, with nothing from the server waiting on its socket,
    is lent as it is; any other gets an empty query, the round trip psycopg_pool's own
    check makes, sent straight through libpq. A server that restarts or ends a session
    says so and closes the socket, which leaves it readable.

    A round trip at every checkout cost the page 5 % of its CPU-seconds, waiting for
    Postgres (docs/performance.md in the template). No span: nothing here goes through
    the cursor the instrumentation wraps."""
    now = time.monotonic()
    lent_before = _lent_at.get(connection)
    _lent_at[connection] = now
    pgconn = connection.pgconn
    if lent_before is not None and now - lent_before < RECHECK_AFTER:
        # poll(), not select(), which refuses descriptors above 1023.
        waiting = select.poll()
        waiting.register(pgconn.socket, select.POLLIN)
        if not waiting.poll(0):
            return
    result = pgconn.exec_(b"")
    if result.status != EMPTY_QUERY:
        from psycopg import OperationalError

        reason = result.error_message.decode(errors="replace").strip()
        raise OperationalError(f"the connection failed its check: {reason}")


_limited: weakref.WeakSet[Any] = weakref.WeakSet()


def limit_statement_time() -> None:
    """In a serving process, a stuck query fails with an error instead of holding a
    worker. Called by the server's entry points only, so migrations and one-off
    commands run without the limit (a CREATE INDEX on a real table takes minutes).

    The limit is set on each new connection, not as a start-up parameter, which
    PgBouncer and several managed poolers refuse. Behind a transaction pooler it is not
    set at all: the setting would stay on a server connection that the pooler then
    hands to other clients (a migration, say) while this one's next transaction runs
    without it. There the database role or the pooler enforces it (README: Behind
    PgBouncer).
    """
    from django.db.backends.signals import connection_created

    connection_created.connect(_set_statement_timeout, dispatch_uid="statement_timeout")


def _set_statement_timeout(sender, connection, **kwargs) -> None:
    timeout = settings.DATABASE_STATEMENT_TIMEOUT
    raw = connection.connection
    if connection.vendor != "postgresql" or not timeout or raw in _limited:
        return  # pooled connections come back already limited
    if behind_transaction_pooler(connection.settings_dict):
        return
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
            connection.close_pool()  # type: ignore[attr-defined]  # Postgres only
