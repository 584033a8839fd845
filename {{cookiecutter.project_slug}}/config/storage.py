"""Where uploaded files go: an S3-compatible bucket, or the local disk in development.

Every process of every release sees the same bucket, so a file uploaded through one web
process is served to a request on another, and survives a deploy (factors IV and VI).
https://django-storages.readthedocs.io/en/latest/backends/amazon-S3.html
https://docs.djangoproject.com/en/6.1/ref/settings/#storages
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import FileSystemStorage
from pydantic import AliasChoices, Field, SecretStr, ValidationInfo, field_validator

from config.variables import EnvPart


class StorageEnv(EnvPart):
    AWS_STORAGE_BUCKET_NAME: str = Field(
        "",
        description="The bucket for uploaded files. Empty: the local media/ directory, "
        "for development only.",
    )
    AWS_S3_ENDPOINT_URL: str = Field(
        "",
        validation_alias=AliasChoices("AWS_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"),
        description="https://host[:port] of an S3-compatible service (MinIO, R2, Tigris, "
        "...). Empty: Amazon S3.",
    )
    AWS_S3_REGION_NAME: str = Field(
        "",
        validation_alias=AliasChoices("AWS_S3_REGION_NAME", "AWS_REGION", "AWS_DEFAULT_REGION"),
        description="The bucket's region, if the service needs one.",
    )
    AWS_ACCESS_KEY_ID: str = Field(
        "", description="Access key for the bucket. Empty: the platform's role or profile."
    )
    AWS_SECRET_ACCESS_KEY: SecretStr = Field(
        SecretStr(""), description="Secret key that goes with AWS_ACCESS_KEY_ID."
    )
    AWS_QUERYSTRING_EXPIRE: int = Field(
        3600, ge=1, description="Seconds a signed link to an uploaded file stays valid."
    )

    @field_validator("AWS_S3_ENDPOINT_URL")
    @classmethod
    def usable_endpoint_url(cls, value: str) -> str:
        if value:
            url = urlsplit(value)
            try:
                usable = url.scheme in ("https", "http") and bool(url.hostname) and url.port != 0
            except ValueError:  # a port that is not a number from 1 to 65535
                usable = False
            if not usable:
                raise ValueError("must be a URL like https://host[:port]")
        return value

    @field_validator("AWS_S3_ENDPOINT_URL", "AWS_ACCESS_KEY_ID")
    @classmethod
    def storage_needs_a_bucket(cls, value: str, info: ValidationInfo) -> str:
        if value and info.data.get("AWS_STORAGE_BUCKET_NAME") == "":
            raise ValueError("is set, but AWS_STORAGE_BUCKET_NAME is not")
        return value

    @field_validator("AWS_SECRET_ACCESS_KEY")
    @classmethod
    def keys_come_in_pairs(cls, value: SecretStr, info: ValidationInfo) -> SecretStr:
        key = info.data.get("AWS_ACCESS_KEY_ID")
        if key is not None and bool(key) != bool(value.get_secret_value()):
            raise ValueError("and AWS_ACCESS_KEY_ID must be set together, or neither")
        return value


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


def media_storage(env: StorageEnv) -> dict:
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
