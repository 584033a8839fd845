"""The password-reset email, sent by the worker (users/reset.py says why)."""

from django.contrib.auth.forms import PasswordResetForm
from django.tasks import task


@task
def send_password_reset(email: str, domain: str, use_https: bool) -> None:
    """Email a reset link to each active user with this address, if any."""
    form = PasswordResetForm({"email": email})
    if form.is_valid():
        form.save(domain_override=domain, use_https=use_https)
