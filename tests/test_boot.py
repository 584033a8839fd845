"""The Procfile's web process serves a production configuration on a real port."""

import json
import re
import shutil
import signal
import subprocess
import threading
import time

import pytest

from bakery import collect_static, with_test_views
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


def test_probes_answer_by_ip_over_plain_http(served):
    by_ip = {"Host": f"10.0.0.7:{served.port}", "X-Forwarded-Proto": "http"}
    healthz = served.request("/healthz", headers=by_ip)
    readyz = served.request("/readyz", headers=by_ip)
    assert (healthz.status, readyz.status) == (200, 200)
    assert json.loads(healthz.body)["status"] == "ok"
    assert json.loads(readyz.body) == {"status": "ready", "database": "ok"}


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


def test_plain_http_from_a_client_is_redirected_to_https(served):
    response = served.request("/admin/login/", headers={"X-Forwarded-Proto": "http"})
    assert response.status == 301
    assert response.headers["location"] == "https://app.example.com/admin/login/"


def test_every_log_line_on_stdout_is_json_access_log_included(project, served):
    served.request("/admin/login/", headers={"X-Request-ID": "boot-test-0001"})
    time.sleep(0.3)
    lines = [line for line in served.lines if line.strip()]
    assert lines
    events = [json.loads(line) for line in lines]  # fails on any line that is not JSON
    access = [e for e in events if e.get("path") == "/admin/login/" and e.get("status") == 200]
    assert access, events[-5:]
    if project.interface == "wsgi":  # uvicorn's access log does not see response headers
        assert access[-1]["request_id"] == "boot-test-0001"
    assert any("Serving release" in e["message"] for e in events)


def test_missing_secret_key_stops_start_up_with_a_message_naming_it(project, migrated):
    environ = {k: v for k, v in migrated.items() if k != "DJANGO_SECRET_KEY"}
    with serve(project, environ) as server:
        status = server.process.wait(timeout=30)
        time.sleep(0.2)
    output = server.log
    assert status != 0
    assert "DJANGO_SECRET_KEY: is required but not set" in output
    assert "Traceback" not in output


def test_sigterm_lets_an_in_flight_request_finish_and_exits_0(
    project, migrated, static_collected, tmp_path
):
    slow = with_test_views(project, tmp_path / "slow")
    with serve(slow, migrated) as server:
        server.wait_until_serving()
        result = {}

        def slow_request():
            result["response"] = server.request("/test-slow/?seconds=3", timeout=20)

        client = threading.Thread(target=slow_request)
        client.start()
        time.sleep(1)  # the request is now inside the view
        sent = time.monotonic()
        status = server.stop(signal.SIGTERM)
        stopped = time.monotonic() - sent
        client.join(timeout=20)
    assert result["response"].status == 200
    assert result["response"].body == b"finished"
    assert status == 0, server.log[-3000:]
    print(f"\n[{project.interface}] exited {status} {stopped:.1f} s after SIGTERM")


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
