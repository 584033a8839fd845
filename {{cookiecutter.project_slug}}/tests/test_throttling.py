"""Sign-in and password reset throttled: what the project logs, shows its admins and
sends. The template's boot tests prove the 429s on a served process, for both web
interfaces, behind a trusted proxy and across two processes."""

import json
import logging

import pytest
from axes.models import AccessAttempt
from django.core import mail

from config.logs import JsonFormatter
from config.signin import SIGN_IN_FAILURE_LIMIT
from users.models import User
from users.reset import RESET_EMAILS_PER_HOUR, RESET_REQUESTS_PER_ADDRESS

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("static_files_without_collectstatic"),
]
PASSWORD = "correct horse battery staple 42"
WRONG = "a wrong passphrase 7"


@pytest.fixture
def ada() -> User:
    return User.objects.create_user("ada", "ada@example.com", PASSWORD)


@pytest.fixture
def emails_sent_at_once(settings):
    """The reset email's task run inside the request, as the worker would run it."""
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}


def sign_in(client, https, password: str, name: str = "ada"):
    return client.post("/accounts/login/", {"username": name, "password": password}, **https)


def test_a_lockout_logs_one_warning_with_account_address_and_count(client, https, ada, caplog):
    caplog.set_level(logging.INFO)
    for _ in range(SIGN_IN_FAILURE_LIMIT + 2):
        sign_in(client, https, WRONG)

    (line,) = [r for r in caplog.records if r.name == "config.signin"]
    event = json.loads(JsonFormatter().format(line))
    assert event["level"] == "WARNING"
    assert (event["account"], event["remote_addr"]) == ("ada", "127.0.0.1")
    assert event["failures"] == SIGN_IN_FAILURE_LIMIT
    assert WRONG not in caplog.text


def test_failures_are_counted_while_the_cache_is_down(client, https, ada, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            # Nothing listens on port 1: each connection is refused at once.
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    statuses = [sign_in(client, https, WRONG).status_code for _ in range(SIGN_IN_FAILURE_LIMIT)]
    assert statuses == [200] * (SIGN_IN_FAILURE_LIMIT - 1) + [429]
    assert sign_in(client, https, PASSWORD).status_code == 429


def test_the_locked_out_page_says_when_to_retry(client, https, ada):
    for _ in range(SIGN_IN_FAILURE_LIMIT):
        sign_in(client, https, WRONG)
    refused = sign_in(client, https, PASSWORD)
    assert refused.status_code == 429
    assert refused["Retry-After"] == "900"
    assert b"Try again in 15 minutes" in refused.content


def test_an_admin_sees_and_clears_a_lockout(client, https, ada):
    for _ in range(SIGN_IN_FAILURE_LIMIT):
        sign_in(client, https, WRONG)
    root = User.objects.create_superuser("root", "root@example.com", "root passphrase 99")
    client.force_login(root)
    listed = client.get("/admin/axes/accessattempt/", **https)
    assert listed.status_code == 200
    assert b"ada" in listed.content

    attempt = AccessAttempt.objects.get(username="ada")
    client.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"}, **https)
    client.logout()
    assert sign_in(client, https, PASSWORD).status_code == 302


def test_one_address_gets_a_few_reset_emails_an_hour_however_often_asked(
    client, https, ada, emails_sent_at_once
):
    for _ in range(RESET_EMAILS_PER_HOUR + 3):
        asked = client.post("/accounts/password_reset/", {"email": "ada@example.com"}, **https)
        assert asked["Location"] == "/accounts/password_reset/done/"
    assert len(mail.outbox) == RESET_EMAILS_PER_HOUR


def test_one_client_asking_too_many_resets_is_refused_for_an_hour(client, https):
    for number in range(RESET_REQUESTS_PER_ADDRESS):
        client.post("/accounts/password_reset/", {"email": f"u{number}@example.com"}, **https)
    refused = client.post("/accounts/password_reset/", {"email": "last@example.com"}, **https)
    assert refused.status_code == 429
    assert b"Try again in an hour" in refused.content
