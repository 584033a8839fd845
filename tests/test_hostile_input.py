"""Hostile requests to a served project get a 4xx, never a 5xx; forwarded
headers count only from a trusted proxy; and no worker is lost on the way.

Limits met on the way, and who enforces them:
- Request line over 4094 bytes (414), more than 100 header fields or one over 8190 bytes
  (431): gunicorn's parser under WSGI; under ASGI the same numbers in config/asgi.py,
  because uvicorn's h11 parser passes on any header block that arrives in one piece.
- Bodies over WEB_MAX_BODY_BYTES (413), declared or chunked, before anything stores
  them: config/requestbody.py, in front of Django under both interfaces.
- Bodies over DATA_UPLOAD_MAX_MEMORY_SIZE, forms with more than
  DATA_UPLOAD_MAX_NUMBER_FIELDS fields (400): Django, under both.
"""

import pytest

from bakery import collect_static
from faults import HOST, Csrf, TempFiles, flood_body, send
from server import serve

pytestmark = pytest.mark.boot

PLAIN_HTTP = {"X-Forwarded-Proto": "http"}


# The server's default, so the flood test proves what a deploy gets.
MAX_BODY_BYTES = 6 * 1024 * 1024
FLOOD_BYTES = 100_000_000


@pytest.fixture(scope="module")
def temp_dir(tmp_path_factory):
    """The server's TMPDIR: where Django spools request bodies and uploads."""
    return tmp_path_factory.mktemp("server-tmp")


@pytest.fixture(scope="module")
def served(project, migrated, temp_dir):
    collect_static(project)
    with serve(project, migrated | {"TMPDIR": str(temp_dir)}) as server:
        server.wait_until_serving()
        yield server


def still_serving(server) -> list[int]:
    """Statuses of a liveness probe and of a page that reads the database."""
    return [send(server.port, "GET", "/healthz").status, send(server.port, "GET", "/notes/").status]


def test_x_forwarded_host_is_not_trusted(project, served):
    redirected = send(
        served.port,
        "GET",
        "/admin/login/",
        headers=PLAIN_HTTP | {"X-Forwarded-Host": "evil.example"},
    )
    unknown = send(
        served.port, "GET", "/", headers={"Host": "evil.example", "X-Forwarded-Host": HOST}
    )
    print(
        f"\n[{project.interface}] X-Forwarded-Host: evil.example -> {redirected.status} "
        f"{redirected.header('location')}; unknown Host with a good X-Forwarded-Host -> "
        f"{unknown.status}"
    )
    assert redirected.status == 301
    assert redirected.header("location") == f"https://{HOST}/admin/login/"
    assert unknown.status == 400


def test_a_spoofed_x_forwarded_proto_counts_only_from_a_trusted_proxy(project, migrated, served):
    trusted = send(served.port, "GET", "/admin/login/")
    # The same request, from an address that FORWARDED_ALLOW_IPS does not list.
    with serve(project, migrated | {"FORWARDED_ALLOW_IPS": "10.20.30.40"}) as untrusted_server:
        untrusted_server.wait_until_serving()
        spoofed = send(untrusted_server.port, "GET", "/admin/login/")
    print(
        f"\n[{project.interface}] X-Forwarded-Proto: https from the trusted proxy -> "
        f"{trusted.status}; from an untrusted client -> {spoofed.status} "
        f"{spoofed.header('location')}"
    )
    assert trusted.status == 200
    assert spoofed.status == 301
    assert spoofed.header("location") == f"https://{HOST}/admin/login/"
    assert spoofed.header("strict-transport-security") is None


def oversized_requests(port: int, csrf: Csrf) -> dict:
    return {
        "body of 3 MB": lambda: csrf.post(port, "/notes/", {"text": "x" * 3_000_000}),
        "2000 form fields": lambda: send(
            port,
            "POST",
            "/notes/",
            body="&".join(f"f{i}=1" for i in range(2000)).encode(),
            headers={
                "Cookie": f"csrftoken={csrf.cookie}",
                "Origin": f"https://{HOST}",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        ),
        "header of 64 KiB": lambda: send(port, "GET", "/notes/", headers={"X-Big": "x" * 65_536}),
        "1000 header fields": lambda: send(
            port, "GET", "/notes/", headers={f"X-Field-{i}": "x" * 20 for i in range(1000)}
        ),
        "URL of 64 KiB": lambda: send(port, "GET", "/" + "a" * 65_536),
    }


def test_oversized_requests_get_4xx_and_the_worker_keeps_serving(project, served):
    csrf = Csrf.fetch(served.port)
    workers = served.count("Booting worker")
    results = {}
    for name, request in oversized_requests(served.port, csrf).items():
        outcome = request()
        results[name] = (outcome.status or outcome.error, still_serving(served))
    print(f"\n[{project.interface}] oversized requests -> (status, then /healthz and /notes/):")
    for name, (status, after) in results.items():
        print(f"    {name}: {status}, then {after}")
    assert {
        name: status
        for name, (status, _) in results.items()
        if not (isinstance(status, int) and 400 <= status < 500)
    } == {}
    assert all(after == [200, 200] for _, after in results.values())
    assert served.count("Booting worker") == workers
    assert served.count("WORKER TIMEOUT") == 0


def test_a_100_mb_upload_is_refused_before_the_temporary_directory_grows_past_the_limit(
    project, served, temp_dir
):
    """A multipart form with a 100 MB file, from a client holding a CSRF cookie (one GET
    gives it): declared with Content-Length, then chunked (no length known in advance)."""
    csrf = Csrf.fetch(served.port)
    boundary = "flood7c1e"
    prefix = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="attachment"; '
        f'filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode()
    headers = {
        "Cookie": f"csrftoken={csrf.cookie}",
        "Origin": f"https://{HOST}",
        "Content-Type": f"multipart/form-data; boundary={boundary}",
    }
    results = {}
    for framing in ("Content-Length", "chunked"):
        with TempFiles(temp_dir, served.process.pid) as held:
            status, sent = flood_body(
                served.port,
                "/notes/",
                FLOOD_BYTES,
                chunked=framing == "chunked",
                headers=headers,
                prefix=prefix,
            )
        results[framing] = (status, sent, held.peak, still_serving(served))
    print(f"\n[{project.interface}] 100 MB POST -> status, bytes the server took, temp peak:")
    for framing, (status, sent, peak, after) in results.items():
        print(f"    {framing}: {status}, {sent:,} bytes sent, {peak:,} bytes in TMPDIR, {after}")
    for framing, (status, sent, peak, after) in results.items():
        assert status == 413, framing
        assert peak <= MAX_BODY_BYTES, framing
        assert sent < FLOOD_BYTES / 4, framing
        assert after == [200, 200], framing
    assert served.count("WORKER TIMEOUT") == 0
