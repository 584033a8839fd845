"""PostgreSQL for development, started from a wheel when DATABASE_URL is not set.

The server is the production major version (config/devpostgres.py names the package
that ships it), its data in .postgres/ (git-ignored), reached only through a Unix socket
in that folder: nothing listens on the network, and two checkouts never share a server.
The first process that needs it runs initdb (a few seconds, once) and starts it; the
others (a second bin/dev, a manage.py command beside a running one, the tests) reuse it;
the last of them to exit stops it.

The package keeps the users' process ids in the data folder. A process killed with
SIGKILL never removes its own, and the server would then outlive every real user:
the next start drops the ids of processes that are gone. A server killed outright
leaves a stale postmaster.pid and socket lock, which PostgreSQL itself recovers from.

As root (a container, CI), PostgreSQL refuses to run: the package runs it as a system
user of its own, which it creates with useradd, and makes the folders above the data
and the binaries readable and traversable by others so that user can reach them.
"""

import json
import os
import warnings
from pathlib import Path
from urllib.parse import quote

DATA_DIR = Path(__file__).resolve().parent.parent / ".postgres"
# The package's list of the processes using the server, in the data folder.
USERS_FILE = DATA_DIR / ".handle_pids.json"


def development_database_url() -> str:
    """A postgres:// URL of the development server, started or reused."""
    with warnings.catch_warnings():
        # platformdirs warns, once per import, where XDG_RUNTIME_DIR is unset (root, CI,
        # containers) and uses /tmp/runtime-<uid> for the package's lock instead.
        warnings.simplefilter("ignore")
        from config.devpostgres import get_server, server_lock

    with server_lock:
        _forget_killed_users()
    server = get_server(DATA_DIR, cleanup_mode="stop")
    socket_dir = server.get_postmaster_info().socket_dir
    # libpq takes a host that starts with a slash as the folder of a Unix socket.
    return f"postgres://postgres@{quote(str(socket_dir), safe='')}/postgres"


def _forget_killed_users() -> None:
    try:
        users = json.loads(USERS_FILE.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return
    alive = [pid for pid in users if _running(pid)]
    if alive != users:
        USERS_FILE.write_text(json.dumps(alive))


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, as another user (the server's, when run by root)
        return True
    return True
