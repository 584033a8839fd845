"""Backing services for boot tests, on loopback: this suite's own Redis database and a
real SMTP server inside the test process."""

import email
import email.policy
import os
import threading
from contextlib import contextmanager
from email.message import EmailMessage

import pytest
import redis
from aiosmtpd.controller import Controller

from server import free_port

# The machine's Redis; database 9 belongs to these tests, and only it is ever flushed.
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/9")
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


@contextmanager
def smtp_server():
    """An SMTP server on a free loopback port, in this process; yields (inbox, port)."""
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()
