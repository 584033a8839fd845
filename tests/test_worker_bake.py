"""Every bake declares the worker process where each platform looks for it."""

import shlex
import subprocess

import pytest
import yaml

from bakery import tool

pytestmark = pytest.mark.bake


def test_procfile_declares_the_worker(baked):
    _, project = baked
    processes = dict(line.split(":", 1) for line in (project / "Procfile").read_text().splitlines())
    assert shlex.split(processes["worker"]) == ["python", "manage.py", "worker"]


def test_compose_runs_the_worker_from_the_web_image_after_migrate(baked):
    _, project = baked
    rendered = subprocess.run(
        [tool("docker-compose"), "config"], cwd=project, capture_output=True, text=True, check=True
    )
    services = yaml.safe_load(rendered.stdout)["services"]
    worker, web = services["worker"], services["web"]
    assert worker["image"] == web["image"]
    assert worker["command"] == ["python", "manage.py", "worker"]
    # After the migration, with every service the web process has.
    assert worker["depends_on"] == web["depends_on"]
    assert worker["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    # The image's HEALTHCHECK asks the web port, which a worker does not have.
    assert worker["healthcheck"]["test"] == ["CMD", "python", "manage.py", "worker", "--alive"]
    assert worker["read_only"] is True
    assert worker["stop_grace_period"] == "30s"
    assert "ports" not in worker
