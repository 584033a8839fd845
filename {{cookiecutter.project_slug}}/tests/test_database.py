"""DATABASE_URL reaches Postgres whole, and one-off processes run without a time limit.

They run on the Postgres server that bin/check's DATABASE_URL names, or without one on
the development server (config/devdatabase.py), which the tests' settings started.
"""

import json
import secrets
import select

import psycopg
import pytest
from django.db import connection

from config import database
from config.database import check_connection
from config.devdatabase import development_database_url
from config.settings import env
from tests.conftest import run_python

SERVER = env.DATABASE_URL.get_secret_value() or development_database_url()

SESSION = """
import json
import sys
import django
django.setup()
from django.db import connection
schema = sys.argv[1]
with connection.cursor() as cursor:
    cursor.execute("SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()")
    (application_name,) = cursor.fetchone()
    cursor.execute("SHOW statement_timeout")
    (statement_timeout,) = cursor.fetchone()
    cursor.execute(f"CREATE SCHEMA {schema}")
    try:
        cursor.execute("CREATE TABLE url_marker (id int)")  # unqualified: search_path decides
        cursor.execute("SELECT table_schema FROM information_schema.tables"
                       " WHERE table_name = 'url_marker'")
        (table_schema,) = cursor.fetchone()
    finally:
        cursor.execute(f"DROP SCHEMA {schema} CASCADE")
print("session: " + json.dumps([application_name, table_schema, statement_timeout]))
"""


def with_query(url: str, query: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{query}"


def test_url_parameters_reach_the_postgres_session(production_env):
    schema = f"tenant_{secrets.token_hex(4)}"
    url = with_query(
        SERVER,
        f"application_name=shop-web&target_session_attrs=read-write"
        f"&options=-c%20search_path%3D{schema},public",
    )
    result = run_python(SESSION, production_env | {"DATABASE_URL": url}, schema)
    assert result.returncode == 0, result.stderr
    (line,) = (line for line in result.stdout.splitlines() if line.startswith("session: "))
    application_name, table_schema, statement_timeout = json.loads(line.removeprefix("session: "))
    assert (application_name, table_schema) == ("shop-web", schema)
    # A one-off process (this one, a migration, a manage.py command) has no time limit.
    assert statement_timeout == "0"


# What Django hands psycopg, without the pool, which would hide the reason behind its
# own timeout.
CONNECT = """
import django
import psycopg
django.setup()
from django.db import connection
psycopg.connect(**connection.get_connection_params()).close()
"""


@pytest.mark.skipif(
    "%2F" in SERVER.split("@")[-1].split("/")[0],
    reason="the development server is on a Unix socket, where libpq never uses TLS",
)
def test_sslmode_and_root_certificate_from_the_url_are_enforced(production_env):
    """Verifying the server against a root certificate that does not exist cannot
    succeed: psycopg fails for want of TLS, or of the certificate."""
    url = with_query(SERVER, "sslmode=verify-full&sslrootcert=/nonexistent/root.crt")
    result = run_python(CONNECT, production_env | {"DATABASE_URL": url})
    assert result.returncode != 0
    assert "SSL" in result.stderr or "/nonexistent/root.crt" in result.stderr, result.stderr


SERVING = """
import django
django.setup()
from django.db import connection
from config.database import limit_statement_time
limit_statement_time()  # as the web server and the worker do
with connection.cursor() as cursor:
    cursor.execute("SHOW statement_timeout")
    print("limit:", cursor.fetchone()[0])
    cursor.execute("SHOW server_version")  # a second statement: no prepared statements
"""


@pytest.mark.parametrize(("flag", "limit"), [("", "1234ms"), ("pgbouncer=true", "0")])
def test_behind_a_transaction_pooler_a_serving_process_sets_nothing_on_the_session(
    production_env, flag, limit
):
    """A SET would stay on the pooler's server connection for the next client; the
    role carries the limit there instead (README: Behind PgBouncer)."""
    url = with_query(SERVER, flag) if flag else SERVER
    environ = production_env | {"DATABASE_URL": url, "DATABASE_STATEMENT_TIMEOUT": "1234"}
    result = run_python(SERVING, environ)
    assert result.returncode == 0, result.stderr
    assert f"limit: {limit}" in result.stdout


@pytest.mark.django_db
def test_the_pools_check_queries_a_connection_only_when_it_may_have_broken(monkeypatch):
    """What keeps a database restart from reaching a request: the pool lends no
    connection that fails its check, and tries the next one. A connection lent a moment
    ago is checked without a round trip, unless the server has closed it."""
    params = connection.get_connection_params()
    with psycopg.connect(**params, autocommit=True) as other, psycopg.connect(**params) as lent:

        def last_query_ended():
            return other.execute(
                "SELECT state_change FROM pg_stat_activity WHERE pid = %s",
                [lent.info.backend_pid],
            ).fetchone()[0]

        check_connection(lent)  # never lent before: one empty query
        queried = last_query_ended()
        check_connection(lent)  # lent again at once
        assert last_query_ended() == queried
        monkeypatch.setattr(database, "RECHECK_AFTER", 0.0)  # as if idle since
        check_connection(lent)
        assert last_query_ended() > queried
        assert lent.info.transaction_status == psycopg.pq.TransactionStatus.IDLE

        monkeypatch.undo()
        other.execute("SELECT pg_terminate_backend(%s)", [lent.info.backend_pid])
        readable, _, _ = select.select([lent.fileno()], [], [], 10)
        assert readable, "the server did not close the terminated session within 10 s"
        with pytest.raises(psycopg.OperationalError, match="failed its check: server closed"):
            check_connection(lent)  # lent a moment ago, but the server has closed it
