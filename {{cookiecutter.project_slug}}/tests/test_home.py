"""The home page: plain in production; in development, the running configuration's
twelve-factor status, each part linked to the README line that explains it."""

import re
from html import unescape

from config.env import BASE_DIR

HTTPS = {"secure": True, "HTTP_HOST": "app.example.com"}
README = (BASE_DIR / "README.md").read_text(encoding="utf-8").splitlines()


def test_production_shows_a_plain_page_and_no_readme(fetch):
    home, readme = fetch(("get", "/", HTTPS), ("get", "/readme/", HTTPS))
    assert home["status"] == 200
    assert "Backing services" not in home["body"]
    assert "Deploy checks" not in home["body"]
    assert "/readme/" not in home["body"]
    assert readme["status"] == 404


def test_development_shows_services_processes_and_deploy_checks(fetch):
    (home,) = fetch(("get", "/", HTTPS), DEBUG="true", GIT_REVISION="3f2a9c1")
    body = unescape(home["body"])
    assert home["status"] == 200
    assert "Release" in body
    assert "<code>3f2a9c1</code>" in body
    database = re.search(r"<td><a [^>]*>database</a></td>(.*?)</tr>", body, re.DOTALL)
    assert database, body
    assert re.search(r">(reachable|process-local)</span>", database.group(1)), database.group(1)
    for line in (BASE_DIR / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        assert f"<tr><td>{name}</td><td><code>{command.strip()}</code></td></tr>" in body
    # DEBUG itself is what the deploy checklist objects to first.
    assert "security.W018" in body
    assert "'unsafe-inline'" not in home["headers"]["Content-Security-Policy"]
    assert "style=" not in body
    assert "<script" not in body


def test_every_link_points_at_the_readme_line_that_explains_it(fetch):
    (home,) = fetch(("get", "/", HTTPS), DEBUG="true")
    links = dict(
        (unescape(text), int(number))
        for number, text in re.findall(r'<a href="/readme/#L(\d+)">(.*?)</a>', home["body"])
    )
    assert {"Release", "Backing services", "Process types", "Deploy checks"} <= set(links)
    assert "GIT_REVISION" in README[links["Release"] - 1]
    assert "Procfile" in README[links["Process types"] - 1]
    assert "check" in README[links["Deploy checks"] - 1]
    assert "DATABASE_URL" in README[links["database"] - 1]


def test_the_readme_page_has_an_anchor_on_every_line(fetch):
    (readme,) = fetch(("get", "/readme/", HTTPS), DEBUG="true")
    assert readme["status"] == 200
    assert len(re.findall(r'<span id="L\d+">', readme["body"])) == len(README)


def test_unreachable_services_are_reported_without_their_passwords(fetch):
    (home,) = fetch(
        ("get", "/", HTTPS),
        DEBUG="true",
        DATABASE_URL="postgres://app:s3cret-pw@127.0.0.1:1/app",
        DATABASE_CONNECT_TIMEOUT="1",
        EMAIL_URL="smtp://postmaster:s3cret-mail@127.0.0.1:2",
    )
    assert home["status"] == 200
    body = unescape(home["body"])
    assert "s3cret" not in body
    for service, where in (("database", "127.0.0.1:1"), ("email", "127.0.0.1:2")):
        row = re.search(rf"<td><a [^>]*>{service}</a></td>(.*?)</tr>", body, re.DOTALL)
        assert row, body
        assert where in row.group(1)
        assert ">unreachable</span>" in row.group(1)
