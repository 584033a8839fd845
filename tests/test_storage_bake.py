"""docker-compose gives every app process an S3-compatible store and the release name."""

import subprocess

import pytest
import yaml

from bakery import tool

pytestmark = pytest.mark.bake


def compose_services(project) -> dict:
    rendered = subprocess.run(
        [tool("docker-compose"), "config"],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "GIT_REVISION": "3f2a9c1"},
    )
    return yaml.safe_load(rendered.stdout)["services"]


def test_compose_wires_a_healthy_object_store_with_its_bucket_to_the_app(baked):
    _, project = baked
    services = compose_services(project)
    store = services["objects"]
    assert store["healthcheck"]["test"][0] == "CMD"
    assert "-bucket=media" in store["command"]
    assert services["web"]["depends_on"]["objects"] == {"condition": "service_healthy"}
    for name in ("web", "migrate"):
        environment = services[name]["environment"]
        assert environment["AWS_STORAGE_BUCKET_NAME"] == "media"
        assert environment["AWS_S3_ENDPOINT_URL"] == "http://objects:8333"
        assert environment["AWS_ACCESS_KEY_ID"] == store["environment"]["AWS_ACCESS_KEY_ID"]


def test_compose_passes_the_release_to_the_build_and_the_processes(baked):
    _, project = baked
    services = compose_services(project)
    assert services["web"]["build"]["args"]["GIT_REVISION"] == "3f2a9c1"
    assert services["web"]["environment"]["GIT_REVISION"] == "3f2a9c1"
