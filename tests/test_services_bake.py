"""docker-compose gives the app a cache and a mail catcher, each healthy before web starts."""

import subprocess

import pytest
import yaml

from bakery import tool

pytestmark = pytest.mark.bake


def test_compose_wires_web_to_a_healthy_cache_and_mail_catcher(baked):
    _, project = baked
    rendered = subprocess.run(
        [tool("docker-compose"), "config"], cwd=project, capture_output=True, text=True, check=True
    )
    services = yaml.safe_load(rendered.stdout)["services"]
    for name, probe in (
        ("cache", ["CMD", "valkey-cli", "ping"]),
        ("mail", ["CMD", "/mailpit", "readyz"]),
    ):
        assert services[name]["healthcheck"]["test"] == probe
        assert services["web"]["depends_on"][name] == {"condition": "service_healthy"}
    environment = services["web"]["environment"]
    assert environment["CACHE_URL"] == "redis://cache:6379/0"
    assert environment["EMAIL_URL"] == "smtp://mail:1025?starttls=false"
    assert {"published": 8025, "target": 8025} in services["mail"]["ports"]
