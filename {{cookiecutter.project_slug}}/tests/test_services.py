"""EMAIL_URL becomes Django's email settings."""

import re

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


# (provider, EMAIL_URL as its SMTP settings page gives the parts, host, port, user,
# password, STARTTLS, implicit TLS)
PROVIDER_MAIL = [
    (
        "Amazon SES, STARTTLS on 587 (its password may hold / and +)",
        "smtp://AKIAIOSFODNN7EXAMPLE:BNx%2Fk9+q2WvLr@email-smtp.eu-west-1.amazonaws.com:587",
        ("email-smtp.eu-west-1.amazonaws.com", 587, "AKIAIOSFODNN7EXAMPLE", "BNx/k9+q2WvLr"),
        (True, False),
    ),
    (
        "Amazon SES, TLS wrapper on 465",
        "smtps://AKIAIOSFODNN7EXAMPLE:BNx%2Fk9+q2WvLr@email-smtp.eu-west-1.amazonaws.com:465",
        ("email-smtp.eu-west-1.amazonaws.com", 465, "AKIAIOSFODNN7EXAMPLE", "BNx/k9+q2WvLr"),
        (False, True),
    ),
    (
        "Amazon SES, STARTTLS on 2587 (where 587 is blocked)",
        "smtp://AKIAIOSFODNN7EXAMPLE:pw@email-smtp.us-east-1.amazonaws.com:2587",
        ("email-smtp.us-east-1.amazonaws.com", 2587, "AKIAIOSFODNN7EXAMPLE", "pw"),
        (True, False),
    ),
    (
        "SendGrid: the user is the word apikey",
        "smtp://apikey:SG.example-id.example-secret@smtp.sendgrid.net:587",
        ("smtp.sendgrid.net", 587, "apikey", "SG.example-id.example-secret"),
        (True, False),
    ),
    (
        "Postmark: the server token as user and password",
        "smtp://7e2c9a34-1b1f-4c38-9a3b-0d5e6f7a8b9c:7e2c9a34-1b1f-4c38-9a3b-0d5e6f7a8b9c@smtp.postmarkapp.com:587",
        (
            "smtp.postmarkapp.com",
            587,
            "7e2c9a34-1b1f-4c38-9a3b-0d5e6f7a8b9c",
            "7e2c9a34-1b1f-4c38-9a3b-0d5e6f7a8b9c",
        ),
        (True, False),
    ),
    (
        "Mailgun: the user is an address (@ as %40)",
        "smtp://postmaster%40mg.shop.example:s3cret@smtp.mailgun.org:587",
        ("smtp.mailgun.org", 587, "postmaster@mg.shop.example", "s3cret"),
        (True, False),
    ),
]


@pytest.mark.parametrize(
    ("url", "login", "encryption"),
    [row[1:] for row in PROVIDER_MAIL],
    ids=[row[0] for row in PROVIDER_MAIL],
)
def test_mail_providers_urls_reach_their_server_as_documented(url, login, encryption):
    options = mailers(url)["default"]["OPTIONS"]
    assert (options["host"], options["port"], options["username"], options["password"]) == login
    assert (options["use_tls"], options["use_ssl"]) == encryption


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        # Each would wait for the other side to speak first, 10 s per email.
        ("smtp://u:p@email-smtp.eu-west-1.amazonaws.com:465", "use smtps://...:465"),
        ("smtp://u:p@email-smtp.eu-west-1.amazonaws.com:2465", "use smtps://...:2465"),
        ("smtps://u:p@smtp.sendgrid.net:587", "use smtp://...:587"),
        # An unencoded / in the password ends the host part early.
        ("smtp://AKIA:BNx/k9@email-smtp.eu-west-1.amazonaws.com:587", "percent-encode them"),
    ],
)
def test_a_scheme_that_does_not_match_the_port_is_refused_pointing_at_the_right_one(url, reason):
    with pytest.raises(ValueError, match=re.escape(reason)) as error:
        mailers(url)
    assert "u:p" not in str(error.value)
    assert "BNx" not in str(error.value)


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
