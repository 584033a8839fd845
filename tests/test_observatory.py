"""The MDN HTTP Observatory's own scanner (npm, pinned in tests/observatory/) grades the
served project as it would a public site: http://localhost redirected to https://localhost,
the home page and the admin login (the page with cookies and scripts).

The scanner only knows ports 80 and 443, so the project is served on them: one gunicorn
for plain HTTP, one terminating TLS with a certificate made for the test. A lock file
keeps two scans (two checkouts, two test runs) from wanting the ports at once.
"""

import contextlib
import fcntl
import json
import os
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from bakery import collect_static
from server import serve

pytestmark = pytest.mark.boot

SCANNER = Path(__file__).parent / "observatory"
PACKAGE = SCANNER / "node_modules" / "@mdn" / "mdn-http-observatory"
PORTS_LOCK = Path(tempfile.gettempdir()) / "twelve-factor-django-ports-80-443.lock"
# The most the scanner gives without the domain on the browsers' HSTS preload list; the
# home page sets no cookie, so it cannot earn the 5 points for cookies.
TOP_SCORES = {"/": 130, "/admin/login/": 135}


@pytest.fixture(scope="module")
def scanner() -> Path:
    assert PACKAGE.is_dir(), (
        "install the scanner: npm ci --ignore-scripts --prefix tests/observatory"
    )
    # The preload list is downloaded by the package's install script, which is not run
    # (offline machines); an empty one says what we test: no preloading.
    preload = PACKAGE / "conf" / "hsts-preload.json"
    if not preload.exists():
        preload.write_text("{}")
    return SCANNER


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"]
        + ["-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    return cert, key


@contextlib.contextmanager
def ports_80_and_443():
    """Held while the project serves on 80 and 443; waits for another scan to finish."""
    with PORTS_LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for port in (80, 443):
            with socket.socket() as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    probe.bind(("0.0.0.0", port))
                except PermissionError:
                    pytest.fail(f"port {port} needs root (or CAP_NET_BIND_SERVICE) to serve on")
                except OSError as error:
                    pytest.fail(
                        f"port {port} is taken by another program ({error}); the scan needs it"
                    )
        yield


def wait_for(url: str, context: ssl.SSLContext, server, timeout: float = 30) -> None:
    started = time.monotonic()
    while time.monotonic() - started < timeout and server.process.poll() is None:
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(url, context=context, timeout=1) as response,
        ):
            if response.status == 200:
                return
        time.sleep(0.1)
    raise AssertionError(f"{url} never answered\n{server.log[-4000:]}")


@pytest.fixture(scope="module")
def report(project, migrated, scanner, certificate) -> dict:
    """The scanner's grades of both pages, served as in production on localhost."""
    collect_static(project)
    cert, key = certificate
    environ = migrated | {"ALLOWED_HOSTS": "localhost", "WEB_CONCURRENCY": "1"}
    tls = {"GUNICORN_CMD_ARGS": f"--certfile={cert} --keyfile={key}"}
    trusting = ssl.create_default_context(cafile=cert)
    with (
        ports_80_and_443(),
        serve(project, environ | {"PORT": "80"}) as http,
        serve(project, environ | tls | {"PORT": "443"}) as https,
    ):
        wait_for("http://localhost/healthz", trusting, http)
        wait_for("https://localhost/healthz", trusting, https)
        started = time.monotonic()
        scan = subprocess.run(
            ["node", "grade.mjs", *(path for path in TOP_SCORES if path != "/")],
            cwd=scanner,
            env=os.environ | {"NODE_EXTRA_CA_CERTS": str(cert)},
            capture_output=True,
            text=True,
            timeout=120,
        )
        seconds = time.monotonic() - started
    assert scan.returncode == 0, scan.stderr + http.log[-2000:] + https.log[-2000:]
    print(f"\n[{project.interface}] scanned in {seconds:.1f} s")
    return json.loads(scan.stdout)


@pytest.mark.parametrize("path", TOP_SCORES)
def test_the_http_observatory_gives_its_top_score(project, report, path):
    page = report[path]
    failed = {name: test["result"] for name, test in page["tests"].items() if not test["pass"]}
    print(
        f"\n[{project.interface}] MDN HTTP Observatory, {path}: {page['score']} ({page['grade']})\n"
        + "\n".join(
            f"  {name}: {t['result']} ({t['modifier']:+d})" for name, t in page["tests"].items()
        )
    )
    assert page["status"] == 200
    assert not failed
    assert (page["score"], page["grade"]) == (TOP_SCORES[path], "A+")
