from django.db import models


class Note(models.Model):
    """A short note left on the home page: the example app's one write."""

    # Short enough to read at a glance; the form and the database column both enforce it.
    text = models.CharField(max_length=280)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # Counted by a background task (tasks.py) after the note is saved; None until then.
    words = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return self.text
