"""What a client of a production deploy sees: probes, redirects, headers, errors."""

import json
import re

HTTPS = {"headers": {"X-Forwarded-Proto": "https"}, "HTTP_HOST": "app.example.com"}
PROBE_BY_IP = {"HTTP_HOST": "10.1.2.3:8000"}


def test_health_probes_answer_by_ip_over_plain_http(fetch):
    healthz, readyz = fetch(("get", "/healthz", PROBE_BY_IP), ("get", "/readyz", PROBE_BY_IP))
    assert healthz["status"] == 200
    assert json.loads(healthz["body"]) == {"status": "ok", "release": "unknown"}
    assert readyz["status"] == 200
    assert json.loads(readyz["body"])["database"] == "ok"


def test_healthz_shows_the_release_being_run(fetch):
    (healthz,) = fetch(("get", "/healthz", PROBE_BY_IP), GIT_REVISION="3f2a9c1")
    assert json.loads(healthz["body"])["release"] == "3f2a9c1"


def test_readyz_answers_503_when_the_database_is_unreachable(fetch):
    (readyz,) = fetch(
        ("get", "/readyz", PROBE_BY_IP),
        DATABASE_URL="postgres://nobody@127.0.0.1:1/none",
        DATABASE_CONNECT_TIMEOUT="1",
    )
    assert readyz["status"] == 503
    assert json.loads(readyz["body"]) == {"status": "unavailable", "database": "unreachable"}


def test_plain_http_is_redirected_to_https(fetch):
    (response,) = fetch(("get", "/", {"HTTP_HOST": "app.example.com"}))
    assert response["status"] == 301
    assert response["headers"]["Location"] == "https://app.example.com/"


def test_an_unknown_host_is_refused_logged_and_not_echoed(client, caplog, settings):
    settings.DEBUG = False
    response = client.get("/", headers={"host": "evil.example"}, secure=True)
    assert response.status_code == 400
    assert b"evil.example" not in response.content
    (record,) = [r for r in caplog.records if r.name == "django.security.DisallowedHost"]
    assert "evil.example" in record.getMessage()


def test_pages_carry_the_security_headers(fetch):
    (page,) = fetch(("get", "/", {"secure": True, "HTTP_HOST": "app.example.com"}))
    headers = page["headers"]
    assert page["status"] == 200
    assert headers["Content-Security-Policy"] == (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )
    assert "Content-Security-Policy-Report-Only" not in headers
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert headers["Cross-Origin-Resource-Policy"] == "same-origin"
    assert headers["X-Request-ID"]


def test_scripts_run_only_with_a_nonce_that_changes_with_every_response(fetch):
    login = ("get", "/admin/login/", {"secure": True, "HTTP_HOST": "app.example.com"})
    pages = fetch(login, login)
    policies = [page["headers"]["Content-Security-Policy"] for page in pages]
    nonces = [re.search(r"script-src 'self' 'nonce-([^']+)';", policy)[1] for policy in policies]
    assert nonces[0] != nonces[1]
    assert f'<script src="/static/admin/js/theme.js" nonce="{nonces[0]}">' in pages[0]["body"]


def test_cookies_are_secure_httponly_and_samesite(fetch):
    (login,) = fetch(("get", "/admin/login/", {"secure": True, "HTTP_HOST": "app.example.com"}))
    cookie = login["cookies"]["csrftoken"]
    assert cookie["secure"] is True
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"


def test_missing_pages_show_no_debug_information(fetch):
    (response,) = fetch(("get", "/no-such-page/", {"secure": True, "HTTP_HOST": "app.example.com"}))
    assert response["status"] == 404
    assert "Traceback" not in response["body"]
    assert "URLconf" not in response["body"]
