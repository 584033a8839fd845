"""PostgreSQL for development, started from a wheel when DATABASE_URL is not set.

The server is the production major version (config/devpostgres.py names the package
that ships it), its data in .postgres/ (git-ignored), reached only through a Unix socket
in that folder: nothing listens on the network, and two checkouts never share a server.
The first process that needs it runs initdb (a few seconds, once) and starts it; the
others (a second bin/dev, a manage.py command beside a running one, the tests) reuse it;
the last of them to exit stops it.

A crash leaves state the next start clears first, under the package's lock:
- The package keeps its users' process ids in the data folder. A process killed with
  SIGKILL never removes its own, and the server would then outlive every real user:
  ids of processes that are gone, or that now belong to another process (ids are
  reused, quickly on a busy machine), are dropped.
- A server killed outright leaves postmaster.pid and its socket's lock file, naming a
  process that is gone, a zombie not yet reaped (an unreaped zombie counts as running
  to the package, to pg_ctl and to PostgreSQL itself, which then refuse to start) or,
  after a reboot, someone else. Both files are removed when that process is not a
  PostgreSQL server of this folder; PostgreSQL then recovers its data by itself.

As root (a container, CI), PostgreSQL refuses to run: the package runs it as a system
user of its own, which it creates with useradd, and makes the folders above the data
and the binaries readable and traversable by others so that user can reach them.
"""

import atexit
import json
import os
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import quote

DATA_DIR = Path(__file__).resolve().parent.parent / ".postgres"
# The package's list of the processes using the server, in the data folder, and the
# start time of each, so that an id taken over by another process is told apart.
USERS_FILE = DATA_DIR / ".handle_pids.json"
STARTS_FILE = DATA_DIR / ".handle_starts.json"


def development_database_url() -> str:
    """A postgres:// URL of the development server, started or reused."""
    with warnings.catch_warnings():
        # platformdirs warns, once per import, where XDG_RUNTIME_DIR is unset (root, CI,
        # containers) and uses /tmp/runtime-<uid> for the package's lock instead.
        warnings.simplefilter("ignore")
        from config.devpostgres import get_server, server_lock

    with server_lock:
        _prepare(os.getpid())
    server = get_server(DATA_DIR, cleanup_mode="stop")
    with server_lock:
        _record_start(os.getpid())  # again: a clean-up meanwhile drops those not listed
    # Runs before the package's own exit handler (registered by get_server), which stops
    # the server when its list holds no one else.
    atexit.register(_forget_gone_users_locked, server_lock)
    socket_dir = server.get_postmaster_info().socket_dir
    # libpq takes a host that starts with a slash as the folder of a Unix socket.
    return f"postgres://postgres@{quote(str(socket_dir), safe='')}/postgres"


def _prepare(pid: int) -> None:
    """Before the package lists `pid` as a user: clear what a crash left, and record
    pid's start time over one an earlier process with the same id may have left (ids
    come back within minutes where pid_max is 32768). Recorded only after the listing,
    another process's clean-up in between would take the new user for the old one, gone,
    and drop it; the last of the others to exit would then stop the server under it."""
    _forget_gone_users()
    _forget_dead_server()
    if (DATA_DIR / "PG_VERSION").exists():  # a new folder: no earlier users; initdb wants it empty
        _record_start(pid)


def _read_json(path: Path, missing: Any) -> Any:
    """The file's value; `missing` without the file; None when it cannot be read, as a
    process killed while writing it leaves it (empty)."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return missing
    except json.JSONDecodeError:
        return None


def _started(pid: int) -> float | None:
    """When process `pid` started, None if it is gone or a zombie."""
    import psutil  # installed with the server's package, a development dependency

    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
        return round(process.create_time(), 2)
    except psutil.NoSuchProcess:
        return None


def _forget_gone_users() -> None:
    # An unreadable list (None) is written again: the package cannot start from it.
    users, starts = _read_json(USERS_FILE, []), _read_json(STARTS_FILE, {}) or {}
    alive = {}
    for pid in users or []:
        started = _started(pid)
        if started is not None and starts.get(str(pid), started) == started:
            alive[str(pid)] = started
    if list(map(int, alive)) != users or starts != alive:
        USERS_FILE.write_text(json.dumps(list(map(int, alive))))
        STARTS_FILE.write_text(json.dumps(alive))


def _forget_gone_users_locked(lock: Any) -> None:
    with lock:
        _forget_gone_users()


def _record_start(pid: int) -> None:
    starts = _read_json(STARTS_FILE, {}) or {}
    STARTS_FILE.write_text(json.dumps(starts | {str(pid): _started(pid)}))


def _forget_dead_server() -> None:
    """Remove the lock files of a server that no longer runs."""
    pid_file = DATA_DIR / "postmaster.pid"
    try:
        # pid, data folder, start time, port, socket folder, ...
        lines = pid_file.read_text().splitlines()
        pid, port, socket_dir = int(lines[0]), lines[3].strip(), lines[4].strip()
    except (FileNotFoundError, ValueError, IndexError):
        return
    if _serves_this_folder(pid):
        return
    pid_file.unlink(missing_ok=True)
    if socket_dir:
        (Path(socket_dir) / f".s.PGSQL.{port}.lock").unlink(missing_ok=True)


def _serves_this_folder(pid: int) -> bool:
    import psutil

    try:
        process = psutil.Process(pid)
        return process.status() != psutil.STATUS_ZOMBIE and str(DATA_DIR) in process.cmdline()
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:  # cannot tell: PostgreSQL's own check decides
        return True
