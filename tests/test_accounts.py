"""A user who forgot their password gets an email from the booted project through a real
SMTP server (STARTTLS and a password, as a mail provider requires), sent by the worker,
follows its link, sets a new password and signs in with it; the form answers an unknown
address alike. Mail also goes out through a server that speaks TLS from the first byte
(smtps://, Amazon SES's port 465). Sign-in is throttled per account and client address,
on two processes."""

import json
import re
import time

import pytest

from backing import REDIS_URL, redis_database, smtp_server
from bakery import collect_static
from faults import HOST
from server import serve
from visitor import Visitor, create_user

pytestmark = pytest.mark.boot


def sign_in(visitor: Visitor, server, name: str, password: str) -> bool:
    page = visitor.submit(server, "/accounts/login/", {"username": name, "password": password})
    return page.status == 302 and "Signed in as " + name in visitor.get(server, "/").text


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

            assert sign_in(Visitor(), server, name, new_password)
            assert not sign_in(Visitor(), server, name, old_password)
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


ATTACKER = "203.0.113.10"  # the client address, as the trusted proxy (loopback) reports it
WRONG = "not the passphrase 0000"
FAILURE_LIMIT = 10


def behind_proxy(address: str) -> Visitor:
    return Visitor(headers={"X-Forwarded-For": address})


def untrusted_peer(claimed: str) -> Visitor:
    """A client on 127.0.0.2 (not in FORWARDED_ALLOW_IPS) claiming another address."""
    headers = {"X-Forwarded-For": claimed, "Origin": f"http://{HOST}"}
    return Visitor(headers=headers, source="127.0.0.2")


def lockouts(*servers) -> list[dict]:
    events = [json.loads(line) for server in servers for line in server.lines if "{" in line[:1]]
    return [event for event in events if event.get("logger") == "config.signin"]


def test_a_password_list_is_stopped_for_that_account_from_that_address(project, migrated):
    collect_static(project)
    password = "the one true passphrase 4321"
    name, _ = create_user(project, migrated, password)
    neighbour, _ = create_user(project, migrated, password)
    # Plain HTTP served as it is: a peer that is not a trusted proxy cannot say HTTPS.
    environ = migrated | {"CACHE_URL": REDIS_URL, "SECURE_SSL_REDIRECT": "false"}
    with (
        redis_database(),
        serve(project, environ) as first,
        serve(project, environ) as second,
    ):
        first.wait_until_serving()
        second.wait_until_serving()
        attacker = behind_proxy(ATTACKER)
        statuses = [
            attacker.submit(
                (first, second)[n % 2], "/accounts/login/", {"username": name, "password": WRONG}
            ).status
            for n in range(FAILURE_LIMIT + 1)
        ]
        # Counted across both processes: refused from the tenth failure on.
        assert statuses == [200] * (FAILURE_LIMIT - 1) + [429, 429], statuses

        refused = attacker.submit(
            first, "/accounts/login/", {"username": name, "password": password}
        )
        assert refused.status == 429
        assert "Try again in 15 minutes" in refused.text
        admin = attacker.submit(
            second,
            "/admin/login/?next=/admin/",
            {"username": name, "password": password, "next": "/admin/"},
        )
        assert admin.status == 429

        assert sign_in(behind_proxy(ATTACKER), first, neighbour, password)
        assert sign_in(behind_proxy("203.0.113.11"), second, name, password)

        (lockout,) = lockouts(first, second)
        assert lockout["level"] == "WARNING"
        assert (lockout["account"], lockout["remote_addr"]) == (name, ATTACKER)
        assert lockout["failures"] == FAILURE_LIMIT
        assert WRONG not in first.log + second.log

        # A peer that is not a trusted proxy is known by its own address, whatever
        # X-Forwarded-For it claims: claiming the locked-out one changes nothing.
        spoofer = untrusted_peer(ATTACKER)
        assert sign_in(spoofer, second, name, password)
        assert len(lockouts(first, second)) == 1
    assert first.errors == second.errors == [], first.errors + second.errors
