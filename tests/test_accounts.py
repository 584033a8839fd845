"""A user who forgot their password gets an email from the booted project through a real
SMTP server (STARTTLS and a password, as a mail provider requires), follows its link,
sets a new password and signs in with it. Mail also goes out through a server that
speaks TLS from the first byte (smtps://, Amazon SES's port 465)."""

import re

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


def test_a_forgotten_password_is_reset_through_the_emailed_link(project, migrated):
    collect_static(project)
    old_password, new_password = "the old passphrase 1234", "a brand new passphrase 5678"
    name, address = create_user(project, migrated, old_password)
    with redis_database(), smtp_server() as mail:
        environ = migrated | mail.environ | {"CACHE_URL": REDIS_URL}
        with serve(project, environ) as server:
            server.wait_until_serving()
            visitor = Visitor()
            asked = visitor.submit(server, "/accounts/password_reset/", {"email": address})
            assert (asked.status, asked.location) == (302, "/accounts/password_reset/done/")

            (message,) = mail.inbox.wait_for(1)
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
