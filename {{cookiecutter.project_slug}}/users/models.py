"""The project's user model, in place from the first migration.

Swapping AUTH_USER_MODEL after the first migration means rewriting every table that
points at users, so Django recommends a custom model at the start even if it adds
nothing yet: fields added here later are ordinary migrations.
https://docs.djangoproject.com/en/6.1/topics/auth/customizing/#using-a-custom-user-model-when-starting-a-project
"""

from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """Django's standard user (username, email, password, staff and superuser flags)."""


class PasswordResetRequest(models.Model):
    """One password-reset form submission, kept for an hour to throttle them
    (users/reset.py). The email is stored as a digest: most are not users' addresses."""

    address = models.CharField(max_length=45, blank=True)
    email_digest = models.CharField(max_length=64)
    emailed = models.BooleanField()
    requested_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        indexes = (models.Index(fields=["email_digest", "requested_at"]),)

    def __str__(self) -> str:
        return f"reset asked from {self.address or 'unknown'} at {self.requested_at}"
