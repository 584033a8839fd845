"""Outgoing email, from EMAIL_URL: an SMTP server, or the console for development.

smtp://user:password@host:587 submits with STARTTLS; smtps://user:password@host:465
uses TLS from the first byte (RFC 8314); smtp://host:1025?starttls=false talks plain
SMTP, for a mail catcher on a private network. Empty or console:// prints each email.
https://docs.djangoproject.com/en/6.1/ref/settings/#mailers
"""

from email.utils import parseaddr
from urllib.parse import parse_qs, unquote, urlsplit

from pydantic import Field, SecretStr, field_validator

from config.variables import CommaSeparated, EnvPart

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
CONSOLE_BACKEND = "django.core.mail.backends.console.EmailBackend"
# The ports RFC 8314 assigns to message submission with STARTTLS and with implicit TLS.
DEFAULT_PORTS = {"smtp": 587, "smtps": 465}
# A mail server silent for 10 s fails the request that sends, well before the platform
# router's 30 s timeout, instead of holding the worker.
EMAIL_TIMEOUT = 10
STARTTLS_VALUES = {"true": True, "false": False}


class EmailEnv(EnvPart):
    EMAIL_URL: SecretStr = Field(
        SecretStr(""),
        description="smtp://user:password@host:587 (STARTTLS), smtps://user:password@host:465 "
        "(TLS from the start), smtp://host:1025?starttls=false (plain). Empty or console://: "
        "printed to stdout (development only).",
    )
    DEFAULT_FROM_EMAIL: str = Field(
        {{ ("noreply@" ~ cookiecutter.domain_name) | python_string(8) | indent(8) }},
        description="Sender address of the site's emails (password resets), with an optional "
        "display name.",
    )
    SERVER_EMAIL: str = Field(
        "", description="Sender of error reports to the site's admins. Empty: DEFAULT_FROM_EMAIL."
    )
    ADMINS: CommaSeparated = Field(
        default_factory=list,
        description="Comma-separated email addresses of the site's admins, told of each new "
        "note. Empty: nobody.",
    )

    @field_validator("EMAIL_URL")
    @classmethod
    def usable_email_url(cls, value: SecretStr) -> SecretStr:
        mailers(value.get_secret_value())
        return value

    @field_validator("DEFAULT_FROM_EMAIL", "SERVER_EMAIL", "ADMINS")
    @classmethod
    def email_addresses(cls, value: str | list[str]) -> str | list[str]:
        addresses = [value] if isinstance(value, str) else value
        if any(address and "@" not in parseaddr(address)[1] for address in addresses):
            if isinstance(value, str):
                raise ValueError("must be an email address, as in Name <noreply@example.com>")
            raise ValueError("each must be an email address")
        return value


def mailers(url: str) -> dict:
    """Django's MAILERS for EMAIL_URL. An unusable URL raises ValueError in words that
    never repeat it: the URL may hold a password."""
    parts = urlsplit(url)
    if not url or (parts.scheme == "console" and not parts.netloc):
        return {"default": {"BACKEND": CONSOLE_BACKEND}}
    if parts.scheme not in DEFAULT_PORTS:
        raise ValueError("must start with smtp://, smtps:// or console://")
    if not parts.hostname:
        raise ValueError("must name a host")
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError:
        raise ValueError("has a port that is not a number from 0 to 65535") from None
    if parts.scheme == "smtps" and parts.query:
        raise ValueError("smtps:// takes no query options: TLS is always on")
    options = {
        "host": parts.hostname,
        "port": port,
        "username": unquote(parts.username or ""),
        "password": unquote(parts.password or ""),
        "use_tls": parts.scheme == "smtp" and _starttls(parts.query),
        "use_ssl": parts.scheme == "smtps",
        "timeout": EMAIL_TIMEOUT,
    }
    return {"default": {"BACKEND": SMTP_BACKEND, "OPTIONS": options}}


def _starttls(query: str) -> bool:
    """STARTTLS unless ?starttls=false: credentials never cross the network in clear
    by default."""
    options = parse_qs(query, keep_blank_values=True)
    values = options.pop("starttls", ["true"])
    if options or len(values) != 1 or values[0] not in STARTTLS_VALUES:
        raise ValueError("takes one query option only: starttls=true or starttls=false")
    return STARTTLS_VALUES[values[0]]
