"""Object storage as providers hand it out: each platform's variables, exactly as its
documentation shows them, give a working storage and SigV4 links of the right form.

Signing a link is local (no request is sent), so the links are checked here; the
template's tests upload and download through a real S3 server.
"""

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from storages.backends.s3 import S3Storage

from config.storage import StorageEnv, media_storage
from tests.conftest import problems

# Any: the settings take these as keyword arguments beside their own typed options.
KEYS: dict[str, Any] = {
    "AWS_ACCESS_KEY_ID": "AKIAEXAMPLEKEY",
    "AWS_SECRET_ACCESS_KEY": "example-secret-key",
}

# (platform, what it sets, the link's scheme://host/path prefix for notes/a.txt)
PROVIDERS = [
    (
        "Amazon S3 (ECS and Lambda set AWS_REGION)",
        {"AWS_STORAGE_BUCKET_NAME": "shop-media", "AWS_REGION": "eu-west-1"},
        "https://shop-media.s3.eu-west-1.amazonaws.com/notes/a.txt",
    ),
    (
        "Fly.io Tigris (fly storage create)",
        {
            "BUCKET_NAME": "summer-grass-2004",
            "AWS_ENDPOINT_URL_S3": "https://fly.storage.tigris.dev",
            "AWS_REGION": "auto",
        },
        "https://summer-grass-2004.fly.storage.tigris.dev/notes/a.txt",
    ),
    (
        "Railway bucket (its AWS SDK credentials)",
        {
            "AWS_S3_BUCKET_NAME": "uploads-x7k2q",
            "AWS_ENDPOINT_URL": "https://storage.railway.app",
            "AWS_DEFAULT_REGION": "auto",
        },
        "https://uploads-x7k2q.storage.railway.app/notes/a.txt",
    ),
    (
        "Cloudflare R2",
        {
            "AWS_STORAGE_BUCKET_NAME": "shop-media",
            "AWS_S3_ENDPOINT_URL": "https://0123456789abcdef.r2.cloudflarestorage.com",
            "AWS_S3_REGION_NAME": "auto",
        },
        "https://shop-media.0123456789abcdef.r2.cloudflarestorage.com/notes/a.txt",
    ),
    (
        "Google Cloud Storage (XML API, HMAC keys)",
        {
            "AWS_STORAGE_BUCKET_NAME": "shop-media",
            "AWS_S3_ENDPOINT_URL": "https://storage.googleapis.com",
            "AWS_S3_REGION_NAME": "auto",
        },
        "https://shop-media.storage.googleapis.com/notes/a.txt",
    ),
    (
        "DigitalOcean Spaces",
        {
            "AWS_STORAGE_BUCKET_NAME": "shop-media",
            "AWS_S3_ENDPOINT_URL": "https://nyc3.digitaloceanspaces.com",
            "AWS_S3_REGION_NAME": "nyc3",
        },
        "https://shop-media.nyc3.digitaloceanspaces.com/notes/a.txt",
    ),
    (
        "compose's local store (a service name, no wildcard DNS)",
        {"AWS_STORAGE_BUCKET_NAME": "media", "AWS_S3_ENDPOINT_URL": "http://objects:8333"},
        "http://objects:8333/media/notes/a.txt",
    ),
    (
        "MinIO on loopback",
        {"AWS_STORAGE_BUCKET_NAME": "media", "AWS_S3_ENDPOINT_URL": "http://127.0.0.1:9000"},
        "http://127.0.0.1:9000/media/notes/a.txt",
    ),
    (
        "a pre-2025 Tigris bucket, path style asked for",
        {
            "BUCKET_NAME": "old-bucket",
            "AWS_ENDPOINT_URL_S3": "https://fly.storage.tigris.dev",
            "AWS_REGION": "auto",
            "AWS_S3_ADDRESSING_STYLE": "path",
        },
        "https://fly.storage.tigris.dev/old-bucket/notes/a.txt",
    ),
]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """Only what each test gives: no platform variable of the machine running the tests."""
    for field in StorageEnv.model_fields.values():
        for name in getattr(field.validation_alias, "choices", []):
            monkeypatch.delenv(name, raising=False)
    for name in StorageEnv.model_fields:
        monkeypatch.delenv(name, raising=False)


def signed_link(environ: dict[str, Any]) -> str:
    env = StorageEnv(_env_file=None, **KEYS, **environ)
    storage = media_storage(env)
    assert storage["BACKEND"] == "storages.backends.s3.S3Storage"
    return S3Storage(**storage["OPTIONS"]).url("notes/a.txt")


@pytest.mark.parametrize(
    ("environ", "prefix"), [row[1:] for row in PROVIDERS], ids=[row[0] for row in PROVIDERS]
)
def test_each_providers_variables_give_sigv4_links_to_the_bucket(monkeypatch, environ, prefix):
    # Set as the platform sets them: in the environment, under the platform's names.
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    link = signed_link({})
    query = parse_qs(urlsplit(link).query)
    assert link.split("?")[0] == prefix
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
    region = region or environ.get("AWS_S3_REGION_NAME") or "us-east-1"
    assert query["X-Amz-Credential"][0].split("/")[2] == region
    assert "Signature" not in query  # SigV2, which Amazon S3 refuses for new buckets


def test_a_bucket_name_with_dots_is_addressed_by_path():
    """A wildcard certificate covers one label: https://my.media.host would not verify."""
    link = signed_link({"AWS_STORAGE_BUCKET_NAME": "my.media", "AWS_S3_REGION_NAME": "eu-west-1"})
    assert link.startswith("https://s3.eu-west-1.amazonaws.com/my.media/notes/a.txt?")


def test_amazon_s3_without_a_region_is_refused():
    message = problems(AWS_STORAGE_BUCKET_NAME="shop-media")
    assert "  AWS_S3_REGION_NAME: must name the bucket's region" in message


def test_an_unknown_addressing_style_is_refused():
    message = problems(
        AWS_STORAGE_BUCKET_NAME="media",
        AWS_S3_ENDPOINT_URL="https://objects.example",
        AWS_S3_ADDRESSING_STYLE="subdomain",
    )
    assert "  AWS_S3_ADDRESSING_STYLE: " in message


def test_our_name_and_the_platforms_name_set_differently_is_one_error_naming_both(monkeypatch):
    monkeypatch.setenv("AWS_STORAGE_BUCKET_NAME", "media")
    monkeypatch.setenv("BUCKET_NAME", "summer-grass-2004")
    monkeypatch.setenv("AWS_S3_ENDPOINT_URL", "https://fly.storage.tigris.dev")
    message = problems()
    assert "AWS_STORAGE_BUCKET_NAME and BUCKET_NAME are both set, to different values" in message
    assert "summer-grass" not in message
