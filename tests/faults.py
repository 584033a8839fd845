"""Tools to hurt a served project on purpose, and to count what it did about it.

- `DatabaseProxy`: a TCP proxy in the test process between the app and Postgres. Taking
  it down refuses new connections and cuts open ones, as a Postgres restart does, for
  one test's app only: the Postgres cluster the other tests share never notices.
- `TableLock`: holds a lock on a table from a psql session: an exclusive one, so every
  query on it is stuck until Postgres' statement timeout cancels it, or a reader's, as a
  long read holds it, which a migration's ALTER TABLE must wait for.
- `Readers`: a psql client reading a table over and over, timing each read.
- `Load`: a bounded number of threads sending a bounded number of requests (plain
  http.client, one connection per request) for a bounded time, recording every outcome.
- `flood_body()`: one request whose body is far too large, sent as fast as the server
  takes it, while `TempFiles` measures what the server's processes hold in their
  temporary directory.
"""

import http.client
import itertools
import os
import re
import select
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from urllib.parse import urlencode

from bakery import POSTGRES_URL, SLUG, database_url
from server import descendants, free_port

HOST = "app.example.com"
ORIGIN = f"https://{HOST}"
# What the platform's router (a trusted proxy on loopback) sends with every request.
HTTPS = {"Host": HOST, "X-Forwarded-Proto": "https"}
NOTES_TABLE = f"{SLUG}_note"


# --- One request ---------------------------------------------------------------------


@dataclass
class Outcome:
    """What became of one request, as its client saw it."""

    action: str
    started: float
    ended: float = 0.0
    sent: float | None = None  # when the whole request had been written to the socket
    connected: bool = False  # the TCP connection was made (the server's kernel took it)
    status: int | None = None  # None: no HTTP response came back
    error: str | None = None  # why there was no response
    note: str | None = None  # the text a write tried to save
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)

    @property
    def answered(self) -> bool:
        return self.status is not None

    @property
    def refused(self) -> bool:
        return not self.connected

    @property
    def dropped(self) -> bool:
        """Connected, but the connection ended without an answer."""
        return self.connected and self.status is None

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)


def send(
    port: int,
    method: str,
    path: str,
    *,
    action: str = "",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 20,
    note: str | None = None,
    source: str | None = None,
) -> Outcome:
    """One request on a fresh connection, closed afterwards: an outcome per connection.
    `source`: the local address to connect from (another 127.x.y.z is not a trusted proxy)."""
    outcome = Outcome(action=action or f"{method} {path}", started=time.monotonic(), note=note)
    connection = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=timeout, source_address=source and (source, 0)
    )
    try:
        connection.connect()
        outcome.connected = True
        connection.request(
            method, path, body=body, headers=HTTPS | {"Connection": "close"} | (headers or {})
        )
        outcome.sent = time.monotonic()
        response = connection.getresponse()
        outcome.status, outcome.headers = response.status, response.getheaders()
        outcome.body = response.read()
    except (OSError, http.client.HTTPException) as error:
        if outcome.status is None:
            outcome.error = type(error).__name__
    finally:
        connection.close()
        outcome.ended = time.monotonic()
    return outcome


@dataclass(frozen=True)
class Csrf:
    """A CSRF cookie and form token pair, as a browser would hold after loading a form."""

    cookie: str
    token: str

    @classmethod
    def fetch(cls, port: int, path: str = "/notes/") -> "Csrf":
        page = send(port, "GET", path)
        assert page.status == 200, (page.status, page.error, page.body[:300])
        cookie = re.search(r"csrftoken=([^;]+)", page.header("set-cookie") or "")
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.body)
        assert cookie and token, page.headers
        return cls(cookie.group(1), token.group(1).decode())

    def post(
        self,
        port: int,
        path: str,
        fields: dict[str, str],
        *,
        action: str = "",
        note: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Outcome:
        body = urlencode({"csrfmiddlewaretoken": self.token, **fields}).encode()
        headers = {
            "Cookie": f"csrftoken={self.cookie}",
            "Origin": ORIGIN,
            "Content-Type": "application/x-www-form-urlencoded",
        } | (headers or {})
        return send(
            port,
            "POST",
            path,
            action=action or f"POST {path}",
            body=body,
            headers=headers,
            note=note,
        )


def write_note(port: int, csrf: Csrf, prefix: str) -> Outcome:
    """The example app's write; its 302 (back to the notes page) acknowledges it."""
    note = f"{prefix}-{uuid.uuid4().hex[:12]}"
    return csrf.post(port, "/notes/", {"text": note}, action="write", note=note)


def read_notes(port: int) -> Outcome:
    """The notes page, which reads the latest notes."""
    return send(port, "GET", "/notes/", action="read")


# --- Load ----------------------------------------------------------------------------


class Load:
    """Threads sending requests until told to stop, or until a bound on count or time.

    `plan` maps a name to (threads, action): the action sends one request and returns
    its Outcome. A thread whose connection is refused stops: the server is gone.
    """

    def __init__(
        self,
        plan: dict[str, tuple[int, Callable[[], Outcome]]],
        *,
        max_requests: int,
        max_seconds: float,
    ):
        self.max_requests = max_requests
        self.max_seconds = max_seconds
        self.outcomes: list[Outcome] = []
        self._stop = threading.Event()
        self._tickets = itertools.count()
        self._threads = [
            threading.Thread(target=self._run, args=(action,), name=f"load-{name}", daemon=True)
            for name, (threads, action) in plan.items()
            for _ in range(threads)
        ]

    def __enter__(self) -> "Load":
        return self.start()

    def start(self) -> "Load":
        self._deadline = time.monotonic() + self.max_seconds
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _run(self, action: Callable[[], Outcome]) -> None:
        while not self._stop.is_set() and time.monotonic() < self._deadline:
            if next(self._tickets) >= self.max_requests:
                return
            outcome = action()
            self.outcomes.append(outcome)
            if outcome.refused:
                return

    def stop(self, timeout: float = 30) -> None:
        """Send no new requests; wait for the ones in flight."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=timeout)
        assert not any(thread.is_alive() for thread in self._threads), "a client hung"

    def wait(self, timeout: float) -> None:
        """Let the load run out on its own bounds."""
        for thread in self._threads:
            thread.join(timeout=timeout)
        self.stop()

    def summary(self) -> str:
        counts = Counter(
            f"{o.action} {o.status if o.answered else o.error or 'refused'}" for o in self.outcomes
        )
        return ", ".join(f"{key}: {n}" for key, n in sorted(counts.items()))


# --- Bodies too large --------------------------------------------------------------


def flood_body(
    port: int,
    path: str,
    size: int,
    *,
    chunked: bool,
    headers: dict[str, str],
    prefix: bytes = b"",
    timeout: float = 30,
) -> tuple[int | None, int]:
    """POST a body of `size` bytes (`prefix`, then filler), with a Content-Length or
    chunked, until the server answers or stops reading. Returns the status (None: the
    connection was cut without one) and how many body bytes the server took."""
    filler = b"x" * 65_536
    lines = [f"POST {path} HTTP/1.1", *(f"{k}: {v}" for k, v in (HTTPS | headers).items())]
    lines.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}")
    deadline = time.monotonic() + timeout
    produced, pending, sent = 0, b"", 0
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall("\r\n".join([*lines, "", ""]).encode())
        sock.setblocking(False)
        while (produced < size or pending) and time.monotonic() < deadline:
            readable, writable, _ = select.select([sock], [sock], [], 1)
            if readable:
                break  # the server answered without waiting for the rest
            if not writable:
                continue
            if not pending:
                data = (prefix if produced == 0 else b"") + filler
                data = data[: size - produced]
                produced += len(data)
                pending = b"%x\r\n%s\r\n" % (len(data), data) if chunked else data
                if chunked and produced >= size:
                    pending += b"0\r\n\r\n"
            try:
                count = sock.send(pending)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                break  # reset: the server closed with our bytes unread
            pending, sent = pending[count:], sent + count
        sock.setblocking(True)
        sock.settimeout(max(1.0, deadline - time.monotonic()))
        try:
            head = sock.recv(65_536)
        except OSError:
            return None, sent
    match = re.match(rb"HTTP/1\.[01] (\d{3})", head)
    return (int(match.group(1)) if match else None), sent


class TempFiles:
    """Samples, in a thread, the bytes a server's processes keep in one temporary
    directory: files in it, and files they hold open there after deleting them (Python's
    TemporaryFile and SpooledTemporaryFile never show a name)."""

    def __init__(self, directory, server_pid: int, interval: float = 0.01):
        self.directory = os.path.realpath(directory)
        self.server_pid = server_pid
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> "TempFiles":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.bytes_held())
            time.sleep(self.interval)

    def bytes_held(self) -> int:
        seen: dict[tuple[int, int], int] = {}
        for root, _, names in os.walk(self.directory):
            for name in names:
                with suppress(OSError):
                    stat = os.stat(os.path.join(root, name))
                    seen[(stat.st_dev, stat.st_ino)] = stat.st_size
        for pid in {self.server_pid, *descendants(self.server_pid)}:
            with suppress(OSError):
                for fd in os.listdir(f"/proc/{pid}/fd"):
                    with suppress(OSError):
                        target = os.readlink(f"/proc/{pid}/fd/{fd}")
                        if target.startswith(self.directory + "/"):
                            stat = os.stat(f"/proc/{pid}/fd/{fd}")
                            seen[(stat.st_dev, stat.st_ino)] = stat.st_size
        return sum(seen.values())


@contextmanager
def workers_frozen(server, sig: int):
    """Stop (SIGSTOP) a server's worker processes, so that new connections wait in the
    listen queue; on leaving, `sig` goes to its master, and the workers go on once the
    master has passed the signal on to them (it is pending in each)."""
    workers = descendants(server.process.pid)
    for pid in workers:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
        server.process.send_signal(sig)
        deadline = time.monotonic() + 10
        while not all(_pending(pid, sig) for pid in workers):
            assert time.monotonic() < deadline, f"the master did not pass signal {sig} on"
            time.sleep(0.01)
    finally:
        for pid in workers:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


def _pending(pid: int, sig: int) -> bool:
    """Whether `sig` waits to be delivered to a (stopped) process, from /proc (Linux)."""
    with suppress(OSError), open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("ShdPnd:"):
                return bool(int(line.split()[1], 16) >> (sig - 1) & 1)
    return True  # gone: nothing left to wait for


# --- The database --------------------------------------------------------------------


def query(database: str, sql: str) -> list[str]:
    """Rows of a query on the test's database, one string per row."""
    result = subprocess.run(
        ["psql", database_url(database), "--no-psqlrc", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return result.stdout.splitlines()


def saved_notes(database: str, prefix: str) -> set[str]:
    return set(query(database, f"SELECT text FROM {NOTES_TABLE} WHERE text LIKE '{prefix}-%'"))


class DatabaseProxy:
    """A TCP proxy between one test's app and Postgres that the test can take down.

    `down()` is what the app sees when Postgres restarts: open connections are cut and
    new ones refused. `up()` listens again on the same port.
    """

    def __init__(self, upstream: str = POSTGRES_URL):
        address = upstream.split("@", 1)[-1].split("/", 1)[0]
        host, _, port = address.rpartition(":")
        self.upstream = (host or "127.0.0.1", int(port or 5432))
        self.port = free_port()
        self.connections = 0
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    def __enter__(self) -> "DatabaseProxy":
        return self

    def __exit__(self, *exc) -> None:
        self.down()

    def url(self, database: str) -> str:
        """DATABASE_URL for the app: through the proxy, with the shared server's user."""
        proxied, replaced = re.subn(r"@[^/]+/", f"@127.0.0.1:{self.port}/", database_url(database))
        assert replaced == 1, "TEST_POSTGRES_URL must name user@host:port"
        return proxied

    def up(self) -> None:
        for _ in range(50):  # the port was free a moment ago; a TIME_WAIT may linger
            try:
                listener = socket.create_server(("127.0.0.1", self.port))
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError(f"proxy port {self.port} stayed busy")
        listener.settimeout(0.2)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        with self._lock:
            sockets, self._open = self._open, set()
        for sock in sockets:
            _cut(sock)

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            client.settimeout(None)
            upstream.settimeout(None)
            with self._lock:
                if self._listener is not listener:  # went down meanwhile
                    _cut(client)
                    _cut(upstream)
                    return
                self._open |= {client, upstream}
                self.connections += 1
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._open -= {source, target}
            _cut(source)
            _cut(target)


def _cut(sock: socket.socket) -> None:
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


class HeldLock:
    """A lock taken by a psql session (`statement`) and held until released."""

    def __init__(self, database: str, statement: str):
        self.database = database
        self.statement = statement

    def __enter__(self) -> "HeldLock":
        self.psql = subprocess.Popen(
            # Query results go nowhere; \echo still writes to stdout.
            ["psql", database_url(self.database), "--no-psqlrc", "-q", "-o", "/dev/null"]
            + ["-v", "ON_ERROR_STOP=1"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.psql.stdin.write(f"BEGIN;\n{self.statement};\n\\echo locked\n")
        self.psql.stdin.flush()
        line = self.psql.stdout.readline()
        assert line.strip() == "locked", line
        return self

    def __exit__(self, *exc) -> None:
        self.psql.communicate("ROLLBACK;\n", timeout=10)


class TableLock(HeldLock):
    """A lock on a table, held by a psql session until released.

    ACCESS EXCLUSIVE (the default): every query that touches the table waits for it,
    which is how a stuck query looks from the app: only Postgres' statement timeout
    ends the wait. ACCESS SHARE: what a long SELECT holds; reads go on beside it, but an
    ALTER TABLE waits for it, and every later read waits behind the ALTER TABLE.
    """

    def __init__(self, database: str, table: str, mode: str = "ACCESS EXCLUSIVE"):
        super().__init__(database, f"LOCK TABLE {table} IN {mode} MODE")


class Readers:
    """One psql session reading a table over and over until stopped, timing each read:
    what a web request's query on that table would wait."""

    def __init__(self, database: str, table: str):
        self.database = database
        self.table = table
        self.waits: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "Readers":
        self.psql = subprocess.Popen(
            ["psql", database_url(self.database), "--no-psqlrc", "-qAt"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            self.psql.stdin.write(f"SELECT count(*) FROM {self.table};\n")
            self.psql.stdin.flush()
            line = self.psql.stdout.readline()
            if not line:
                return
            self.waits.append(time.monotonic() - started)
            time.sleep(0.05)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self.psql.communicate("\\q\n", timeout=10)

    @property
    def longest(self) -> float:
        return max(self.waits, default=0.0)
