"""The Procfile's web process serves a production configuration on a real port."""

import json
import re
import secrets
import shutil
import subprocess
import time

import pytest

from bakery import collect_static
from faults import Csrf
from server import serve

pytestmark = pytest.mark.boot


@pytest.fixture(scope="session")
def static_collected(project):
    collect_static(project)


@pytest.fixture(scope="session")
def served(project, migrated, static_collected):
    with serve(project, migrated) as server:
        seconds = server.wait_until_serving()
        print(f"\n[{project.interface}] first 200 from /healthz after {seconds:.2f} s")
        yield server


def json_lines(server) -> list[dict]:
    return [json.loads(line) for line in server.lines if line.startswith("{")]


def test_admin_login_page_renders_with_its_hashed_css(served):
    page = served.request("/admin/login/")
    assert page.status == 200
    css = re.search(rb'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', page.body)
    assert css, page.body[:500]
    stylesheet = served.request(css.group(1).decode(), headers={"Accept-Encoding": "br, gzip"})
    assert stylesheet.status == 200
    assert stylesheet.headers["content-encoding"] == "br"
    assert "immutable" in stylesheet.headers["cache-control"]
    assert "max-age=315360000" in stylesheet.headers["cache-control"]


def test_every_log_line_on_stdout_is_json_access_log_included(project, served):
    served.request("/admin/login/", headers={"X-Request-ID": "boot-test-0001"})
    time.sleep(0.3)
    lines = [line for line in served.lines if line.strip()]
    assert lines
    events = [json.loads(line) for line in lines]  # fails on any line that is not JSON
    assert served.errors == []  # one stream: nothing bypasses it on stderr
    access = [e for e in events if e.get("path") == "/admin/login/" and e.get("status") == 200]
    assert access, events[-5:]
    if project.interface == "wsgi":  # uvicorn's access log does not see response headers
        assert access[-1]["request_id"] == "boot-test-0001"
    assert any("Serving release" in e["message"] for e in events)


def test_logging_in_sets_a_secure_httponly_samesite_session_cookie(project, migrated, served):
    username, password = f"admin-{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    project.run(
        *("python", "manage.py", "createsuperuser", "--noinput", "--email", "a@example.com"),
        *("--username", username),
        env=migrated | {"DJANGO_SUPERUSER_PASSWORD": password},
    )
    csrf = Csrf.fetch(served.port, "/admin/login/")
    login = csrf.post(served.port, "/admin/login/", {"username": username, "password": password})
    assert login.status == 302, login.body[:500]
    (session,) = [
        v for k, v in login.headers if k.lower() == "set-cookie" and v.startswith("sessionid=")
    ]
    attributes = {part.strip().lower() for part in session.split(";")[1:]}
    assert {"secure", "httponly", "samesite=lax"} <= attributes


CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
]


@pytest.mark.parametrize("path", ["/", "/admin/login/"])
def test_pages_render_in_a_real_browser_without_csp_violations(
    project, migrated, static_collected, path, tmp_path
):
    """Chromium loads the page, its CSS and scripts under the enforced policy; the
    browser reports every blocked inline script or style on its console."""
    chromium = shutil.which("chromium")
    assert chromium, "install Chromium (Debian: apt-get install chromium) for the browser test"
    # Plain HTTP on 127.0.0.1, as a browser reaches it here: no proxy sets the scheme.
    environ = migrated | {"ALLOWED_HOSTS": "127.0.0.1", "SECURE_SSL_REDIRECT": "false"}
    with serve(project, environ) as server:
        server.wait_until_serving()
        browser = subprocess.run(
            [
                chromium,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={tmp_path / 'profile'}",
                f"--screenshot={tmp_path / 'page.png'}",
                "--window-size=1000,700",
                f"http://127.0.0.1:{server.port}{path}",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        requested = [line for line in server.lines if '"GET ' in line or "GET /" in line]
    console = [line for line in browser.stderr.splitlines() if ":CONSOLE" in line]
    assert not [line for line in console if "Content Security Policy" in line], console
    assert (tmp_path / "page.png").stat().st_size > 5000
    assert any("/static/" in line for line in requested), requested
