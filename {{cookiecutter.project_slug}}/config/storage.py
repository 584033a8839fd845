"""Where uploaded files go: an S3-compatible bucket, or the local disk in development.

Every process of every release sees the same bucket, so a file uploaded through one web
process is served to a request on another, and survives a deploy (factors IV and VI).
https://django-storages.readthedocs.io/en/latest/backends/amazon-S3.html
https://docs.djangoproject.com/en/6.1/ref/settings/#storages
"""

import ipaddress
import re
from typing import Literal
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import FileSystemStorage
from pydantic import AliasChoices, Field, SecretStr, ValidationInfo, field_validator

from config.variables import EnvPart


class StorageEnv(EnvPart):
    # Aliases: the names Fly.io (`fly storage create`: BUCKET_NAME, AWS_ENDPOINT_URL_S3,
    # AWS_REGION) and Railway's bucket credentials (AWS_S3_BUCKET_NAME, AWS_ENDPOINT_URL,
    # AWS_DEFAULT_REGION) set; boto3 reads the two endpoint names itself too.
    AWS_STORAGE_BUCKET_NAME: str = Field(
        "",
        validation_alias=AliasChoices(
            "AWS_STORAGE_BUCKET_NAME", "BUCKET_NAME", "AWS_S3_BUCKET_NAME"
        ),
        description="The bucket for uploaded files. Empty: the local media/ directory, "
        "for development only.",
    )
    AWS_S3_ENDPOINT_URL: str = Field(
        "",
        validation_alias=AliasChoices(
            "AWS_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"
        ),
        description="https://host[:port] of an S3-compatible service (R2, Tigris, GCS, "
        "Spaces, MinIO, ...). Empty: Amazon S3.",
    )
    AWS_S3_REGION_NAME: str = Field(
        "",
        validation_alias=AliasChoices("AWS_S3_REGION_NAME", "AWS_REGION", "AWS_DEFAULT_REGION"),
        description="The bucket's region (`auto` for R2 and Tigris); required for Amazon S3, "
        "whose links are signed for it.",
    )
    AWS_S3_ADDRESSING_STYLE: Literal["auto", "virtual", "path"] = Field(
        "auto",
        description="virtual: https://bucket.host/key; path: https://host/bucket/key; auto: "
        "virtual unless the endpoint is an IP address, localhost or a name without a dot.",
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

    @field_validator("AWS_S3_REGION_NAME")
    @classmethod
    def amazon_needs_a_region(cls, value: str, info: ValidationInfo) -> str:
        """Amazon S3 refuses a SigV4 link signed for another region than the bucket's."""
        amazon = info.data.get("AWS_STORAGE_BUCKET_NAME") and not info.data.get(
            "AWS_S3_ENDPOINT_URL"
        )
        if amazon and not value and "AWS_S3_ENDPOINT_URL" in info.data:
            raise ValueError(
                "must name the bucket's region (as in eu-west-1) for Amazon S3, "
                "or set AWS_S3_ENDPOINT_URL for another service"
            )
        return value

    @field_validator("AWS_SECRET_ACCESS_KEY")
    @classmethod
    def keys_come_in_pairs(cls, value: SecretStr, info: ValidationInfo) -> SecretStr:
        key = info.data.get("AWS_ACCESS_KEY_ID")
        if key is not None and bool(key) != bool(value.get_secret_value()):
            raise ValueError("and AWS_ACCESS_KEY_ID must be set together, or neither")
        return value


# A bucket name that can be one label of a host name (and of a TLS wildcard
# certificate, which matches one label only): lowercase letters, digits and hyphens.
DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


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
        # Signature Version 4 always: Amazon S3 refuses SigV2 links for buckets made
        # since 2020 and for KMS-encrypted objects, and botocore would otherwise still
        # presign some links with SigV2 (AWSAccessKeyId=...&Signature=...).
        # https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html
        "signature_version": "s3v4",
        "addressing_style": addressing_style(
            env.AWS_S3_ADDRESSING_STYLE, env.AWS_S3_ENDPOINT_URL, env.AWS_STORAGE_BUCKET_NAME
        ),
    }
    if env.AWS_S3_ENDPOINT_URL:
        options["endpoint_url"] = env.AWS_S3_ENDPOINT_URL
    if env.AWS_S3_REGION_NAME:
        options["region_name"] = env.AWS_S3_REGION_NAME
    if env.AWS_ACCESS_KEY_ID:
        options["access_key"] = env.AWS_ACCESS_KEY_ID
        options["secret_key"] = env.AWS_SECRET_ACCESS_KEY.get_secret_value()
    return {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options}


def addressing_style(style: str, endpoint_url: str, bucket: str) -> str:
    """botocore's addressing style: `virtual` (https://bucket.host/key) or `path`
    (https://host/bucket/key), as AWS_S3_ADDRESSING_STYLE says, or chosen for `auto`.

    botocore's own `auto` means path style for every endpoint other than Amazon's, which
    Tigris refuses for buckets made since February 2025 (Cloudflare R2, Google Cloud
    Storage and DigitalOcean Spaces take both), and signs Amazon links for the legacy
    global host (bucket.s3.amazonaws.com) instead of the bucket's region. So `auto` here
    is virtual wherever the bucket can have a host name of its own, and path style where
    it cannot: a bucket name that is not one DNS label (a wildcard certificate covers one
    label), or an endpoint that is an IP address, `localhost` or a name without a dot
    (a compose service such as `objects`), which has no wildcard DNS.
    https://www.tigrisdata.com/blog/virtual-hosted-urls/
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/VirtualHosting.html
    """
    if style != "auto":
        return style
    if not DNS_LABEL.match(bucket):
        return "path"
    host = (urlsplit(endpoint_url).hostname or "") if endpoint_url else "s3.amazonaws.com"
    try:
        ipaddress.ip_address(host)
        return "path"
    except ValueError:
        pass
    if "." not in host or host.endswith(".localhost"):
        return "path"
    return "virtual"
