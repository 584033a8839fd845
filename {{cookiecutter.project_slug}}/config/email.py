"""Outgoing email, from EMAIL_URL: an SMTP server, or the console for development.

smtp://user:password@host:587 submits with STARTTLS; smtps://user:password@host:465
uses TLS from the first byte (RFC 8314); smtp://host:1025?starttls=false talks plain
SMTP, for a mail catcher on a private network. Empty or console:// prints each email.
https://docs.djangoproject.com/en/6.1/ref/settings/#mailers
"""

from urllib.parse import parse_qs, unquote, urlsplit

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
CONSOLE_BACKEND = "django.core.mail.backends.console.EmailBackend"
# The ports RFC 8314 assigns to message submission with STARTTLS and with implicit TLS.
DEFAULT_PORTS = {"smtp": 587, "smtps": 465}
# A mail server silent for 10 s fails the request that sends, well before the platform
# router's 30 s timeout, instead of holding the worker.
EMAIL_TIMEOUT = 10
STARTTLS_VALUES = {"true": True, "false": False}


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
