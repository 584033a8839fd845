"""The project's own user model: in the admin, signing in, resetting a password."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail

from users.models import User

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("static_files_without_collectstatic"),
]
PASSWORD = "correct horse battery staple 42"


@pytest.fixture
def emails_sent_at_once(settings):
    """The reset email's task run inside the request, as the worker would run it."""
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture
def ada() -> User:
    return User.objects.create_user("ada", "ada@example.com", PASSWORD)


def test_the_project_uses_its_own_user_model():
    assert get_user_model() is User


def test_users_are_managed_in_the_admin(client, https):
    admin = User.objects.create_superuser("root", "root@example.com", PASSWORD)
    client.force_login(admin)
    page = client.get("/admin/users/user/", **https)
    assert page.status_code == 200
    assert b"root@example.com" in page.content


def test_signing_in_shows_the_user_on_the_home_page(client, https, ada):
    response = client.post("/accounts/login/", {"username": "ada", "password": PASSWORD}, **https)
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert b"Signed in as ada" in client.get("/", **https).content


def test_a_wrong_password_does_not_sign_in(client, https, ada):
    response = client.post("/accounts/login/", {"username": "ada", "password": "nope"}, **https)
    assert response.status_code == 200
    assert b"Signed in as" not in client.get("/", **https).content


def test_account_pages_have_no_inline_script_or_style(client, https):
    for path in ("/accounts/login/", "/accounts/password_reset/"):
        page = client.get(path, **https).content.decode()
        assert "<script" not in page
        assert "<style" not in page
        assert " style=" not in page


def test_a_password_reset_email_links_to_a_page_that_sets_the_password(
    client, https, ada, emails_sent_at_once
):
    client.post("/accounts/password_reset/", {"email": "ada@example.com"}, **https)
    (email,) = mail.outbox
    assert email.to == ["ada@example.com"]
    host = re.escape(https["headers"]["host"])
    link = re.search(rf"https://{host}(/accounts/reset/\S+/)", email.body)
    assert link, email.body
    form = client.get(link.group(1), follow=True, **https)
    assert b"new_password1" in form.content
    new_password = "a different long passphrase 7"
    set_password = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": new_password, "new_password2": new_password},
        **https,
    )
    assert set_password["Location"] == "/accounts/reset/done/"
    ada.refresh_from_db()
    assert ada.check_password(new_password)


def test_a_reset_for_an_unknown_address_sends_nothing_and_says_the_same(
    client, https, emails_sent_at_once
):
    response = client.post("/accounts/password_reset/", {"email": "who@example.com"}, **https)
    assert response["Location"] == "/accounts/password_reset/done/"
    assert mail.outbox == []
