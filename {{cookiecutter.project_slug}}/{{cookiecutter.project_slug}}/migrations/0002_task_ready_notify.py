"""A NOTIFY on channel `task_ready` when a task can start now: enqueued, requeued by the
reaper or put back by an old worker; not a retry waiting out its back-off. The worker
(worker.py) listens and starts it within milliseconds instead of at its next poll.

PostgreSQL folds identical notifications of one transaction into one, so a thousand
tasks enqueued together wake each worker once.
"""

from django.db import migrations

NOTIFY = """
CREATE FUNCTION task_ready_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('task_ready', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER task_ready_notify
    AFTER INSERT OR UPDATE OF status ON django_ox_oxtask
    FOR EACH ROW
    WHEN (NEW.status = 'READY' AND (NEW.run_after IS NULL OR NEW.run_after <= now()))
    EXECUTE FUNCTION task_ready_notify();
"""
SILENCE = """
DROP TRIGGER task_ready_notify ON django_ox_oxtask;
DROP FUNCTION task_ready_notify();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("{{ cookiecutter.project_slug }}", "0001_initial"),
        ("django_ox", "0008_waiting"),
    ]

    operations = [migrations.RunSQL(NOTIFY, SILENCE)]
