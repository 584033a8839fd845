"""The database cache's table, made by every `migrate` (the release step included) so
the cache works whenever CACHE_URL is unset, including after a move away from Redis."""

from django.core.management import call_command
from django.db import migrations

from config.cache import CACHE_TABLE


def create_cache_table(apps, schema_editor):
    # Django's own command, named the table: the columns and index its backend expects.
    call_command(
        "createcachetable", CACHE_TABLE, database=schema_editor.connection.alias, verbosity=0
    )


def drop_cache_table(apps, schema_editor):
    schema_editor.execute(f"DROP TABLE IF EXISTS {schema_editor.quote_name(CACHE_TABLE)}")


class Migration(migrations.Migration):
    dependencies = []
    operations = [migrations.RunPython(create_cache_table, drop_cache_table)]
