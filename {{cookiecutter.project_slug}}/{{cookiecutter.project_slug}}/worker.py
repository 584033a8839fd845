"""The worker's task loop: django-ox's Worker (named by config/tasks.py's WORKER_CLASS)
with two additions the library leaves to a subclass.

- Woken, not only polling. A trigger (migrations/0002_task_ready_notify.py) sends a
  NOTIFY when a task becomes ready; a thread of the worker LISTENs on a connection of
  its own and ends the loop's idle wait at once. The poll stays as the backstop: a
  NOTIFY lost while that connection was down costs a poll interval, never a task.
  Behind a transaction pooler (`?pgbouncer=true`), where LISTEN cannot work, it polls.
- Safe in a rolling update. A task the new web enqueues that this (old) worker's code
  does not have goes back to the queue with its attempt refunded, and this worker
  stops claiming that task path: a worker with the code runs it, once.

https://oxpull.com/django-ox/configuration/
https://www.postgresql.org/docs/current/sql-notify.html
"""

import logging
import threading

import psycopg
from django.db import Error, connections
from django.db.models import Q
from django.utils.module_loading import import_string
from django_ox import worker as ox
from django_ox.models import OxTask

logger = logging.getLogger(__name__)

# The channel migrations/0002_task_ready_notify.py's trigger notifies.
CHANNEL = "task_ready"
# How often the listening thread looks up from its connection to see whether the
# worker is stopping: a stop waits at most this long for it.
LISTEN_SLICE = 1.0
# A listening connection that dies without a word (a NAT or a cloud load balancer
# dropping it) is noticed by TCP keepalives after 10 + 3 x 5 s; meanwhile the poll runs.
KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}
# Reconnecting the listener after a loss: first after 1 s, doubling to 30 s, so a long
# outage costs a connection attempt every 30 s, not a storm.
RECONNECT_FIRST, RECONNECT_MAX = 1.0, 30.0
# After a claim fails (the database is away), the loop looks again this often until a
# claim succeeds, however long TASKS_POLL_INTERVAL is: a wake-up lost in the outage must
# not cost a whole poll interval.
OUTAGE_RETRY = 1.0


class StopOrWake:
    """The worker's stop flag, with threading.Event's interface, whose wait on the loop's
    thread also ends when a task is ready. A wake that comes while the loop is busy is
    kept for its next wait, so a task enqueued between a claim that found nothing and the
    wait is not left for the poll. Task threads wait on it too (django-ox's pauses between
    retries of an outcome write): for them it is the stop flag alone."""

    def __init__(self) -> None:
        self._condition = threading.Condition(threading.Lock())
        self._stopped = False
        self._woken = False
        # Set while the database is away: no wait of the loop is longer than this.
        self.longest_wait: float | None = None
        self.loop_thread: int | None = None

    def is_set(self) -> bool:
        return self._stopped

    def set(self) -> None:
        with self._condition:
            self._stopped = True
            self._condition.notify_all()

    def wake(self) -> None:
        with self._condition:
            self._woken = True
            self._condition.notify_all()

    def wait(self, timeout: float | None = None) -> bool:
        loop = threading.get_ident() == self.loop_thread
        if loop and self.longest_wait is not None:
            timeout = self.longest_wait if timeout is None else min(timeout, self.longest_wait)
        with self._condition:
            self._condition.wait_for(lambda: self._stopped or (loop and self._woken), timeout)
            if loop:
                self._woken = False
            return self._stopped


class Worker(ox.Worker):
    # django-ox's stop flag (a threading.Event), replaced by one that also wakes.
    _stop: StopOrWake  # type: ignore[assignment]

    def __init__(self, **options) -> None:
        super().__init__(**options)
        self._stop = StopOrWake()
        self._listener_stop = threading.Event()
        # Task paths this worker's code cannot import; replaced, never changed in place,
        # because task threads add to it while the loop reads it.
        self.cannot_import: frozenset[str] = frozenset()

    # -- wake-up -----------------------------------------------------------------------

    def run(self) -> None:
        self._stop.loop_thread = threading.get_ident()
        listener = None
        settings_dict = connections[self._db_alias].settings_dict
        if settings_dict.get("DISABLE_SERVER_SIDE_CURSORS"):
            # What `?pgbouncer=true` sets: a transaction pooler gives each transaction
            # any server connection, so a LISTEN would hear nothing.
            logger.info(
                "Behind a transaction pooler: polling every %.1fs, no LISTEN",
                self.poll_interval,
                extra={"event": "worker_polling_only", "worker_id": self.worker_id},
            )
        else:
            params = connections[self._db_alias].get_connection_params()
            listener = threading.Thread(
                target=self._listen, args=(KEEPALIVES | params,), name="listen", daemon=True
            )
            listener.start()
        try:
            super().run()
        finally:
            self._listener_stop.set()
            if listener is not None:
                listener.join(timeout=LISTEN_SLICE + 5)

    def _listen(self, params: dict) -> None:
        delay = RECONNECT_FIRST
        lost = False
        while not self._listener_stop.is_set():
            try:
                with psycopg.connect(**params, autocommit=True) as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    logger.info(
                        "Listening for ready tasks%s",
                        " again" if lost else "",
                        extra={"event": "worker_listening", "worker_id": self.worker_id},
                    )
                    # Whatever became ready while nobody listened.
                    self._stop.wake()
                    delay, lost = RECONNECT_FIRST, False
                    while not self._listener_stop.is_set():
                        for _ in connection.notifies(timeout=LISTEN_SLICE):
                            self._stop.wake()
            except psycopg.Error as exc:
                if not lost:
                    logger.warning(
                        "Lost the connection that listens for ready tasks (%s); polling "
                        "every %.1fs until it is back",
                        type(exc).__name__,
                        self.poll_interval,
                        extra={"event": "worker_listen_lost", "worker_id": self.worker_id},
                    )
                lost = True
                self._listener_stop.wait(delay)
                delay = min(delay * 2, RECONNECT_MAX)

    def claim_one(self) -> OxTask | None:
        try:
            claimed = super().claim_one()
        except Error:
            self._stop.longest_wait = OUTAGE_RETRY
            raise
        self._stop.longest_wait = None
        return claimed

    # -- rolling updates ---------------------------------------------------------------

    def claim_filter_q(self) -> Q | None:
        return ~Q(task_path__in=self.cannot_import) if self.cannot_import else None

    def claim_filter_sql(self) -> tuple[str, dict]:
        if not self.cannot_import:
            return "", {}
        return ' AND NOT ("task_path" = ANY(%(cannot_import)s))', {
            "cannot_import": sorted(self.cannot_import)
        }

    def execute(self, db_task: OxTask, *, inline: bool = False) -> None:
        try:
            import_string(db_task.task_path)
        except ImportError:
            self.cannot_import |= {db_task.task_path}
            self._leave(db_task)
            return
        super().execute(db_task, inline=inline)

    def _leave(self, db_task: OxTask) -> None:
        """Put a claimed task back as it was before the claim, its attempt refunded, for
        a worker whose code has it. Pinned to this claim's lease: if the reaper already
        took the row, this changes nothing."""
        refunded = db_task.attempts - 1
        left = (
            OxTask.objects.using(self._db_alias)
            .filter(
                pk=db_task.pk,
                status=OxTask.Status.RUNNING,
                locked_by=self.worker_id,
                lease_epoch=db_task.lease_epoch,
            )
            .update(
                status=OxTask.Status.READY,
                locked_by=None,
                locked_at=None,
                lease_expires_at=None,
                lease_epoch=db_task.lease_epoch + 1,
                attempts=refunded,
                worker_ids=db_task.worker_ids[:-1],
                **({"started_at": None} if refunded == 0 else {}),
            )
        )
        logger.warning(
            "Task id=%s path=%s is not in this worker's code (an older release?); left "
            "on the queue for a worker that has it, attempt not used",
            db_task.pk,
            db_task.task_path,
            extra={
                "event": "task_left_for_newer_worker",
                "worker_id": self.worker_id,
                "task_id": str(db_task.pk),
                "task_path": db_task.task_path,
                "released": bool(left),
            },
        )
