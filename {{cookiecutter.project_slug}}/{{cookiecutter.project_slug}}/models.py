from django.core.cache import cache
from django.db import models, transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

# The notes page shows how many notes exist, counted once and then read from the cache.
NOTE_COUNT_KEY = "notes:count"


class Note(models.Model):
    """A short note left on the home page: the example app's one write."""

    # Short enough to read at a glance; the form and the database column both enforce it.
    text = models.CharField(max_length=280)
    # Stored by STORAGES["default"] (config/storage.py): a bucket in production.
    attachment = models.FileField(upload_to="notes/%Y/%m/", blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # Counted by a background task (tasks.py) after the note is saved; None until then.
    words = models.PositiveIntegerField(null=True, blank=True)
    # Set by that task in the transaction that saves the count, once the admins have been
    # told: a second run of the task (a retry) finds it and sends no second email.
    admins_told = models.BooleanField(default=False)

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return self.text


@receiver([post_save, post_delete], sender=Note)
def forget_note_count(**kwargs) -> None:
    """After the write commits: forgotten earlier, a concurrent request could count the
    old rows and cache that again."""
    transaction.on_commit(lambda: cache.delete(NOTE_COUNT_KEY))
