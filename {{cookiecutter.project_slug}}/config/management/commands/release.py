"""`manage.py release`: the Procfile's release step, run once per deploy, before the new
code serves (README: The release).

1. Django's deploy checks at ERROR level, against this environment: a production that
   would print password-reset links to the log, keep uploads on one disk or run on
   SQLite stops here, before anything changes. In development (DEBUG on, as bin/dev
   runs it) the ordinary checks: the deploy checks would refuse the console mailer.
2. The migrations, one release at a time (a Postgres advisory lock), each waiting at
   most DATABASE_LOCK_TIMEOUT for a table's lock so that the reads queued behind it
   wait no longer; retried with back-off, then a clear failure. The database cache's
   table is one of them (config/migrations/).
"""

import logging
import time
from contextlib import contextmanager, suppress

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, DatabaseError, OperationalError, connections
from psycopg.errors import LockNotAvailable

from config.database import behind_transaction_pooler

logger = logging.getLogger("config.release")

# Advisory locks are per database, so any number every release agrees on will do:
# "release" in ASCII.
RELEASE_LOCK = int.from_bytes(b"release")
# Between attempts the transaction that holds the table gets time to finish: 1 s, then
# doubling, at most 30 s (DATABASE_MIGRATION_ATTEMPTS bounds the total).
FIRST_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 30.0


class Command(BaseCommand):
    help = "Run the deploy checks, then migrate (one release at a time)."

    def handle(self, *args, **options):
        # Raises SystemCheckError with every error's message: nothing is migrated.
        call_command("check", deploy=not settings.DEBUG, fail_level="ERROR")
        connection = connections[DEFAULT_DB_ALIAS]
        if connection.vendor != "postgresql":
            call_command("migrate", interactive=False)
            return
        if behind_transaction_pooler(connection.settings_dict):
            raise CommandError(
                "DATABASE_URL has ?pgbouncer=true: the release holds a lock and a lock "
                "timeout for its whole session, which a transaction pooler does not keep. "
                "Run it with the database's direct URL instead (README: PgBouncer), as in "
                "DATABASE_URL=$DIRECT_URL python manage.py release"
            )
        with one_release_at_a_time(connection):
            migrate_under_lock_timeout(connection)


@contextmanager
def one_release_at_a_time(connection):
    """Hold the release lock: a second release (another platform hook, a retried Job)
    waits here, then finds nothing left to migrate."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [RELEASE_LOCK])
        if not cursor.fetchone()[0]:
            logger.warning("another release is migrating this database; waiting for it")
            cursor.execute("SELECT pg_advisory_lock(%s)", [RELEASE_LOCK])
    yield
    # After a failure the lock goes with the session when the process exits.
    with suppress(DatabaseError), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s)", [RELEASE_LOCK])


def migrate_under_lock_timeout(connection) -> None:
    """An ALTER TABLE queued behind a long read makes every later read of that table
    queue behind it. With a lock timeout it gives up instead, the reads go on, and a
    later attempt (after the read) succeeds. Each migration is its own transaction, so
    the ones applied before a timeout stay applied and are not run again."""
    timeout = settings.DATABASE_LOCK_TIMEOUT
    attempts = settings.DATABASE_MIGRATION_ATTEMPTS
    for attempt in range(1, attempts + 1):
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('lock_timeout', %s, false)", [f"{timeout}ms"])
        try:
            call_command("migrate", interactive=False)
            return
        except OperationalError as error:
            if not isinstance(error.__cause__, LockNotAvailable):
                raise
            if attempt == attempts:
                raise CommandError(
                    f"Gave up after {attempts} attempts: each waited "
                    f"DATABASE_LOCK_TIMEOUT ({timeout} ms) for a table that another "
                    "transaction holds (see pg_stat_activity). Migrations applied before "
                    "stay applied; release again once that transaction ends."
                ) from None
            delay = min(FIRST_BACKOFF_SECONDS * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS)
            logger.warning(
                "migration attempt %d of %d waited %d ms for a table lock; retrying in %.0f s",
                attempt,
                attempts,
                timeout,
                delay,
            )
            time.sleep(delay)
