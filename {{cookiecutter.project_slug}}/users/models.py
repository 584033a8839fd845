"""The project's user model, in place from the first migration.

Swapping AUTH_USER_MODEL after the first migration means rewriting every table that
points at users, so Django recommends a custom model at the start even if it adds
nothing yet: fields added here later are ordinary migrations.
https://docs.djangoproject.com/en/6.1/topics/auth/customizing/#using-a-custom-user-model-when-starting-a-project
"""

from django.contrib.auth.models import AbstractUser


class User(AbstractUser):
    """Django's standard user (username, email, password, staff and superuser flags)."""
