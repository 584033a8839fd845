"""EMAIL_URL becomes Django's email settings."""

import pytest

from config.email import mailers

CONSOLE = "django.core.mail.backends.console.EmailBackend"


def test_smtp_submits_with_starttls_on_port_587_by_default():
    default = mailers("smtp://postmaster%40shop.example:p%40ss@mail.example")["default"]
    assert default == {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {
            "host": "mail.example",
            "port": 587,
            "username": "postmaster@shop.example",
            "password": "p@ss",
            "use_tls": True,
            "use_ssl": False,
            "timeout": 10,
        },
    }


def test_smtps_uses_tls_from_the_first_byte_on_port_465():
    options = mailers("smtps://user:pw@mail.example")["default"]["OPTIONS"]
    assert (options["port"], options["use_ssl"], options["use_tls"]) == (465, True, False)


def test_a_mail_catcher_is_reached_in_plain_smtp_only_when_asked():
    options = mailers("smtp://mailpit:1025?starttls=false")["default"]["OPTIONS"]
    assert (options["host"], options["port"]) == ("mailpit", 1025)
    assert options["use_tls"] is options["use_ssl"] is False


@pytest.mark.parametrize("url", ["", "console://"])
def test_without_a_mail_server_emails_are_printed(url):
    assert mailers(url) == {"default": {"BACKEND": CONSOLE}}


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("smtp://:bad port", "must name a host"),
        ("smtp://mail.example:bad", "has a port that is not a number"),
        ("sendmail://localhost", "must start with smtp://, smtps:// or console://"),
        ("smtp://mail.example?tls=no", "takes one query option only"),
        ("smtp://mail.example?starttls=maybe", "takes one query option only"),
        ("smtps://mail.example?starttls=false", "smtps:// takes no query options"),
    ],
)
def test_unusable_email_urls_are_explained(url, reason):
    with pytest.raises(ValueError, match=reason):
        mailers(url)
