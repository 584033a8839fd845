"""How variables are read: secrets from files, platforms' names, and the environment
over .env (config/variables.py); rotating the secret key without signing anyone out."""

import os

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from pydantic import ValidationError

from config.env import Env, describe_problems

KEY = "k7Gq2vXz9LmP4wRt8YbN3cJh6FdS1aQe5UoI0pKlZxCvBnMgT-Wd"
OLD_KEY = "Old7Gq2vXz9LmP4wRt8YbN3cJh6FdS1aQe5UoI0pKlZxCvBnMgT"
BASE = {"ALLOWED_HOSTS": "app.example.com", "DATABASE_URL": "postgres://app@db.internal/app"}


@pytest.fixture
def environ(monkeypatch):
    """The process environment holding only what a test sets (and no .env is read)."""
    for name in list(os.environ):
        monkeypatch.delenv(name)

    def read(**variables: str) -> Env | str:
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        try:
            return Env(_env_file=None)
        except ValidationError as error:
            return describe_problems(error)

    return read


def test_a_secret_is_read_from_the_file_its_file_variable_names(environ, tmp_path):
    (tmp_path / "key").write_text(KEY + "\n")
    (tmp_path / "url").write_text("postgres://app:s3cr%40t@db.internal/app")
    env = environ(
        DJANGO_SECRET_KEY_FILE=str(tmp_path / "key"),
        DATABASE_URL_FILE=str(tmp_path / "url"),
        ALLOWED_HOSTS="app.example.com",
    )
    assert env.DJANGO_SECRET_KEY.get_secret_value() == KEY
    assert env.DATABASE_URL.get_secret_value().endswith("@db.internal/app")


def test_a_secret_set_both_ways_is_refused_naming_both(environ, tmp_path):
    (tmp_path / "key").write_text(KEY)
    message = environ(DJANGO_SECRET_KEY=KEY, DJANGO_SECRET_KEY_FILE=str(tmp_path / "key"), **BASE)
    assert "DJANGO_SECRET_KEY: DJANGO_SECRET_KEY and DJANGO_SECRET_KEY_FILE are both set" in message
    assert KEY not in message


@pytest.mark.parametrize(
    ("content", "reason"), [(None, "cannot be read (No such file"), ("\n", "is empty")]
)
def test_an_unusable_secret_file_is_named_with_its_path_never_its_content(
    environ, tmp_path, content, reason
):
    path = tmp_path / "cache-url"
    if content is not None:
        path.write_text(content)
    message = environ(DJANGO_SECRET_KEY=KEY, CACHE_URL_FILE=str(path), **BASE)
    assert f"  CACHE_URL: CACHE_URL_FILE={path} {reason}" in message


def test_a_secret_file_with_a_bad_value_is_judged_like_the_variable(environ, tmp_path):
    (tmp_path / "cache-url").write_text("redis//:hunter2@cache\n")
    message = environ(DJANGO_SECRET_KEY=KEY, CACHE_URL_FILE=str(tmp_path / "cache-url"), **BASE)
    assert "  CACHE_URL: " in message
    assert "hunter2" not in message


def test_a_platform_name_is_read_and_agrees_with_ours(environ):
    env = environ(DJANGO_SECRET_KEY=KEY, AWS_REGION="eu-west-1", **BASE)
    assert env.AWS_S3_REGION_NAME == "eu-west-1"
    env = environ(AWS_S3_REGION_NAME="eu-west-1")
    assert env.AWS_S3_REGION_NAME == "eu-west-1"


def test_two_names_of_one_variable_with_different_values_are_refused_naming_both(environ):
    message = environ(
        DJANGO_SECRET_KEY=KEY, AWS_S3_REGION_NAME="eu-west-1", AWS_REGION="us-east-1", **BASE
    )
    assert "AWS_S3_REGION_NAME: AWS_S3_REGION_NAME and AWS_REGION are both set" in message
    assert "us-east-1" not in message


def test_the_first_published_revision_wins_without_conflict(environ):
    env = environ(DJANGO_SECRET_KEY=KEY, HEROKU_BUILD_COMMIT="abc", SOURCE_VERSION="def", **BASE)
    assert env.GIT_REVISION == "abc"


def test_the_environment_hides_every_form_of_a_variable_in_dot_env(environ, tmp_path):
    (tmp_path / ".env").write_text("DATABASE_URL=sqlite:///local\nDEBUG=true\n")
    (tmp_path / "url").write_text("postgres://app@db.internal/app")
    environ(DJANGO_SECRET_KEY=KEY, DATABASE_URL_FILE=str(tmp_path / "url"))
    env = Env(_env_file=tmp_path / ".env")
    assert env.DATABASE_URL.get_secret_value() == "postgres://app@db.internal/app"
    assert env.DEBUG is True


def test_weak_fallback_keys_are_refused_by_position(environ):
    message = environ(DJANGO_SECRET_KEY=KEY, DJANGO_SECRET_KEY_FALLBACKS=f"{OLD_KEY},short", **BASE)
    assert "DJANGO_SECRET_KEY_FALLBACKS: key 2 is too weak" in message


def signed_in(client: Client) -> bool:
    return client.get("/", secure=True).wsgi_request.user.is_authenticated


@pytest.mark.django_db
@pytest.mark.usefixtures("static_files_without_collectstatic")
def test_a_rotated_key_keeps_people_signed_in_while_the_old_one_is_a_fallback(client):
    user = get_user_model().objects.create_user("ada", password="correct horse battery")
    away = Client()
    with override_settings(SECRET_KEY=OLD_KEY, SECRET_KEY_FALLBACKS=[]):
        client.force_login(user)
        away.force_login(user)
    with override_settings(SECRET_KEY=KEY, SECRET_KEY_FALLBACKS=[OLD_KEY]):
        # Verified with the fallback, the session is signed again with the new key.
        assert signed_in(client)
    with override_settings(SECRET_KEY=KEY, SECRET_KEY_FALLBACKS=[]):
        assert signed_in(client)
        # Who did not come back while the old key was a fallback signs in again.
        assert not signed_in(away)
