"""Behind Debian's PgBouncer in transaction mode, with `?pgbouncer=true` in DATABASE_URL:
the site serves, no session state leaks from one client to another, and the statement
limit is enforced as the baked README says (on a web-only role)."""

import re
import time
import uuid
from collections import Counter

import pytest

from backing import pgbouncer
from bakery import POSTGRES_URL, psql, with_test_views
from faults import Csrf, Load, read_notes, saved_notes, write_note
from server import serve

pytestmark = pytest.mark.boot

# The web role's limit in this test (the README's example says 20s); a one-off command
# runs queries longer than this through the same pooler.
ROLE_LIMIT_SECONDS = 1


def readme_role_sql(project, web_role: str, owner: str) -> str:
    """The SQL of the baked README's PgBouncer section, for this test's role names."""
    readme = (project.path / "README.md").read_text()
    section = readme.split("## Behind PgBouncer", 1)[1].split("\n## ", 1)[0]
    (sql,) = re.findall(r"```sql\n(.*?)```", section, re.S)
    sql = sql.replace("demo_shop_web", web_role).replace("IN ROLE demo_shop", f"IN ROLE {owner}")
    return sql.replace("'20s'", f"'{ROLE_LIMIT_SECONDS}s'")


def pooled(project, environ: dict[str, str], *args: str):
    return project.run(*args, env=environ, check=False, timeout=60)


@pytest.mark.parametrize("project", ["asgi"], indirect=True)
def test_the_site_serves_behind_pgbouncer_in_transaction_mode_without_leaking_limits(
    project, migrated, database, tmp_path
):
    app = with_test_views(project, tmp_path / "copy")
    web_role = f"tfd_web_{uuid.uuid4().hex[:8]}"
    owner = POSTGRES_URL.split("://", 1)[1].split("@", 1)[0].split(":", 1)[0]
    psql(readme_role_sql(project, web_role, owner))
    try:
        with pgbouncer([web_role, owner]) as pooler:
            web = migrated | {
                "DATABASE_URL": pooler.url(web_role, database),
                # Behind the pooler the app sets no limit of its own: a SET would stay
                # on a server connection that other clients then get.
                "DATABASE_STATEMENT_TIMEOUT": "500",
            }
            prefix = f"pooled-{uuid.uuid4().hex[:8]}"
            with serve(app, web) as server:
                server.wait_until_serving()
                port = server.port
                csrf = Csrf.fetch(port)
                plan = {
                    "write": (2, lambda: write_note(port, csrf, prefix)),
                    "read": (3, lambda: read_notes(port)),
                }
                with Load(plan, max_requests=300, max_seconds=60) as load:
                    load.wait(timeout=70)
                started = time.monotonic()
                slow = server.request(f"/test-slow-query/?seconds={ROLE_LIMIT_SECONDS + 2}")
                slow_seconds = time.monotonic() - started
                assert server.request("/").status == 200
            statuses = Counter((o.action, o.status) for o in load.outcomes)
            assert len(load.outcomes) == 300, load.summary()
            assert set(statuses) == {("write", 302), ("read", 200)}, load.summary()
            acknowledged = {o.note for o in load.outcomes if o.action == "write"}
            assert saved_notes(database, prefix) == acknowledged
            # The role's limit cut the slow query: the README's instructions hold.
            assert slow.status == 500 and slow_seconds < ROLE_LIMIT_SECONDS + 1.5, slow_seconds
            assert server.count("canceling statement due to statement timeout") >= 1

            # The web role's server connections carry the role's limit, not the app's.
            shown = pooled(
                project,
                {"PGCONNECT_TIMEOUT": "5"},
                "psql",
                pooler.url(web_role, database).split("?")[0],
                "-XAtc",
                "SHOW statement_timeout",
            )
            assert shown.stdout.strip() == f"{ROLE_LIMIT_SECONDS}s", shown.stderr

            # A one-off command through the same pooler runs past the web's limit. Its
            # URL is RDS's form, verifying the pooler's certificate over TLS.
            verified = f"sslmode=verify-full&sslrootcert={pooler.certificate}"
            one_off = migrated | {"DATABASE_URL": f"{pooler.url(owner, database)}&{verified}"}
            seconds = ROLE_LIMIT_SECONDS + 0.5
            result = pooled(
                project,
                one_off,
                "python",
                "manage.py",
                "shell",
                "-c",
                "from django.db import connection\n"
                "with connection.cursor() as c:\n"
                f"    c.execute('SELECT pg_sleep({seconds})')\n"
                "    c.execute('SHOW statement_timeout')\n"
                "    print('one-off limit:', c.fetchone()[0])\n"
                "print('tls:', connection.connection.pgconn.ssl_in_use)",
            )
            assert result.returncode == 0, result.stderr[-3000:]
            assert "one-off limit: 0" in result.stdout, result.stdout
            assert "tls: True" in result.stdout, result.stdout

            # The release needs a session of its own, and says where to get one.
            release_env = project.release_env(database) | {"DATABASE_URL": one_off["DATABASE_URL"]}
            release = pooled(project, release_env, "python", "manage.py", "release")
            assert release.returncode != 0
            assert "?pgbouncer=true" in release.stderr and "direct" in release.stderr
    finally:
        psql(f"DROP ROLE IF EXISTS {web_role}")
    print(
        f"\n[{project.interface}] through pgbouncer: {load.summary()}; "
        f"the web role's slow query was cut after {slow_seconds:.2f} s"
    )
