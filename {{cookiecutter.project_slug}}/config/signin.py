"""Throttled sign-in: django-axes counts failures per account and client address
(settings.py, "Sign-in throttling").

After SIGN_IN_FAILURE_LIMIT failed attempts at one account from one address, with no
more than SIGN_IN_COOL_OFF between them, that address may not sign in to that account
(the right password included) until SIGN_IN_COOL_OFF has passed since its last attempt;
other accounts and other addresses are unaffected, and signing in resets the count.
The counts are rows in the database, shared by every process and untouched by a cache
outage. The admin lists them under "Axes"; deleting one lifts that lockout.
https://django-axes.readthedocs.io/en/latest/4_configuration.html
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.shortcuts import render

from config.accesslog import client_address

# OWASP's authentication guidance: lock after a small number of failures, for long
# enough to make a password list impractical (10 tries per quarter hour is under 1,000 a
# day), short enough that a locked-out owner is not stuck for long.
# https://cheatsheetseries.owasp.org/cheatsheets/Authentication_Cheat_Sheet.html#account-lockout
SIGN_IN_FAILURE_LIMIT = 10
SIGN_IN_COOL_OFF = timedelta(minutes=15)

logger = logging.getLogger(__name__)


def request_client_address(request) -> str | None:
    """The client's address as the access log finds it, for both web interfaces.

    Under ASGI uvicorn has already put the client's address in REMOTE_ADDR; under WSGI
    gunicorn leaves the proxy's there. Resolving again is harmless: an untrusted address
    is returned as it is."""
    return client_address(request.META, tuple(settings.FORWARDED_ALLOW_IPS))


def lockout_response(request, original_response=None, credentials=None):
    """The 429 page, saying when to try again, with the same in Retry-After."""
    minutes = int(SIGN_IN_COOL_OFF.total_seconds() // 60)
    response = render(request, "users/locked_out.html", {"minutes": minutes}, status=429)
    response["Retry-After"] = str(int(SIGN_IN_COOL_OFF.total_seconds()))
    return response


def connect_lockout_log() -> None:
    """Called from the config app's ready(): axes reads settings when imported."""
    from axes.signals import user_locked_out

    user_locked_out.connect(log_lockout, dispatch_uid="config.signin.log_lockout")


def log_lockout(sender, request, username, ip_address, **kwargs) -> None:
    """One WARNING when an account is locked for an address; the attempts refused
    while it lasts are counted in the database, not logged again."""
    failures = getattr(request, "axes_failures_since_start", None)
    if failures != SIGN_IN_FAILURE_LIMIT:
        return
    logger.warning(
        "Sign-in locked for %s from %s after %d failed attempts",
        username,
        ip_address,
        failures,
        extra={
            "account": username,
            "remote_addr": ip_address,
            "failures": failures,
            "locked_for_seconds": int(SIGN_IN_COOL_OFF.total_seconds()),
        },
    )
