"""Backing services for boot tests, on loopback: this suite's own Redis database, a
redis-server of a test's own (plain or TLS), a real SMTP submission server (STARTTLS,
password) inside the test process, and a real PgBouncer in transaction mode in front of
the shared Postgres."""

import contextlib
import email
import email.policy
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import quote

import pytest
import redis
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from bakery import POSTGRES_URL
from server import free_port

# The machine's Redis; database 9 belongs to these tests (9, 8, ... under pytest-xdist:
# one per worker, gw0, gw1, ...), and only it is ever flushed.
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
_BASE, _, _FIRST = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/9").rpartition("/")
REDIS_URL = f"{_BASE}/{int(_FIRST) - _WORKER}"
# Characters that must be percent-encoded in EMAIL_URL, to prove they arrive intact.
SMTP_LOGIN = ("postmaster@app.example.com", "p@ss:w/rd")
POSTGRES_PORT = int(POSTGRES_URL.rsplit(":", 1)[-1].split("/", 1)[0])
REDIS_START = (
    "redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save '' "
    "--appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log"
)


def self_signed_certificate(directory: str) -> tuple[str, str]:
    """(certificate, key) files for 127.0.0.1, signed by nobody but themselves, as a
    managed service's internal chain looks to a client that does not know its CA."""
    certificate, key = f"{directory}/cert.pem", f"{directory}/key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            key,
            "-out",
            certificate,
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            # Python 3.13 verifies strictly: a self-signed certificate must say it is a CA.
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,digitalSignature,keyCertSign",
        ],
        check=True,
        capture_output=True,
    )
    return certificate, key


@contextmanager
def redis_database():
    """A client of the tests' Redis database, empty at start and at exit."""
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.ConnectionError as error:
        pytest.fail(
            f"Redis is not answering at {REDIS_URL} ({error}).\n"
            f"Start it (.ci/run does when it is down): {REDIS_START}"
        )
    client.flushdb()
    try:
        yield client
    finally:
        client.flushdb()
        client.close()


class Inbox:
    """What the SMTP server received, as parsed messages."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self._arrived = threading.Condition()

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's name)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._arrived:
            self.messages.append(message)
            self._arrived.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, count: int = 1, timeout: float = 15) -> list[EmailMessage]:
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.messages) >= count, timeout):
                raise AssertionError(f"{len(self.messages)} of {count} emails arrived")
            return list(self.messages)


@dataclass
class MailServer:
    inbox: Inbox
    # What the project is given: EMAIL_URL, and the server's certificate to trust.
    environ: dict[str, str]


@contextmanager
def smtp_server(implicit_tls: bool = False):
    """A submission server as mail providers run them, in this process on a free
    loopback port: STARTTLS required (a self-signed certificate for 127.0.0.1, which the
    project trusts through SSL_CERT_FILE), then a user name and password. With
    `implicit_tls`, TLS from the first byte instead, as on port 465 (smtps://)."""
    inbox, port = Inbox(), free_port()
    with tempfile.TemporaryDirectory() as directory:
        certificate, key = self_signed_certificate(directory)
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(certificate, key)
        encryption = (
            # The whole session is TLS; aiosmtpd counts only STARTTLS as TLS for AUTH.
            {"ssl_context": tls, "auth_require_tls": False}
            if implicit_tls
            else {"tls_context": tls, "require_starttls": True}
        )
        controller = Controller(
            inbox,
            hostname="127.0.0.1",
            port=port,
            auth_required=True,
            authenticator=_authenticate,
            **encryption,
        )
        controller.start()
        try:
            user, password = (quote(part, safe="") for part in SMTP_LOGIN)
            scheme = "smtps" if implicit_tls else "smtp"
            url = f"{scheme}://{user}:{password}@127.0.0.1:{port}"
            yield MailServer(inbox, {"EMAIL_URL": url, "SSL_CERT_FILE": certificate})
        finally:
            controller.stop()


def _authenticate(server, session, envelope, mechanism, data) -> AuthResult:
    login = (
        (data.login.decode(), data.password.decode()) if isinstance(data, LoginPassword) else None
    )
    return AuthResult(success=login == SMTP_LOGIN)


@dataclass
class Pooler:
    """A PgBouncer in front of the shared Postgres, on its own loopback port."""

    port: int
    certificate: str  # the root a client verifies the pooler's TLS certificate with

    def url(self, user: str, database: str) -> str:
        """DATABASE_URL through the pooler, with the pooler flag the project reads."""
        return f"postgres://{user}@127.0.0.1:{self.port}/{database}?pgbouncer=true"


@contextmanager
def pgbouncer(users: list[str], pool_size: int = 2):
    """Debian's PgBouncer in transaction mode, as the strictest poolers run it: each
    transaction on any of `pool_size` server connections per user, no protocol-level
    prepared statements (1.18 has none; later versions are told to have none), no reset
    between clients. Clients may use TLS, as managed Postgres requires, with a
    certificate for 127.0.0.1 (`Pooler.certificate`). It refuses to run as root, so it
    runs as the postgres user."""
    executable = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    if not os.path.exists(executable):
        pytest.fail("pgbouncer is missing: .ci/run installs it (apt-get install pgbouncer)")
    port = free_port()
    directory = tempfile.mkdtemp(prefix="pgbouncer-")
    os.chmod(directory, 0o755)  # readable by the postgres user
    certificate, key = self_signed_certificate(directory)
    os.chmod(key, 0o644)  # the directory is removed with the pooler
    with open(os.path.join(directory, "users.txt"), "w") as users_file:
        users_file.writelines(f'"{user}" ""\n' for user in users)
    version = subprocess.run([executable, "--version"], capture_output=True, text=True).stdout
    major, minor = map(int, re.search(r"PgBouncer (\d+)\.(\d+)", version).groups())
    # The setting exists from 1.21 (and defaults to on from 1.24).
    prepared = "max_prepared_statements = 0\n" if (major, minor) >= (1, 21) else ""
    config = os.path.join(directory, "pgbouncer.ini")
    with open(config, "w") as ini:
        ini.write(
            "[databases]\n"
            f"* = host=127.0.0.1 port={POSTGRES_PORT}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
            f"auth_type = trust\nauth_file = {directory}/users.txt\n"
            f"pool_mode = transaction\ndefault_pool_size = {pool_size}\n"
            "max_client_conn = 200\n"
            f"client_tls_sslmode = allow\nclient_tls_cert_file = {certificate}\n"
            f"client_tls_key_file = {key}\n"
            f"{prepared}"
        )
    command = [executable, config]
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 10
        while True:
            assert process.poll() is None, process.communicate()[0]
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            assert time.monotonic() < deadline, "pgbouncer did not listen within 10 s"
            time.sleep(0.05)
        yield Pooler(port, certificate)
    finally:
        process.terminate()
        log = process.communicate(timeout=10)[0]
        shutil.rmtree(directory, ignore_errors=True)
        print(f"\npgbouncer log (last lines):\n{log[-1500:]}")


class RedisServer:
    """A redis-server of one test's own on a free loopback port, plain or TLS-only, that
    the test can freeze (SIGSTOP: a host that takes connections and never answers), kill
    and start again on the same port, as a managed Redis' failover or restart looks."""

    def __init__(self, directory: str, *, tls: bool = False) -> None:
        self.port = free_port()
        self.certificate = None
        self._process: subprocess.Popen | None = None
        self._arguments = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        if tls:
            self.certificate, key = self_signed_certificate(directory)
            self._arguments += ["--port", "0", "--tls-port", str(self.port)]
            self._arguments += ["--tls-cert-file", self.certificate, "--tls-key-file", key]
            # Clients present no certificate of their own; managed services ask none.
            self._arguments += ["--tls-auth-clients", "no"]
        else:
            self._arguments += ["--port", str(self.port)]
        self._arguments += ["--dir", directory]

    def url(self, query: str = "") -> str:
        scheme = "rediss" if self.certificate else "redis"
        return f"{scheme}://127.0.0.1:{self.port}/0{query}"

    def client(self, **options) -> redis.Redis:
        if self.certificate:
            options |= {"ssl_ca_certs": self.certificate}
        return redis.Redis.from_url(self.url(), socket_timeout=2, **options)

    def start(self) -> None:
        self._process = subprocess.Popen(
            ["redis-server", *self._arguments],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with suppress(redis.ConnectionError):
                if self.client(socket_connect_timeout=1).ping():
                    return
            time.sleep(0.05)
        raise AssertionError(f"redis-server never answered on port {self.port}")

    def freeze(self) -> None:
        self._process.send_signal(signal.SIGSTOP)

    def kill(self) -> None:
        """Gone at once, with whatever it held, as a crashed or replaced server."""
        self._process.kill()
        self._process.wait(timeout=10)

    def __enter__(self) -> "RedisServer":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._process.poll() is None:
            self.kill()
