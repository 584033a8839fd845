"""The baked project is disposable and robust: it stops gracefully under load, rides out
a database that is down or restarting or stuck, and refuses a bad configuration.

Each test serves the Procfile's web process on loopback against real Postgres, puts it
through one fault with a bounded load, and prints what it sent and what it counted.
"""

import re
import signal
import time
import uuid

import pytest

from bakery import with_test_views
from faults import (
    NOTES_TABLE,
    Csrf,
    DatabaseProxy,
    Load,
    TableLock,
    read_notes,
    saved_notes,
    send,
    workers_frozen,
    write_note,
)
from server import serve

pytestmark = pytest.mark.boot

# How long /readyz may take to notice that the database is back: the pool retries a
# failed connection within 2 s, and a probe of an unreachable database takes 2 s.
READY_WITHIN = 6
# A Postgres restart as the app sees it: longer than the pool's first reconnection
# back-off steps (1 s, 2 s, 4 s), shorter than its 10 s checkout timeout.
OUTAGE = 8
# How soon after Postgres is back requests must succeed again. Without a bound on the
# pool's back-off, the next attempt after an 8 s outage comes about 7 s later.
RECOVERY_WITHIN = 4
# A short statement timeout and worker timeout, so the test runs in seconds.
STATEMENT_TIMEOUT_MS = 1000
WEB_TIMEOUT = 4


@pytest.fixture(scope="module")
def app(project, migrated, tmp_path_factory):
    """The project with a slow view and a failing view added, sharing its venv."""
    return with_test_views(project, tmp_path_factory.mktemp(f"faults-{project.interface}") / "app")


def graceful_timeout(project) -> int:
    """gunicorn.conf.py's graceful_timeout: a stopping server must be gone before it."""
    conf = (project.path / "gunicorn.conf.py").read_text()
    return int(re.search(r"^graceful_timeout = (\d+)", conf, re.MULTILINE).group(1))


def succeeded(outcome) -> bool:
    """A page (200) or an acknowledged write (302)."""
    return outcome.status in (200, 302)


def report(project, what: str, **counts) -> None:
    print(f"\n[{project.interface}] {what}: " + ", ".join(f"{k}={v}" for k, v in counts.items()))


def test_sigterm_under_load_finishes_accepted_requests_and_loses_no_write(app, migrated, database):
    prefix = f"shutdown-{uuid.uuid4().hex[:8]}"
    with serve(app, migrated) as server:
        server.wait_until_serving()
        port = server.port
        csrf = Csrf.fetch(port)
        plan = {
            "write": (4, lambda: write_note(port, csrf, prefix)),
            "read": (2, lambda: read_notes(port)),
            "slow": (2, lambda: send(port, "GET", "/test-slow/?seconds=2", action="slow")),
        }
        with Load(plan, max_requests=3000, max_seconds=30) as load:
            time.sleep(2.5)  # every slow request is inside the view by now
            # As in a rolling update, the balancer's last writes reach the port just
            # before the signal, while no worker has accepted them yet.
            last = Load(
                {"last": (4, lambda: write_note(port, csrf, prefix))},
                max_requests=4,
                max_seconds=30,
            )
            with workers_frozen(server, signal.SIGTERM):
                last.start()
                time.sleep(0.5)  # their connections wait in the listen queue
                signalled = time.monotonic()
            status = server.process.wait(timeout=graceful_timeout(app) + 5)
            exited_after = time.monotonic() - signalled
            load.stop()
            last.stop()

    queued = last.outcomes
    outcomes = load.outcomes + queued
    # Sent before the signal: the server had these; each must be answered.
    sent_before = [o for o in outcomes if o.sent is not None and o.sent < signalled]
    # Sent after it, or never: the server no longer accepts; refused or reset, never
    # half done.
    sent_after = [o for o in outcomes if o.sent is None or o.sent >= signalled]
    in_flight = [o for o in sent_before if o.ended > signalled]
    writes = [o for o in outcomes if o.action == "write"]
    acknowledged = {o.note for o in writes if o.status == 302}
    unanswered = {o.note for o in writes if not o.answered}
    saved = saved_notes(database, prefix)
    report(
        app,
        "SIGTERM under load",
        sent=len(outcomes),
        sent_before_sigterm=len(sent_before),
        in_flight_at_sigterm=len(in_flight),
        slow_in_flight=sum(o.action == "slow" for o in in_flight),
        in_listen_queue_at_sigterm=len(queued),
        completed=sum(o.answered for o in outcomes),
        after_sigterm_refused=sum(o.refused for o in sent_after),
        after_sigterm_reset_unaccepted=sum(o.dropped for o in sent_after),
        writes_acknowledged=len(acknowledged),
        rows_written=len(saved),
        exit_status=status,
        exited_after=f"{exited_after:.2f}s",
    )
    print("   ", load.summary())
    assert [(o.action, o.status, o.error) for o in sent_before if not succeeded(o)] == []
    assert [o.status for o in sent_after if o.answered and not succeeded(o)] == []
    assert any(o.action == "slow" for o in in_flight), "no slow request was in flight"
    assert len(queued) == 4 and all(o.sent < signalled for o in queued), last.summary()
    assert acknowledged <= saved, f"acknowledged writes missing: {acknowledged - saved}"
    assert not unanswered & saved, "a write was saved but its client never got an answer"
    assert status == 0, server.log[-3000:]
    assert exited_after < graceful_timeout(app)


def test_database_down_at_boot_serves_liveness_and_turns_ready_when_it_returns(
    app, migrated, database
):
    # Not up: connections to it are refused, as by a database server that is down.
    proxy = DatabaseProxy()
    environ = migrated | {"DATABASE_URL": proxy.url(database)}
    with proxy, serve(app, environ) as server:
        booted = server.wait_until_serving()
        healthz = send(server.port, "GET", "/healthz")
        readyz = send(server.port, "GET", "/readyz")
        assert healthz.status == 200
        assert readyz.status == 503
        proxy.up()
        came_back = time.monotonic()
        polls = 0
        while time.monotonic() - came_back < READY_WITHIN:
            polls += 1
            if send(server.port, "GET", "/readyz").status == 200:
                break
            time.sleep(0.25)
        ready_after = time.monotonic() - came_back
        csrf = Csrf.fetch(server.port)
        write = write_note(server.port, csrf, f"boot-{uuid.uuid4().hex[:8]}")
        report(
            app,
            "database down at boot",
            healthz=healthz.status,
            readyz_while_down=readyz.status,
            readyz_answered_in=f"{readyz.ended - readyz.started:.2f}s",
            first_healthz_after=f"{booted:.2f}s",
            ready_after_return=f"{ready_after:.2f}s",
            readyz_polls=polls,
            write_after=write.status,
            workers_booted=server.count("Booting worker"),
        )
        assert ready_after < READY_WITHIN, server.log[-3000:]
        assert write.status == 302
        assert server.process.poll() is None
        assert server.count("Booting worker") == int(migrated["WEB_CONCURRENCY"])


def test_database_restart_mid_traffic_errors_only_during_the_outage(app, migrated, database):
    proxy = DatabaseProxy()
    proxy.up()
    prefix = f"restart-{uuid.uuid4().hex[:8]}"
    environ = migrated | {"DATABASE_URL": proxy.url(database)}
    with proxy, serve(app, environ) as server:
        server.wait_until_serving()
        port = server.port
        assert send(port, "GET", "/readyz").status == 200
        csrf = Csrf.fetch(port)
        plan = {
            "write": (3, lambda: write_note(port, csrf, prefix)),
            "read": (3, lambda: read_notes(port)),
        }
        with Load(plan, max_requests=4000, max_seconds=30) as load:
            time.sleep(1.5)
            went_down = time.monotonic()
            proxy.down()
            time.sleep(OUTAGE)
            came_back = time.monotonic()
            proxy.up()
            time.sleep(3)
            load.stop()
        workers_alive = server.process.poll() is None

    outcomes = load.outcomes
    errors = [o for o in outcomes if not succeeded(o)]
    during = [o for o in outcomes if o.started < came_back and o.ended > went_down]
    after = [o for o in outcomes if o.started >= came_back]
    recovered_after = min(o.ended for o in outcomes if succeeded(o) and o.ended > came_back)
    recovered_after -= came_back
    errors_outside = [
        round(o.started - came_back, 2)
        for o in errors
        if not (o.started < came_back and o.ended > went_down)
    ]
    acknowledged = {o.note for o in outcomes if o.action == "write" and o.status == 302}
    failed_writes = {o.note for o in outcomes if o.action == "write" and o.status != 302}
    saved = saved_notes(database, prefix)
    report(
        app,
        "database restart",
        sent=len(outcomes),
        overlapping_outage=len(during),
        errors=len(errors),
        error_statuses=sorted({o.status for o in errors}, key=str),
        errors_outside_outage=len(errors_outside),
        first_success_after_return=f"{recovered_after:.2f}s",
        requests_after_recovery=len(after),
        errors_after_recovery=sum(not succeeded(o) for o in after),
        slowest_during_outage=f"{max(o.ended - o.started for o in during):.2f}s",
        writes_acknowledged=len(acknowledged),
        rows_written=len(saved),
        failed_writes_saved_anyway=len(failed_writes & saved),
        proxy_connections=proxy.connections,
    )
    print("   ", load.summary())
    assert workers_alive
    assert [(o.status, o.error) for o in errors if o.status is None or o.status < 500] == []
    assert errors_outside == []
    assert recovered_after < RECOVERY_WITHIN
    assert after
    assert [o.status for o in after if not succeeded(o)] == []
    assert acknowledged <= saved, f"acknowledged writes missing: {acknowledged - saved}"


def test_a_stuck_query_fails_fast_and_the_worker_survives(app, migrated, database):
    prefix = f"stuck-{uuid.uuid4().hex[:8]}"
    environ = migrated | {
        "DATABASE_STATEMENT_TIMEOUT": str(STATEMENT_TIMEOUT_MS),
        "WEB_TIMEOUT": str(WEB_TIMEOUT),
    }
    with serve(app, environ) as server:
        server.wait_until_serving()
        port = server.port
        csrf = Csrf.fetch(port)
        workers = server.count("Booting worker")
        plan = {
            "write": (2, lambda: write_note(port, csrf, prefix)),
            "read": (2, lambda: read_notes(port)),
        }
        # Stuck for longer than gunicorn's worker timeout, to show nobody is killed.
        with (
            TableLock(database, NOTES_TABLE),
            Load(plan, max_requests=200, max_seconds=WEB_TIMEOUT + 1) as load,
        ):
            load.wait(timeout=WEB_TIMEOUT + 10)
        after = [read_notes(port), write_note(port, csrf, prefix)]
        time.sleep(0.3)
        saved = saved_notes(database, prefix)
        log = server.log

    outcomes = load.outcomes
    slowest = max(o.ended - o.started for o in outcomes)
    report(
        app,
        "stuck query",
        sent=len(outcomes),
        statuses=sorted({o.status for o in outcomes}, key=str),
        slowest=f"{slowest:.2f}s",
        statement_timeout=f"{STATEMENT_TIMEOUT_MS}ms",
        worker_timeout=f"{WEB_TIMEOUT}s",
        statement_timeouts_logged=server.count("canceling statement due to statement timeout"),
        worker_timeouts=log.count("WORKER TIMEOUT"),
        workers_booted=server.count("Booting worker") - workers,
        after_release=[o.status for o in after],
        rows_written=len(saved),
    )
    assert {o.status for o in outcomes} == {500}
    assert slowest < STATEMENT_TIMEOUT_MS / 1000 + 1.5
    assert "canceling statement due to statement timeout" in log
    assert "WORKER TIMEOUT" not in log
    assert server.count("Booting worker") == workers
    assert [o.status for o in after] == [200, 302]
    assert saved == {after[1].note}


def test_a_bad_configuration_is_refused_before_any_worker_boots(project, migrated):
    """Each rule of the schema is the baked project's own test (tests/test_env.py); here,
    the Procfile's server refuses at once, naming every problem, echoing no secret."""
    environ = {k: v for k, v in migrated.items() if k != "DJANGO_SECRET_KEY"} | {
        "DATABASE_URL": "postgres://app:hunter2pw@127.0.0.1:5432",
        "ALLOWED_HOSTS": "",
        "LOG_LEVEL": "loud",
    }
    started = time.monotonic()
    with serve(project, environ) as server:
        status = server.process.wait(timeout=30)
        refused_after = time.monotonic() - started
        time.sleep(0.1)
    output = server.log
    report(project, "refused", exit_status=status, refused_after=f"{refused_after:.2f}s")
    assert status != 0
    assert "Configuration error" in output
    for variable in ("DJANGO_SECRET_KEY", "DATABASE_URL", "ALLOWED_HOSTS", "LOG_LEVEL"):
        assert f"  {variable}: " in output, variable
    assert "hunter2pw" not in output
    assert "loud" not in output
    assert "Traceback" not in output
    assert "Booting worker" not in output
