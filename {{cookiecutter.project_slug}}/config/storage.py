"""Where uploaded files go: an S3-compatible bucket, or the local disk in development.

Every process of every release sees the same bucket, so a file uploaded through one web
process is served to a request on another, and survives a deploy (factors IV and VI).
https://django-storages.readthedocs.io/en/latest/backends/amazon-S3.html
https://docs.djangoproject.com/en/6.1/ref/settings/#storages
"""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import FileSystemStorage

from config.env import Env


class DevelopmentFileStorage(FileSystemStorage):
    """The local disk, refusing to write unless DEBUG is on.

    In production a file written here would land in the image's read-only /app (an
    error) or on a platform's ephemeral disk, invisible to other processes and gone at
    the next deploy (worse: it seems to work). Refusing says what to set instead.
    """

    def _save(self, name, content):
        if not settings.DEBUG:
            raise ImproperlyConfigured(
                "Uploads need AWS_STORAGE_BUCKET_NAME: the local disk is for development "
                "only (DEBUG=true)."
            )
        return super()._save(name, content)


def media_storage(env: Env) -> dict:
    """Django's STORAGES["default"]: S3-compatible when a bucket is named."""
    if not env.AWS_STORAGE_BUCKET_NAME:
        return {"BACKEND": "config.storage.DevelopmentFileStorage"}
    options = {
        "bucket_name": env.AWS_STORAGE_BUCKET_NAME,
        # Private objects behind signed, expiring links: an upload is not public merely
        # because its name was guessed.
        "querystring_auth": True,
        "querystring_expire": env.AWS_QUERYSTRING_EXPIRE,
        # Two uploads with the same name keep both files (S3Storage overwrites by default).
        "file_overwrite": False,
    }
    if env.AWS_S3_ENDPOINT_URL:
        options["endpoint_url"] = env.AWS_S3_ENDPOINT_URL
        # Path-style (https://host/bucket/key) needs no wildcard DNS for bucket names,
        # which self-hosted services such as MinIO do not have; every S3-compatible
        # service accepts it.
        options["addressing_style"] = "path"
    if env.AWS_S3_REGION_NAME:
        options["region_name"] = env.AWS_S3_REGION_NAME
    if env.AWS_ACCESS_KEY_ID:
        options["access_key"] = env.AWS_ACCESS_KEY_ID
        options["secret_key"] = env.AWS_SECRET_ACCESS_KEY.get_secret_value()
    return {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options}
