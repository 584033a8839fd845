"""`python -m bench.tasks [--quick]`: the worker process with no-op tasks, against the
same Postgres the tests use, beside a peer on the same server in the same run:
procrastinate, a Postgres queue that wakes its workers with LISTEN/NOTIFY.

- Enqueue-to-start latency (p50, p99): tasks enqueued one at a time, at a steady pace,
  to one idle worker; the time from a task's enqueue to its start, as each queue records
  it (the task's row; procrastinate's events).
- Idle transactions per second: what one idle worker commits, from pg_stat_database
  over a quiet window (read from another database, so the reading does not count).
- Throughput (tasks/s): no-op tasks committed at once (one transaction) to one idle
  worker, then to two (each at its default concurrency; the peer at the same), timed
  from the commit to the last task's finish as recorded in the database.

`python3 dev.py bench-tasks` runs it with the template's test tools.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

import bench  # noqa: F401  (puts tests/ on sys.path)
from bakery import SLUG, bake, database_url, drop_database, install, new_database
from faults import query
from server import serve

NOOP = """
from django.tasks import task


@task
def noop() -> None:
    pass
"""
BOOT = 60
# The peer's app: the same no-op task, run by `procrastinate worker`.
PEER_APP = """
import os

import procrastinate

app = procrastinate.App(
    connector=procrastinate.PsycopgConnector(conninfo=os.environ["PEER_DATABASE_URL"])
)


@app.task(name="noop")
def noop() -> None:
    pass
"""
# The template's worker's default threads (TASKS_CONCURRENCY), given to the peer too.
CONCURRENCY = 4
# Seconds of an idle worker's commits counted; Postgres flushes a backend's statistics at
# least once a second while it works, so the window's error is about a second's worth.
IDLE_WINDOW = 10
GOALS = {"p50": 0.025, "p99": 0.150, "idle_commits": 5.0}


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


def commits(database: str) -> int:
    (count,) = query(
        "postgres", f"SELECT xact_commit FROM pg_stat_database WHERE datname = '{database}'"
    )
    return int(count)


def idle_commits(database: str, window: float) -> float:
    """Transactions per second the database's sessions commit over `window` s."""
    time.sleep(min(window, 2))  # past the start-up's own work
    before = commits(database)
    time.sleep(window)
    return (commits(database) - before) / window


def latency(
    project, tmp: Path, tasks: int, pace: float, idle_window: float = IDLE_WINDOW
) -> tuple[list[float], float]:
    """Seconds from enqueue to start, for `tasks` tasks enqueued `pace` s apart, and the
    idle worker's commits per second before them."""
    database, environ = fresh_environ(project, tmp)
    try:
        with ExitStack() as stack:
            workers(stack, project, environ, 1, tmp)
            idle = idle_commits(database, idle_window)
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
        return [float(row) for row in rows], idle
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


class Peer:
    """procrastinate on a fresh database of the same server, run from this interpreter."""

    def __init__(self, tmp: Path) -> None:
        self.dir = tmp / "peer"
        self.dir.mkdir(exist_ok=True)
        (self.dir / "peerapp.py").write_text(PEER_APP)

    def environ(self, database: str) -> dict[str, str]:
        return os.environ | {
            "PEER_DATABASE_URL": database_url(database),
            "PYTHONPATH": str(self.dir),
        }

    def run(self, database: str, code: str) -> str:
        script = f"import time\nfrom peerapp import app, noop\nwith app.open():\n{code}"
        return subprocess.run(
            [sys.executable, "-c", script],
            env=self.environ(database),
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        ).stdout

    @contextmanager
    def database(self):
        database = new_database("tfd_bench_peer")
        try:
            subprocess.run(
                [sys.executable, "-m", "procrastinate", "--app=peerapp.app", "schema", "--apply"],
                env=self.environ(database),
                capture_output=True,
                check=True,
                timeout=60,
            )
            yield database
        finally:
            drop_database(database)

    @contextmanager
    def workers(self, database: str, count: int):
        command = [sys.executable, "-m", "procrastinate", "--app=peerapp.app", "worker"]
        started = [
            subprocess.Popen(
                [*command, f"--concurrency={CONCURRENCY}"],
                env=self.environ(database),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(count)
        ]
        try:
            wait_until(
                lambda: (
                    int(query(database, "SELECT count(*) FROM procrastinate_workers")[0]) == count
                ),
                BOOT,
                "the peer's workers to start",
            )
            yield
        finally:
            for process in started:
                process.terminate()
            for process in started:
                process.wait(timeout=30)

    def finished(self, database: str) -> int:
        (count,) = query(
            database, "SELECT count(*) FROM procrastinate_jobs WHERE status = 'succeeded'"
        )
        return int(count)

    def latency(
        self, tasks: int, pace: float, idle_window: float = IDLE_WINDOW
    ) -> tuple[list[float], float]:
        with self.database() as database:
            with self.workers(database, 1):
                idle = idle_commits(database, idle_window)
                self.run(
                    database,
                    f"    for _ in range({tasks}):\n        noop.defer(); time.sleep({pace})",
                )
                wait_until(lambda: self.finished(database) == tasks, 60, "the peer's tasks")
            rows = query(
                database,
                "SELECT extract(epoch FROM s.at - d.at) FROM procrastinate_events d "
                "JOIN procrastinate_events s USING (job_id) "
                "WHERE d.type = 'deferred' AND s.type = 'started'",
            )
            return [float(row) for row in rows], idle

    def throughput(self, tasks: int, count: int) -> float:
        with self.database() as database:
            with self.workers(database, count):
                output = self.run(
                    database, f"    noop.batch_defer(*[{{}}] * {tasks})\n    print(time.time())"
                )
                committed = float(output.split()[-1])
                wait_until(lambda: self.finished(database) == tasks, 120, "the peer's backlog")
            (last,) = query(
                database,
                "SELECT extract(epoch FROM max(at)) FROM procrastinate_events "
                "WHERE type = 'succeeded'",
            )
            return tasks / (float(last) - committed)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def met(ok: bool) -> str:
    return "met" if ok else "MISSED"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tasks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer tasks, one round (~2 min)")
    quick = parser.parse_args(argv).quick
    samples, pace, backlog, rounds = (60, 0.1, 300, 1) if quick else (300, 0.1, 2000, 3)
    with tempfile.TemporaryDirectory(prefix="bench-tasks-") as tmp_dir:
        tmp = Path(tmp_dir)
        project = install(bake(tmp, web_interface="wsgi"), "wsgi")
        (project.path / ".env").unlink()
        add_noop_task(project)
        peer = Peer(tmp)
        waits, idle = latency(project, tmp, samples, pace)
        peer_waits, peer_idle = peer.latency(samples, pace)
        rates, peer_rates = {}, {}
        for n in (1, 2):
            rates[n] = [throughput(project, tmp, backlog, n) for _ in range(rounds)]
            peer_rates[n] = [peer.throughput(backlog, n) for _ in range(rounds)]
    p50, p99 = percentile(waits, 0.5), percentile(waits, 0.99)
    rate = {n: statistics.median(values) for n, values in rates.items()}
    peer_rate = {n: statistics.median(values) for n, values in peer_rates.items()}
    print(
        f"\nWorker, no-op tasks ({'quick' if quick else 'full'} run; defaults: poll 1 s, "
        f"{CONCURRENCY} threads), beside procrastinate on the same Postgres"
    )
    print("| Figure | Worker | procrastinate | Goal | |\n| --- | --- | --- | --- | --- |")
    print(
        f"| enqueue-to-start p50, one idle worker ({samples} tasks) | {p50 * 1000:.0f} ms "
        f"| {percentile(peer_waits, 0.5) * 1000:.0f} ms | ≤ {GOALS['p50'] * 1000:.0f} ms "
        f"| {met(p50 <= GOALS['p50'])} |"
    )
    print(
        f"| enqueue-to-start p99 | {p99 * 1000:.0f} ms | {percentile(peer_waits, 0.99) * 1000:.0f} ms "
        f"| ≤ {GOALS['p99'] * 1000:.0f} ms | {met(p99 <= GOALS['p99'])} |"
    )
    print(
        f"| commits/s of one idle worker | {idle:.1f} | {peer_idle:.1f} "
        f"| ≤ {GOALS['idle_commits']:.0f} | {met(idle <= GOALS['idle_commits'])} |"
    )
    for n in (1, 2):
        goal = f"≥ procrastinate | {met(rate[n] >= peer_rate[n])}" if n == 2 else "| "
        print(
            f"| tasks/s, {n} worker{'s' if n > 1 else ''} ({backlog} tasks, median of {rounds}) "
            f"| {rate[n]:.0f} | {peer_rate[n]:.0f} | {goal} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
