"""A server error reaches the error-reporting service, with the release and without
personal data: no cookies, no user's email, no form fields, no query string. The
service is a plain HTTP endpoint on loopback given as SENTRY_DSN."""

import gzip
import http.server
import json
import re
import threading
import time
import uuid
from contextlib import contextmanager
from urllib.parse import urlencode

import brotli
import pytest

from bakery import with_test_views
from server import free_port, serve

pytestmark = pytest.mark.boot

REVISION = "5e1f0c7d2b9a"
EMAIL = "reporter-7d41@example.com"
# Sentry's scrubber masks cookies it knows (sessionid, csrftoken) even with personal data
# on; a cookie of the site's own proves that cookies are left out altogether.
OWN_COOKIE = "theme=contrast-4b1d9e"
# What a form and a link from an email carry: an address typed in, a token in the URL.
TYPED_EMAIL = "typed-9c2e@example.com"
URL_TOKEN = "Zq81xVtoken5d7"


class Envelopes(http.server.ThreadingHTTPServer):
    """Collects what Sentry's SDK posts: envelopes, decompressed."""

    def __init__(self, port: int):
        super().__init__(("127.0.0.1", port), EnvelopeHandler)
        self.received: list[bytes] = []


class EnvelopeHandler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "br":
            body = brotli.decompress(body)
        self.server.received.append(body)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@contextmanager
def sentry_endpoint():
    server = Envelopes(free_port())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def events(envelopes: list[bytes]) -> list[dict]:
    """The error events in envelopes: a header line, then (item header, payload) pairs."""
    found = []
    for envelope in envelopes:
        lines = envelope.split(b"\n")[1:]
        for header, payload in zip(lines[::2], lines[1::2], strict=False):
            if json.loads(header).get("type") == "event":
                found.append(json.loads(payload))
    return found


def signed_in_cookie(project, environ) -> str:
    """A session of a user with an email address, made as Django's test client does."""
    script = f"""
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
User = get_user_model()
fields = {{"email": {EMAIL!r}, "password": "{uuid.uuid4().hex}"}}
if User.USERNAME_FIELD != "email":
    fields[User.USERNAME_FIELD] = "reporter"
client = Client()
client.force_login(User.objects.create_user(**fields))
name = settings.SESSION_COOKIE_NAME
print(f"{{name}}={{client.cookies[name].value}}")
"""
    result = project.run("python", "manage.py", "shell", "-c", script, env=environ)
    return result.stdout.strip().splitlines()[-1]


def test_a_server_error_is_reported_with_the_release_and_no_personal_data(
    project, migrated, tmp_path
):
    broken = with_test_views(project, tmp_path / "with-test-views")
    with sentry_endpoint() as endpoint:
        environ = migrated | {
            "SENTRY_DSN": f"http://publickey@127.0.0.1:{endpoint.server_port}/42",
            "GIT_REVISION": REVISION,
            "WEB_CONCURRENCY": "1",
        }
        session = signed_in_cookie(broken, environ)
        with serve(broken, environ) as server:
            server.wait_until_serving()
            cookies = f"{session}; {OWN_COOKIE}"
            response = server.request("/test-broken/", headers={"Cookie": cookies})
            assert response.status == 500
            form = server.request("/notes/", headers={"Cookie": cookies})
            csrf_cookie = form.headers["set-cookie"].split(";", 1)[0]
            csrf_token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', form.body)
            body = urlencode(
                {"csrfmiddlewaretoken": csrf_token.group(1).decode(), "email": TYPED_EMAIL}
            )
            posted = server.request(
                f"/test-broken/?token={URL_TOKEN}&next=/",
                method="POST",
                headers={
                    "Cookie": f"{cookies}; {csrf_cookie}",
                    "Origin": "https://app.example.com",
                    "Referer": f"https://app.example.com/notes/?token={URL_TOKEN}",
                    "Content-Type": "application/x-www-form-urlencoded",
                },
                body=body.encode(),
            )
            assert posted.status == 500
            deadline = time.monotonic() + 15
            while len(events(endpoint.received)) < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
        reported = b"\n".join(endpoint.received)
    reports = events(endpoint.received)
    assert reports, f"no event among {len(endpoint.received)} envelopes"
    # The 500 and nothing else: no report from starting or stopping the server.
    for event in reports:
        assert "test-broken: internal detail 7f3a9c" in json.dumps(event["exception"])
    event = reports[0]
    assert event["release"] == REVISION
    assert event["request"]["url"].endswith("/test-broken/")
    session_id = session.split("=", 1)[1]
    assert session_id.encode() not in reported
    assert OWN_COOKIE.split("=")[1].encode() not in reported
    assert EMAIL.encode() not in reported
    (post,) = [event for event in reports if event["request"]["method"] == "POST"]
    assert post["request"]["url"].endswith("/test-broken/")
    assert TYPED_EMAIL.encode() not in reported
    assert URL_TOKEN.encode() not in reported
    assert "data" not in post["request"]
    print(f"\n[{project.interface}] {len(endpoint.received)} envelope(s), release {REVISION}")
