"""The worker process type: the Procfile's `worker` runs what the web enqueues, shares the
queue safely, stops gracefully, loses nothing when killed or cut off from Postgres, and
refuses a bad configuration.

Each test starts the real worker from the Procfile line against its own fresh Postgres
database, drives it with tasks enqueued through Django's tasks API (or an HTTP request),
bounds every wait in time and prints what it counted.
"""

import json
import signal
import time
import uuid
from contextlib import ExitStack

import pytest

from bakery import SLUG, drop_database, new_database, with_test_views
from faults import Csrf, DatabaseProxy, query, send, write_note
from server import serve

pytestmark = pytest.mark.boot

# Tasks only the tests need, added to a copy of the project as with_test_views() adds
# views. Each run of `record` leaves a note named after it, so a count of notes is a
# count of runs, made by the database rather than by the worker's own bookkeeping.
TEST_TASKS = f"""
import time

from django.tasks import task

from {SLUG}.models import Note


@task
def record(marker: str, seconds: float = 0) -> str:
    time.sleep(seconds)
    Note.objects.create(text=marker)
    return marker


@task
def fail(marker: str) -> None:
    Note.objects.create(text=marker)
    raise RuntimeError(f"failing on purpose: {{marker}}")


@task
def noop() -> None:
    pass
"""
# A task of the next release: the new web enqueues it while the old workers run.
NEXT_RELEASE_TASK = """

@task
def added_in_the_next_release(marker: str) -> str:
    Note.objects.create(text=marker)
    return marker
"""

# Quick settings so that a test takes seconds: polls every 0.2 s, a lease of 6 s (a
# killed worker's task runs again within 6 s + 3 s), retries from 0.5 s.
QUICK = {
    "TASKS_POLL_INTERVAL": "0.2",
    "TASKS_LEASE_SECONDS": "6",
    "TASKS_RETRY_DELAY": "0.5",
    "TASKS_CONCURRENCY": "2",
}
# The web process's graceful timeout, which the worker's stop must also fit in.
GRACE = 25
# How long a worker may take to boot on this shared machine (no bytecode cache).
BOOT = 30
# The worker process is the same whatever serves the web: tests of the worker alone run
# on one interface's project; the web-to-worker test runs on both.
WORKER_ALONE = pytest.mark.parametrize("project", ["wsgi"], indirect=True)


@pytest.fixture(scope="module")
def app(project, tmp_path_factory):
    """The project with the test views and the test tasks, sharing its venv."""
    copy = with_test_views(project, tmp_path_factory.mktemp(f"worker-{project.interface}") / "app")
    (copy.path / SLUG / "testtasks.py").write_text(TEST_TASKS + NEXT_RELEASE_TASK)
    return copy


@pytest.fixture(scope="module")
def previous_release(project, tmp_path_factory):
    """The same project one release earlier: its code lacks the next release's task."""
    copy = with_test_views(project, tmp_path_factory.mktemp("previous-release") / "app")
    (copy.path / SLUG / "testtasks.py").write_text(TEST_TASKS)
    return copy


@pytest.fixture
def database(project):
    """A fresh migrated database per test: tasks left by one test are not another's."""
    name = new_database(f"tfd_worker_{project.interface}")
    yield name
    drop_database(name)


@pytest.fixture
def environ(app, database, tmp_path) -> dict[str, str]:
    environ = app.production_env(database) | QUICK
    app.run("python", "manage.py", "migrate", "--noinput", env=environ)
    return environ


def worker_env(environ: dict[str, str], tmp_path, name: str) -> dict[str, str]:
    """Each worker process its own heartbeat file, as each container has its own /tmp."""
    return environ | {"TASKS_HEARTBEAT_FILE": str(tmp_path / f"heartbeat-{name}")}


def enqueue(app, environ: dict[str, str], code: str) -> list[str]:
    """Enqueue through Django's tasks API in a one-off process; returns the printed ids."""
    script = f"from {SLUG}.testtasks import record, fail, noop\n{code}"
    result = app.run("python", "manage.py", "shell", "-v0", "-c", script, env=environ)
    return result.stdout.split()


def runs(database: str, marker: str) -> int:
    """How many times a `record`/`fail` task with this marker ran."""
    (count,) = query(database, f"SELECT count(*) FROM {SLUG}_note WHERE text = '{marker}'")
    return int(count)


def tasks(database: str, where: str = "true") -> list[tuple[str, ...]]:
    rows = query(
        database,
        "SELECT status, attempts, task_path, id FROM django_ox_oxtask "
        f"WHERE {where} ORDER BY enqueued_at",
    )
    return [tuple(row.split("|")) for row in rows]


def wait_for(condition, timeout: float, what: str, step: float = 0.2):
    """Poll `condition` until it returns something truthy, for at most `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(step)
    raise AssertionError(f"gave up after {timeout} s waiting for {what}")


def started(worker) -> float:
    """Seconds from now until the worker's loop logged that it started."""
    begun = time.monotonic()
    wait_for(lambda: worker.count('"worker_started"'), BOOT, "the worker to start")
    return time.monotonic() - begun


def events(worker, event: str) -> list[dict]:
    lines = [json.loads(line) for line in worker.lines if line.startswith("{")]
    return [line for line in lines if line.get("event") == event]


def report(app, title: str, **figures) -> None:
    print(f"\n[{app.interface}] {title}: " + ", ".join(f"{k}={v}" for k, v in figures.items()))


def test_a_note_posted_to_the_web_is_processed_by_the_worker(app, environ, database, tmp_path):
    with (
        serve(app, environ) as web,
        serve(app, worker_env(environ, tmp_path, "a"), "worker") as worker,
    ):
        web.wait_until_serving()
        started(worker)
        text = write_note(web.port, Csrf.fetch(web.port), "counted by the worker").note
        enqueued = time.monotonic()
        expected = f"{text} <small>(4 words)</small>".encode()

        def shown() -> bool:
            return expected in send(web.port, "GET", "/notes/").body

        wait_for(shown, 20, "the web page to show the worker's word count")
        visible_after = time.monotonic() - enqueued
        # The liveness probe the README documents, in the worker's environment, and in
        # one whose heartbeat file no worker keeps.
        probe = ("python", "manage.py", "worker", "--alive")
        alive = app.run(*probe, env=worker_env(environ, tmp_path, "a"), check=False)
        elsewhere = app.run(*probe, env=worker_env(environ, tmp_path, "elsewhere"), check=False)
        assert worker.stop() == 0
    (done,) = events(worker, "task_succeeded")
    report(app, "note -> worker -> page", visible_after=f"{visible_after:.2f}s")
    assert done["task_path"] == f"{SLUG}.tasks.process_note"
    assert {"task_id", "duration_ms", "attempt"} <= done.keys()
    assert worker.errors == [], worker.errors
    assert all(line.startswith("{") for line in worker.lines), worker.lines
    assert alive.returncode == 0, alive.stdout + alive.stderr
    assert elsewhere.returncode == 1
    assert "heartbeat file" in elsewhere.stderr


@WORKER_ALONE
def test_two_workers_run_200_tasks_each_exactly_once(app, environ, database, tmp_path):
    count = 200
    enqueue(app, environ, f"for i in range({count}): record.enqueue(f'many-{{i}}')")
    with ExitStack() as stack:
        workers = [
            stack.enter_context(serve(app, worker_env(environ, tmp_path, name), "worker"))
            for name in ("a", "b")
        ]
        for worker in workers:
            started(worker)
        begun = time.monotonic()
        wait_for(
            lambda: len(tasks(database, "status = 'SUCCESSFUL'")) == count,
            60,
            f"{count} tasks to succeed",
        )
        wall = time.monotonic() - begun
        assert [worker.stop() for worker in workers] == [0, 0]
    per_worker = [len(events(worker, "task_succeeded")) for worker in workers]
    report(
        app,
        f"two workers, {count} tasks",
        wall=f"{wall:.2f}s",
        tasks_per_s=f"{count / wall:.0f}",
        per_worker=per_worker,
    )
    (counts,) = query(
        database,
        f"SELECT count(*) || '|' || count(DISTINCT text) FROM {SLUG}_note WHERE text LIKE 'many-%'",
    )
    assert counts == f"{count}|{count}"
    assert {row[1] for row in tasks(database)} == {"1"}
    assert sum(per_worker) == count
    assert all(per_worker), "one worker ran everything"


@WORKER_ALONE
def test_sigterm_lets_the_running_task_finish_and_leaves_new_ones(app, environ, database, tmp_path):
    slow = f"slow-{uuid.uuid4().hex[:8]}"
    with serve(app, worker_env(environ, tmp_path, "a"), "worker") as worker:
        started(worker)
        enqueue(app, environ, f"record.enqueue('{slow}', 6)")
        wait_for(lambda: tasks(database, "status = 'RUNNING'"), 10, "the slow task to start")
        worker.process.send_signal(signal.SIGTERM)
        stopping = time.monotonic()
        enqueue(app, environ, "record.enqueue('after-sigterm')")
        status = worker.process.wait(timeout=GRACE)
        stopped_after = time.monotonic() - stopping
    report(
        app, "SIGTERM during a 6 s task", exit_status=status, stopped_after=f"{stopped_after:.2f}s"
    )
    assert status == 0
    assert runs(database, slow) == 1
    assert runs(database, "after-sigterm") == 0
    assert [row[0] for row in tasks(database)] == ["SUCCESSFUL", "READY"]
    with serve(app, worker_env(environ, tmp_path, "b"), "worker") as next_worker:
        wait_for(lambda: runs(database, "after-sigterm"), BOOT, "the next worker to run it")
        assert next_worker.stop() == 0


@WORKER_ALONE
def test_a_task_of_a_killed_worker_runs_again_within_the_lease(app, environ, database, tmp_path):
    marker = f"killed-{uuid.uuid4().hex[:8]}"
    lease = int(QUICK["TASKS_LEASE_SECONDS"])
    # The documented bound: the lease, then up to half of it until a worker's reaper looks.
    bound = lease * 1.5
    with serve(app, worker_env(environ, tmp_path, "a"), "worker") as doomed:
        started(doomed)
        enqueue(app, environ, f"record.enqueue('{marker}', 2)")
        wait_for(lambda: tasks(database, "status = 'RUNNING'"), 10, "the task to start")
        doomed.stop(signal.SIGKILL)
        killed = time.monotonic()
    with serve(app, worker_env(environ, tmp_path, "b"), "worker") as survivor:
        booted = started(survivor)
        wait_for(
            lambda: tasks(database, "status = 'RUNNING' AND attempts = 2"),
            bound + BOOT,
            "another worker to claim the task again",
        )
        reclaimed_after = time.monotonic() - killed
        wait_for(lambda: runs(database, marker), 10, "the task to finish")
        assert survivor.stop() == 0
    report(
        app,
        "SIGKILL mid-task",
        lease=f"{lease}s",
        reclaimed_after=f"{reclaimed_after:.2f}s",
        new_worker_booted_in=f"{booted:.2f}s",
    )
    assert runs(database, marker) == 1
    ((status, attempts, *_),) = tasks(database)
    assert (status, attempts) == ("SUCCESSFUL", "2")
    # The documented bound, counted from when a worker is up to notice; a poll of slack.
    assert reclaimed_after <= booted + bound + 1


@WORKER_ALONE
def test_a_failing_task_is_retried_with_back_off_then_marked_failed(
    app, environ, database, tmp_path
):
    marker = f"boom-{uuid.uuid4().hex[:8]}"
    with serve(app, worker_env(environ, tmp_path, "a"), "worker") as worker:
        started(worker)
        (task_id,) = enqueue(app, environ, f"print(fail.enqueue('{marker}').id)")
        wait_for(lambda: tasks(database, "status = 'FAILED'"), 20, "the task to be marked failed")
        assert worker.stop() == 0
        result = app.run(
            "python",
            "manage.py",
            "shell",
            "-v0",
            "-c",
            f"from {SLUG}.testtasks import fail\n"
            f"r = fail.get_result('{task_id}')\n"
            "print(r.status, len(r.errors), r.errors[-1].exception_class_path)\n"
            "print(r.errors[-1].traceback.splitlines()[-1])",
            env=environ,
        ).stdout.splitlines()
    times = [
        float(t)
        for t in query(
            database,
            f"SELECT extract(epoch FROM created_at) FROM {SLUG}_note "
            f"WHERE text = '{marker}' ORDER BY created_at",
        )
    ]
    gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
    report(app, "failing task", attempts=len(times), gaps="/".join(f"{g:.2f}s" for g in gaps))
    assert len(times) == 3  # TASKS_MAX_ATTEMPTS' default
    assert gaps[0] >= 0.5 and gaps[1] >= 1.0, "back-off doubles from TASKS_RETRY_DELAY"
    assert result == [
        "FAILED 3 builtins.RuntimeError",
        f"RuntimeError: failing on purpose: {marker}",
    ]
    assert len(events(worker, "task_retrying")) == 2
    (failed,) = events(worker, "task_failed")
    assert failed["task_id"] == task_id and "duration_ms" in failed
    assert sum("Traceback (most recent call last)" in line for line in worker.lines) == 1


@WORKER_ALONE
def test_a_woken_worker_starts_tasks_at_once_and_misses_none_across_a_database_cut(
    app, environ, database, tmp_path
):
    """The poll interval is set far beyond every wait below, so each task that starts in
    time was started by a notification. Tasks enqueued while the worker's connections
    are cut (their notifications lost) start once it reconnects, not a poll later."""
    count, late = 30, 5
    poll = 60
    with DatabaseProxy() as proxy:
        proxy.up()
        # Longer than the outage: the worker itself must carry its tasks through it.
        cut_env = worker_env(environ, tmp_path, "a") | {
            "DATABASE_URL": proxy.url(database),
            "TASKS_LEASE_SECONDS": "20",
            "TASKS_POLL_INTERVAL": str(poll),
        }
        with serve(app, cut_env, "worker") as worker:
            started(worker)
            wait_for(lambda: worker.count('"worker_listening"'), 10, "the worker to listen")
            enqueue(app, environ, "record.enqueue('woken')")
            enqueued = time.monotonic()
            wait_for(lambda: runs(database, "woken"), poll / 4, "a notification to start it")
            woken_after = time.monotonic() - enqueued
            enqueue(app, environ, f"for i in range({count}): record.enqueue(f'cut-{{i}}', 0.2)")
            wait_for(
                lambda: len(tasks(database, "status = 'SUCCESSFUL'")) >= 5, 20, "some tasks to run"
            )
            proxy.down()
            enqueue(app, environ, f"for i in range({late}): record.enqueue(f'cut-late-{{i}}')")
            time.sleep(4)
            done_during_outage = len(tasks(database, "status = 'SUCCESSFUL'"))
            proxy.up()
            restored = time.monotonic()
            wait_for(
                lambda: len(tasks(database, "status = 'SUCCESSFUL'")) == 1 + count + late,
                poll / 2,
                "every task to succeed after the outage, before a poll",
            )
            caught_up_after = time.monotonic() - restored
            # Listening again: the next task wakes it as the first did.
            wait_for(lambda: worker.count('"worker_listening"') == 2, 20, "it to listen again")
            enqueue(app, environ, "record.enqueue('woken-again')")
            wait_for(lambda: runs(database, "woken-again"), poll / 4, "a notification again")
            assert worker.process.poll() is None, "the worker died instead of reconnecting"
            assert worker.stop() == 0
    (counts,) = query(
        database,
        f"SELECT count(*) || '|' || count(DISTINCT text) FROM {SLUG}_note WHERE text LIKE 'cut-%'",
    )
    runs_total, distinct = map(int, counts.split("|"))
    # At least once, as the README says: a task whose note was saved just before the cut
    # but whose success could not be recorded runs again on its second attempt.
    retried = len(tasks(database, "attempts > 1"))
    report(
        app,
        f"Postgres cut for 4 s under a worker polling every {poll} s",
        woken_after=f"{woken_after:.2f}s",
        done_before_restore=done_during_outage,
        caught_up_after=f"{caught_up_after:.2f}s",
        proxy_connections=proxy.connections,
        attempts=sorted({row[1] for row in tasks(database)}),
        runs=runs_total,
    )
    assert distinct == count + late, "a task was lost"
    assert runs_total - distinct <= retried, "a task ran twice without being retried"
    assert worker.count('"worker_listen_lost"') == 1


@WORKER_ALONE
def test_a_rolling_update_runs_the_new_task_once_and_fails_nothing(
    app, previous_release, environ, database, tmp_path
):
    """The README's rollout order: migrate, then new web and new workers while old
    workers still run. An old worker meets a task its code does not have."""
    marker = f"rollout-{uuid.uuid4().hex[:8]}"
    begun = time.monotonic()
    timeline = {}
    with serve(previous_release, worker_env(environ, tmp_path, "old"), "worker") as old:
        started(old)
        timeline["old worker up"] = time.monotonic() - begun
        # The new release's web enqueues its new task, then an old one.
        enqueue(
            app,
            environ,
            f"from {SLUG}.testtasks import added_in_the_next_release\n"
            f"added_in_the_next_release.enqueue('{marker}')\n"
            f"record.enqueue('{marker}-old-task')",
        )
        timeline["new task enqueued"] = time.monotonic() - begun
        wait_for(
            lambda: events(old, "task_left_for_newer_worker"), 10, "the old worker to leave it"
        )
        wait_for(lambda: runs(database, f"{marker}-old-task"), 10, "the old worker's own task")
        timeline["old worker left it"] = time.monotonic() - begun
        # Many polls of the old worker alone: it neither fails nor retries the task.
        time.sleep(10 * float(QUICK["TASKS_POLL_INTERVAL"]))
        waiting = tasks(database, "task_path LIKE '%added_in_the_next_release'")
        with serve(app, worker_env(environ, tmp_path, "new"), "worker") as new:
            started(new)
            timeline["new worker up"] = time.monotonic() - begun
            wait_for(lambda: runs(database, marker), 10, "the new worker to run it")
            timeline["new task ran"] = time.monotonic() - begun
            assert new.stop() == 0
        assert old.stop() == 0
    report(app, "rolling update", **{k: f"{v:.2f}s" for k, v in timeline.items()})
    assert [row[:2] for row in waiting] == [("READY", "0")]
    assert runs(database, marker) == 1
    ((status, attempts, *_),) = tasks(database, "task_path LIKE '%added_in_the_next_release'")
    assert (status, attempts) == ("SUCCESSFUL", "1")
    assert len(events(old, "task_left_for_newer_worker")) == 1
    assert not events(old, "task_failed") and not events(old, "task_retrying")


BAD_CONFIGURATIONS = {
    "unknown backend": ({"TASKS_BACKEND": "redis"}, "TASKS_BACKEND"),
    "negative concurrency": ({"TASKS_CONCURRENCY": "-2"}, "TASKS_CONCURRENCY"),
}


@WORKER_ALONE
@pytest.mark.parametrize(
    ("change", "variable"), BAD_CONFIGURATIONS.values(), ids=BAD_CONFIGURATIONS.keys()
)
def test_a_bad_configuration_stops_the_worker_at_start_up(app, environ, tmp_path, change, variable):
    with serve(app, worker_env(environ, tmp_path, "a") | change, "worker") as worker:
        status = worker.process.wait(timeout=BOOT)
        time.sleep(0.1)
    (line,) = [line for line in worker.log.splitlines() if line.startswith(f"  {variable}: ")]
    report(app, f"worker refused {variable}", exit_status=status, message=line.strip())
    assert status != 0
    assert "Configuration error" in worker.log
    assert "Traceback" not in worker.log
    assert not worker.count("worker_started")


@WORKER_ALONE
def test_the_worker_refuses_to_run_without_a_queue(app, environ, tmp_path):
    immediate = worker_env(environ, tmp_path, "a") | {"TASKS_BACKEND": "immediate"}
    with serve(app, immediate, "worker") as worker:
        status = worker.process.wait(timeout=BOOT)
        time.sleep(0.1)
    assert status != 0
    assert "TASKS_BACKEND is not 'database'" in worker.log
    assert "Traceback" not in worker.log
