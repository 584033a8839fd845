"""An S3-compatible object store on loopback for the template's tests: moto in server mode.

A real HTTP server speaking S3's protocol, in this test process; what the baked project
writes through django-storages can be listed and read back with boto3.
"""

import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import boto3
from moto.server import ThreadedMotoServer

from server import free_port

# moto accepts any credentials; these only have to be present and consistent.
ACCESS_KEY = "test-access-key"
SECRET_KEY = "test-secret-key-not-printed"
REGION = "us-east-1"


@dataclass
class ObjectStore:
    endpoint: str
    bucket: str

    def environ(self) -> dict[str, str]:
        """What a platform sets for the baked project to use this store."""
        return {
            "AWS_STORAGE_BUCKET_NAME": self.bucket,
            "AWS_S3_ENDPOINT_URL": self.endpoint,
            "AWS_S3_REGION_NAME": REGION,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        }

    def client(self):
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )

    def object_names(self) -> list[str]:
        listing = self.client().list_objects_v2(Bucket=self.bucket)
        return [item["Key"] for item in listing.get("Contents", [])]


@contextmanager
def object_store(bucket: str = "media") -> Iterator[ObjectStore]:
    """A moto S3 server on a free loopback port with one empty bucket; stopped at exit."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        store = ObjectStore(endpoint=f"http://127.0.0.1:{port}", bucket=bucket)
        store.client().create_bucket(Bucket=bucket)
        yield store
    finally:
        server.stop()


def download(url: str, timeout: float = 10) -> bytes:
    """GET a URL the app handed out (a signed link to the store), as a browser would."""
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError(f"expected a link to the loopback store, got {url[:60]}")
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read()
