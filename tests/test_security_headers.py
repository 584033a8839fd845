"""What a browser gets from a served project: the security headers and cookie flags that
protect its users, and the grade the MDN HTTP Observatory would give them (A+).
"""

import re
import secrets

import pytest

from bakery import collect_static
from faults import HOST, Csrf, send
from observatory import score
from server import serve

pytestmark = pytest.mark.boot

ONE_YEAR = 365 * 24 * 3600
PAGES = ("/", "/notes/", "/admin/login/")


@pytest.fixture(scope="module")
def served(project, migrated):
    collect_static(project)
    with serve(project, migrated) as server:
        server.wait_until_serving()
        yield server


@pytest.fixture(scope="module")
def admin_login(project, migrated, served):
    """The response to an admin logging in, which sets the session cookie."""
    username, password = f"admin-{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    project.run(
        "python",
        "manage.py",
        "createsuperuser",
        "--noinput",
        "--username",
        username,
        "--email",
        "admin@example.com",
        env=migrated | {"DJANGO_SUPERUSER_PASSWORD": password},
    )
    csrf = Csrf.fetch(served.port, "/admin/login/")
    login = csrf.post(
        served.port,
        "/admin/login/?next=/admin/",
        {"username": username, "password": password, "next": "/admin/"},
    )
    assert login.status == 302, login.body[:500]
    return login


def directives(policy: str) -> dict[str, list[str]]:
    return {
        name: values
        for name, *values in (part.split() for part in policy.split(";") if part.strip())
    }


def set_cookies(response) -> dict[str, list[str]]:
    """Each cookie's attributes, lowercased: {"csrftoken": ["secure", "httponly", ...]}."""
    cookies = {}
    for key, value in response.headers:
        if key.lower() == "set-cookie":
            name, *attributes = (part.strip() for part in value.split(";"))
            cookies[name.split("=")[0]] = [attribute.lower() for attribute in attributes]
    return cookies


@pytest.mark.parametrize("path", PAGES)
def test_html_pages_carry_the_security_headers(project, served, path):
    page = send(served.port, "GET", path)
    assert page.status == 200
    assert page.header("content-type").startswith("text/html")
    hsts = dict(re.findall(r"(max-age)=(\d+)", page.header("strict-transport-security")))
    print(
        f"\n[{project.interface}] {path}: "
        + "; ".join(
            f"{name}: {page.header(name)}"
            for name in (
                "strict-transport-security",
                "x-content-type-options",
                "x-frame-options",
                "referrer-policy",
                "cross-origin-opener-policy",
            )
        )
    )
    assert int(hsts["max-age"]) >= ONE_YEAR
    assert "includesubdomains" in page.header("strict-transport-security").lower()
    assert page.header("x-content-type-options") == "nosniff"
    assert page.header("x-frame-options") == "DENY"
    assert directives(page.header("content-security-policy"))["frame-ancestors"] == ["'none'"]
    assert page.header("referrer-policy") == "strict-origin-when-cross-origin"
    assert page.header("cross-origin-opener-policy") == "same-origin"


def test_the_content_security_policy_is_enforced_and_nonce_based(project, served):
    first, second = (send(served.port, "GET", "/admin/login/") for _ in range(2))
    policy = directives(first.header("content-security-policy"))
    print(
        f"\n[{project.interface}] Content-Security-Policy: {first.header('content-security-policy')}"
    )
    assert first.header("content-security-policy-report-only") is None
    nonces = [
        re.search(r"'nonce-([^']+)'", r.header("content-security-policy")).group(1)
        for r in (first, second)
    ]
    assert nonces[0] != nonces[1], "the nonce must change with every response"
    assert f'nonce="{nonces[0]}"'.encode() in first.body
    for directive in ("script-src", "default-src", "style-src"):
        assert not {"'unsafe-inline'", "'unsafe-eval'", "*"} & set(policy[directive]), directive
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]


def test_cookies_are_secure_httponly_and_samesite(project, served, admin_login):
    form = send(served.port, "GET", "/notes/")
    cookies = set_cookies(form) | set_cookies(admin_login)
    print(
        f"\n[{project.interface}] cookies: "
        + "; ".join(f"{name}: {', '.join(attributes)}" for name, attributes in cookies.items())
    )
    assert {"csrftoken", "sessionid"} <= cookies.keys()
    for name, attributes in cookies.items():
        assert "secure" in attributes, name
        # Scripts read the CSRF token for X-CSRFToken (docs/decisions.md).
        assert ("httponly" in attributes) == (name != "csrftoken"), name
        assert "samesite=lax" in attributes or "samesite=strict" in attributes, name


@pytest.mark.parametrize("path", PAGES)
def test_the_http_observatory_grades_the_site_a_plus(project, served, path):
    """The grader's view: http://host/path redirected to https, then the page itself."""
    redirect = send(served.port, "GET", path, headers={"X-Forwarded-Proto": "http"})
    assert redirect.status == 301
    page = send(served.port, "GET", path)
    report = score(
        f"https://{HOST}{path}",
        page.status,
        page.headers,
        body=page.body.decode(),
        redirects=[(f"http://{HOST}{path}", redirect.status, redirect.headers)],
    )
    print(
        f"\n[{project.interface}] HTTP Observatory score for {path}: {report.score} "
        f"({report.grade})\n{report.explain()}"
    )
    assert report.score >= 100, report.explain()
    assert report.grade == "A+"
