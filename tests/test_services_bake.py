"""docker-compose gives the app a cache and a mail catcher, each healthy before web starts,
and starts in a fresh clone with everything published on loopback only."""

import os
import subprocess

import pytest
import yaml

from bakery import bake, tool

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
    assert "127.0.0.1:8025:8025/tcp" in services["mail"]["ports"]


def compose_services(project, **environ: str) -> dict:
    rendered = subprocess.run(
        [tool("docker-compose"), "config"],
        cwd=project,
        env=os.environ | environ,
        capture_output=True,
        text=True,
        check=True,
    )
    return yaml.safe_load(rendered.stdout)["services"]


def published(services: dict) -> dict[str, list[str]]:
    return {name: service["ports"] for name, service in services.items() if "ports" in service}


def test_compose_starts_without_env_and_publishes_on_loopback_only(tmp_path):
    """A fresh clone has no .env: compose must not need one, and nothing it publishes is
    reachable from another machine unless PUBLISH_HOST says so."""
    project = bake(tmp_path)
    (project / ".env").unlink()
    services = compose_services(project)
    local = published(services)
    assert {port.split(":")[0] for ports in local.values() for port in ports} == {"127.0.0.1"}
    assert services["web"]["environment"]["DEBUG"] == "true"
    shared = published(compose_services(project, PUBLISH_HOST="0.0.0.0"))
    assert shared["web"] == ["0.0.0.0:8000:8000/tcp"]
    assert "0.0.0.0:8025:8025/tcp" in shared["mail"]
    assert shared["objects"] == ["0.0.0.0:8333:8333/tcp"]
    # The database, the cache and SMTP are for the app on this machine only.
    assert (shared["db"], shared["cache"]) == (local["db"], local["cache"])
