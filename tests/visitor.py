"""A visitor with a cookie jar who fills in forms, on any server of one site: the same
cookies go to whichever process answers, as behind a load balancer."""

import html
import re
import uuid
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import urlencode

from bakery import Project
from faults import ORIGIN, send
from server import Server

CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def create_user(project: Project, environ: dict[str, str], password: str) -> tuple[str, str]:
    """A new user made with the project's own model, as an admin would; (name, email)."""
    name = f"ada_{uuid.uuid4().hex[:8]}"
    address = f"{name}@example.org"
    code = (
        "from django.contrib.auth import get_user_model; "
        f"get_user_model().objects.create_user({name!r}, {address!r}, {password!r})"
    )
    project.run("python", "manage.py", "shell", "--no-imports", "-c", code, env=environ)
    return name, address


@dataclass
class Page:
    status: int
    location: str
    text: str


@dataclass
class Visitor:
    cookies: dict[str, str] = field(default_factory=dict)
    # Sent with every request, e.g. the X-Forwarded-For a proxy adds.
    headers: dict[str, str] = field(default_factory=dict)
    # The local address to connect from: 127.0.0.1 is the trusted proxy, others are not.
    source: str | None = None

    def get(self, server: Server, path: str) -> Page:
        return self._send(server, "GET", path)

    def submit(self, server: Server, path: str, data: dict[str, str]) -> Page:
        """Load the form at `path` and post `data` with its CSRF token, as a browser does."""
        form = self.get(server, path)
        token = CSRF_FIELD.search(form.text)
        assert token, f"no CSRF token in the form at {path}: {form.status} {form.text[:300]}"
        body = urlencode(data | {"csrfmiddlewaretoken": html.unescape(token.group(1))})
        return self._send(server, "POST", path, body)

    def _send(self, server: Server, method: str, path: str, body: str | None = None) -> Page:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if body is not None:
            headers |= {"Content-Type": "application/x-www-form-urlencoded", "Origin": ORIGIN}
        headers |= self.headers
        outcome = send(
            server.port,
            method,
            path,
            body=body and body.encode(),
            headers=headers,
            timeout=15,
            source=self.source,
        )
        assert outcome.status, f"{method} {path}: {outcome.error}"
        for name, value in outcome.headers:
            if name.lower() == "set-cookie":
                for morsel in SimpleCookie(value).values():
                    self.cookies[morsel.key] = morsel.value
        return Page(
            outcome.status, outcome.header("Location") or "", outcome.body.decode(errors="replace")
        )


def signs_in(visitor: Visitor, server: Server, name: str, password: str) -> bool:
    """Whether the login form takes this name and password and the next page knows it."""
    page = visitor.submit(server, "/accounts/login/", {"username": name, "password": password})
    return page.status == 302 and "Signed in as " + name in visitor.get(server, "/").text
