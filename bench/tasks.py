"""`python -m bench.tasks [--quick]`: the worker process with no-op tasks, against the
same Postgres the tests use.

- Enqueue-to-start latency (p50, p99): tasks enqueued one at a time, at a steady pace,
  to workers that are idle; the time from a task's enqueue to its start, as recorded on
  its row. Dominated by the poll interval, which is measured at its default.
- Throughput (tasks/s): no-op tasks committed at once (one transaction) to one idle
  worker, then to two (each at its default concurrency), timed from the commit to the
  last task's finish as recorded on its row.

`python3 dev.py bench-tasks` runs it with the template's test tools.
"""

import argparse
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import bench  # noqa: F401  (puts tests/ on sys.path)
from bakery import SLUG, bake, drop_database, install, new_database
from faults import query
from server import serve

NOOP = """
from django.tasks import task


@task
def noop() -> None:
    pass
"""
BOOT = 60


def add_noop_task(project) -> None:
    (project.path / SLUG / "benchtasks.py").write_text(NOOP)


def enqueue(project, environ: dict[str, str], code: str) -> str:
    script = f"import time\nfrom {SLUG}.benchtasks import noop\n{code}"
    return project.run("python", "manage.py", "shell", "-v0", "-c", script, env=environ).stdout


def finished(database: str) -> int:
    (count,) = query(database, "SELECT count(*) FROM django_ox_oxtask WHERE status = 'SUCCESSFUL'")
    return int(count)


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise RuntimeError(f"gave up after {timeout} s waiting for {what}")


def workers(stack: ExitStack, project, environ: dict[str, str], count: int, tmp: Path) -> list:
    started = [
        stack.enter_context(
            serve(project, environ | {"TASKS_HEARTBEAT_FILE": str(tmp / f"hb-{n}")}, "worker")
        )
        for n in range(count)
    ]
    for worker in started:
        wait_until(lambda w=worker: w.count('"worker_started"'), BOOT, "a worker to start")
    return started


def fresh_environ(project, tmp: Path) -> tuple[str, dict[str, str]]:
    database = new_database("tfd_bench_tasks")
    environ = project.production_env(database)
    project.run("python", "manage.py", "migrate", "--noinput", env=environ)
    return database, environ


def latency(project, tmp: Path, tasks: int, pace: float) -> list[float]:
    """Seconds from enqueue to start, for `tasks` tasks enqueued `pace` s apart."""
    database, environ = fresh_environ(project, tmp)
    try:
        with ExitStack() as stack:
            workers(stack, project, environ, 1, tmp)
            enqueue(
                project,
                environ,
                f"for _ in range({tasks}):\n    noop.enqueue(); time.sleep({pace})",
            )
            wait_until(lambda: finished(database) == tasks, 60, "the tasks to run")
        rows = query(
            database,
            "SELECT extract(epoch FROM started_at - enqueued_at) FROM django_ox_oxtask",
        )
        return [float(row) for row in rows]
    finally:
        drop_database(database)


def throughput(project, tmp: Path, tasks: int, count: int) -> float:
    """Tasks per second for `count` idle workers draining `tasks` no-op tasks that appear
    at once (one transaction), from its commit to the last task's finish."""
    database, environ = fresh_environ(project, tmp)
    try:
        with ExitStack() as stack:
            workers(stack, project, environ, count, tmp)
            output = enqueue(
                project,
                environ,
                "from django.db import transaction\n"
                f"with transaction.atomic():\n    for _ in range({tasks}):\n        noop.enqueue()\n"
                "print(time.time())",
            )
            committed = float(output.split()[-1])
            wait_until(lambda: finished(database) == tasks, 120, "the backlog to drain")
        (last,) = query(
            database, "SELECT extract(epoch FROM max(finished_at)) FROM django_ox_oxtask"
        )
        return tasks / (float(last) - committed)
    finally:
        drop_database(database)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tasks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer tasks, one round (~1 min)")
    quick = parser.parse_args(argv).quick
    samples, pace, backlog, rounds = (60, 0.1, 300, 1) if quick else (300, 0.1, 2000, 3)
    with tempfile.TemporaryDirectory(prefix="bench-tasks-") as tmp_dir:
        tmp = Path(tmp_dir)
        project = install(bake(tmp, web_interface="wsgi"), "wsgi")
        (project.path / ".env").unlink()
        add_noop_task(project)
        waits = latency(project, tmp, samples, pace)
        rates = {n: [throughput(project, tmp, backlog, n) for _ in range(rounds)] for n in (1, 2)}
    print(
        f"\nWorker, no-op tasks ({'quick' if quick else 'full'} run; defaults: poll 1 s, 4 threads)"
    )
    print("| Figure | Value |\n| --- | --- |")
    print(
        f"| enqueue-to-start p50, one idle worker ({samples} tasks) | {percentile(waits, 0.5) * 1000:.0f} ms |"
    )
    print(f"| enqueue-to-start p99 | {percentile(waits, 0.99) * 1000:.0f} ms |")
    for n, values in rates.items():
        print(
            f"| tasks/s, {n} worker{'s' if n > 1 else ''} ({backlog} tasks, "
            f"median of {rounds}) | {statistics.median(values):.0f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
