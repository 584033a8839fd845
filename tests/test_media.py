"""Uploads go to the S3-compatible store, and any web process serves links to them."""

import html
import re
import uuid

import pytest

from bakery import collect_static
from objectstore import download, object_store
from server import serve

pytestmark = pytest.mark.boot

ORIGIN = {"Origin": "https://app.example.com"}


@pytest.fixture(scope="module")
def store():
    with object_store() as store:
        yield store


@pytest.fixture(scope="module")
def media_environ(project, migrated, store) -> dict[str, str]:
    collect_static(project)
    # One worker per server: the test is about two processes, not about load.
    return migrated | store.environ() | {"WEB_CONCURRENCY": "1"}


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> tuple[str, bytes]:
    """A multipart/form-data body, as a browser sends a form with a file input."""
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    for name, (filename, content) in files.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
            + content
            + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return f"multipart/form-data; boundary={boundary}", b"".join(parts)


def post_note(server, text: str, filename: str, content: bytes) -> None:
    form = server.request("/notes/")
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', form.body).group(1)
    cookie = form.headers["set-cookie"].split(";", 1)[0]
    content_type, body = multipart(
        {"csrfmiddlewaretoken": token.decode(), "text": text},
        {"attachment": (filename, content)},
    )
    response = server.request(
        "/notes/",
        method="POST",
        headers=ORIGIN | {"Cookie": cookie, "Content-Type": content_type},
        body=body,
    )
    assert response.status == 302, response.body[:2000]


def attachment_link(server, text: str) -> str:
    page = server.request("/notes/")
    assert page.status == 200
    match = re.search(
        rf"<li>{re.escape(text)} <a href=\"([^\"]+)\">attachment</a>", page.body.decode()
    )
    assert match, page.body.decode()[:2000]
    return html.unescape(match.group(1))


def test_an_upload_is_stored_in_the_bucket_and_read_back_through_its_link(
    project, media_environ, store
):
    content = uuid.uuid4().bytes * 64
    with serve(project, media_environ) as server:
        server.wait_until_serving()
        post_note(server, "Quarterly plan", "plan.bin", content)
        link = attachment_link(server, "Quarterly plan")
    assert any(key.startswith("notes/") and key.endswith(".bin") for key in store.object_names())
    # Path style on a loopback address (AWS_S3_ADDRESSING_STYLE=auto), signed with SigV4:
    # moto would take a SigV2 link that Amazon S3 refuses.
    assert link.startswith(store.endpoint + "/media/notes/")
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in link
    assert "X-Amz-Signature=" in link
    assert "AWSAccessKeyId=" not in link
    assert download(link) == content
    assert not (project.path / "media").exists()
    print(f"\n[{project.interface}] stored as {store.object_names()}")


def test_a_file_uploaded_through_one_process_is_served_by_another(project, media_environ, store):
    content = b"statelessness " + uuid.uuid4().bytes
    with serve(project, media_environ) as first, serve(project, media_environ) as second:
        first.wait_until_serving()
        second.wait_until_serving()
        post_note(first, "From the first process", "shared.txt", content)
        first.stop()
        link = attachment_link(second, "From the first process")
    assert download(link) == content
