"""Where uploaded files go: an S3-compatible bucket, or the local disk in development.

Every process of every release sees the same bucket, so a file uploaded through one web
process is served to a request on another, and survives a deploy (factors IV and VI).
https://django-storages.readthedocs.io/en/latest/backends/amazon-S3.html
https://docs.djangoproject.com/en/6.1/ref/settings/#storages
"""

import ipaddress
import re
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import FileSystemStorage

from config.env import Env

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
