"""Backing services for boot tests, on loopback: this suite's own Redis database and a
real SMTP submission server (STARTTLS, password) inside the test process."""

import email
import email.policy
import os
import ssl
import subprocess
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import quote

import pytest
import redis
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from server import free_port

# The machine's Redis; database 9 belongs to these tests, and only it is ever flushed.
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/9")
# Characters that must be percent-encoded in EMAIL_URL, to prove they arrive intact.
SMTP_LOGIN = ("postmaster@app.example.com", "p@ss:w/rd")
REDIS_START = (
    "redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save '' "
    "--appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log"
)


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
