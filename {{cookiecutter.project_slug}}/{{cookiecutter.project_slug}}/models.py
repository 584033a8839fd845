from django.db import models


class Note(models.Model):
    """A short note left on the home page: the example app's one write."""

    # Short enough to read at a glance; the form and the database column both enforce it.
    text = models.CharField(max_length=280)
    # Stored by STORAGES["default"] (config/storage.py): a bucket in production.
    attachment = models.FileField(upload_to="notes/%Y/%m/", blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return self.text
