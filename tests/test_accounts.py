"""A user who forgot their password gets an email from the booted project through a real
SMTP server (STARTTLS and a password, as a mail provider requires), sent by the worker,
follows its link, sets a new password and signs in with it; the form answers an unknown
address alike. Mail also goes out through a server that speaks TLS from the first byte
(smtps://, Amazon SES's port 465). Sign-in throttling is proved on two processes in
tests/test_stateless.py."""

import re
import time

import pytest

from backing import REDIS_URL, redis_database, smtp_server
from bakery import collect_static
from faults import HOST
from server import serve
from visitor import Visitor, create_user, signs_in

pytestmark = pytest.mark.boot


def test_a_forgotten_password_is_reset_through_the_emailed_link(project, migrated, tmp_path):
    collect_static(project)
    old_password, new_password = "the old passphrase 1234", "a brand new passphrase 5678"
    name, address = create_user(project, migrated, old_password)
    with redis_database(), smtp_server() as mail:
        environ = migrated | mail.environ | {"CACHE_URL": REDIS_URL}
        worker_env = environ | {"TASKS_HEARTBEAT_FILE": str(tmp_path / "heartbeat")}
        with serve(project, environ) as server, serve(project, worker_env, "worker"):
            server.wait_until_serving()
            visitor = Visitor()
            asked, took = timed(visitor.submit, server, "/accounts/password_reset/", address)
            assert (asked.status, asked.location) == (302, "/accounts/password_reset/done/")
            unknown = f"nobody-{name}@example.org"
            stranger, took_unknown = timed(
                Visitor().submit, server, "/accounts/password_reset/", unknown
            )
            assert (stranger.status, stranger.location, stranger.text) == (
                asked.status,
                asked.location,
                asked.text,
            )
            # The email goes from the worker, after the answer: nothing to time apart.
            print(
                f"reset answered in {took * 1000:.0f} ms (known), "
                f"{took_unknown * 1000:.0f} ms (unknown)"
            )

            (message,) = mail.inbox.wait_for(1)  # none for the unknown address
            assert message["To"] == address
            assert message["From"] == "noreply@example.com"
            body = message.get_content()
            link = re.search(rf"https://{re.escape(HOST)}(/accounts/reset/\S+/)", body)
            assert link, body

            opened = visitor.get(server, link.group(1))
            assert opened.status == 302, opened.text[:300]  # the token moves into the session
            changed = visitor.submit(
                server,
                opened.location,
                {"new_password1": new_password, "new_password2": new_password},
            )
            assert (changed.status, changed.location) == (302, "/accounts/reset/done/")

            assert signs_in(Visitor(), server, name, new_password)
            assert not signs_in(Visitor(), server, name, old_password)
            reused = Visitor().get(server, link.group(1))
            assert "expired or was already used" in reused.text
        assert server.errors == [], server.errors


def test_mail_goes_out_over_tls_from_the_first_byte(project, migrated):
    with smtp_server(implicit_tls=True) as mail:
        assert mail.environ["EMAIL_URL"].startswith("smtps://")
        project.run(
            "python", "manage.py", "sendtestemail", "ops@example.com", env=migrated | mail.environ
        )
        (message,) = mail.inbox.wait_for(1)
    assert message["To"] == "ops@example.com"


def timed(submit, server, path: str, email: str):
    started = time.monotonic()
    page = submit(server, path, {"email": email})
    return page, time.monotonic() - started
