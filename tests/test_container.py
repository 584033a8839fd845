"""The baked Dockerfile builds an image that serves, runs safely and keeps secrets out.

Built and run with buildah on a local Debian trixie base (tests/containers.py and
docs/containers.md say how, and what differs from Docker).
"""

import http.client
import json
import re
import secrets
import signal
import time

import pytest

import containers
from bakery import INTERFACES, bake, database_url, drop_database, new_database
from server import free_port

pytestmark = pytest.mark.container

REVISION = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(scope="session")
def base_image() -> str:
    containers.require_tools()
    return containers.ensure_base_image()


@pytest.fixture(scope="session", params=INTERFACES)
def built(request, base_image, tmp_path_factory):
    """The image of a fresh bake, built as a user would: with its .env lying beside it."""
    project = bake(tmp_path_factory.mktemp(f"image-{request.param}"), web_interface=request.param)
    (project / ".env.production").write_text("DJANGO_SECRET_KEY=must-not-ship\n")
    tag = f"localhost/tfd-test/demo-shop:{request.param}"
    result = containers.build_image(
        project, tag, {"PYTHON_IMAGE": base_image, "GIT_REVISION": REVISION}
    )
    print(
        f"\n[{request.param}] image built in {result.seconds:.1f} s, "
        f"{result.size_bytes / 1e6:.0f} MB uncompressed"
    )
    # Kept after the run: the next build reuses its cached layers.
    return request.param, project, result


@pytest.fixture(scope="session")
def container_env(built):
    """A production environment on a fresh database, migrated by a one-off container."""
    interface, _, result = built
    database = new_database(f"tfd_image_{interface}")
    environ = {
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": database_url(database),
        "ALLOWED_HOSTS": "app.example.com",
        "WEB_CONCURRENCY": "2",
    }
    with containers.run_container(
        result.image, ["python", "manage.py", "migrate", "--noinput"], environ, read_only=True
    ) as migrate:
        assert migrate.wait(timeout=120) == 0, migrate.stdout + migrate.stderr
    yield environ
    drop_database(database)


def get(port: int, path: str, headers: dict | None = None, timeout: float = 10):
    headers = {"Host": "app.example.com", "X-Forwarded-Proto": "https"} | (headers or {})
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        # Header names in any case, as HTTP has them (uvicorn sends them lowercase).
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def wait_for_healthz(container, port: int, timeout: float = 60) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if container.process.poll() is not None:
            break
        try:
            if get(port, "/healthz", timeout=1)[0] == 200:
                return time.monotonic() - started
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"never served:\n{container.stdout[-3000:]}\n{container.stderr[-3000:]}")


@pytest.fixture(scope="session")
def running(built, container_env):
    """The image's own CMD, read-only root, /tmp as tmpfs, on a free loopback port."""
    interface, _, result = built
    port = free_port()
    with containers.run_container(
        result.image, env=container_env | {"PORT": str(port)}, read_only=True
    ) as container:
        seconds = wait_for_healthz(container, port)
        print(f"\n[{interface}] container served /healthz {seconds:.2f} s after start")
        yield container, port
        container.stop(signal.SIGTERM)


def test_image_config_runs_gunicorn_as_non_root_with_a_healthcheck(built):
    _, _, result = built
    config = containers.image_config(result.image)
    # No shell in between: SIGTERM reaches gunicorn, whose graceful stop under load is
    # test_faults.py's (buildah has no PID namespace, so a container adds nothing to it).
    assert config.cmd == ["gunicorn"]
    assert config.entrypoint == []
    assert config.user == "10001:10001"
    assert config.stop_signal == "SIGTERM"
    assert config.env["PYTHONUNBUFFERED"] == "1"
    assert config.env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert config.healthcheck and "/healthz" in " ".join(config.healthcheck["Test"])
    assert config.labels["org.opencontainers.image.revision"] == REVISION


def test_final_image_has_no_compiler_uv_cache_dev_tools_git_or_env(built):
    _, _, result = built
    files = {path for _, path, _ in containers.iter_layer_files(result.image)}
    assert not any(re.search(r"/(gcc|cc1|x86_64-linux-gnu-gcc[-\d.]*)$", p) for p in files)
    assert not any("/.cache/uv" in p or p.startswith(("opt/uv", "/opt/uv")) for p in files)
    assert not any(re.search(r"site-packages/(pytest|ruff|honcho)/", p) for p in files)
    names = {p.lstrip("/") for p in files}
    assert not names & {"app/.env", "app/.env.production"}
    assert not any(p.startswith(("app/.git/", "app/tests/")) for p in names)
    assert any(p.lstrip("/").startswith("app/staticfiles/staticfiles.json") for p in files)
    # Libraries as bytecode alone (bin/slim-venv), the project's code beside its sources.
    assert any(re.search(r"app/\.venv/.*/site-packages/django/__init__\.pyc$", p) for p in files)
    assert not any(re.search(r"app/\.venv/.*/site-packages/django/.*\.py$", p) for p in files)
    assert any(re.search(r"app/config/__pycache__/settings\..*\.pyc$", p) for p in files)


def test_no_secret_is_in_any_layer_the_config_or_the_history(built, container_env, running):
    _, project, result = built
    local_env = dict(
        line.split("=", 1)
        for line in (project / ".env").read_text().splitlines()
        if line and not line.startswith("#")
    )
    for secret in (local_env["DJANGO_SECRET_KEY"], container_env["DJANGO_SECRET_KEY"]):
        assert containers.find_in_image(result.image, secret.encode()) == []
    config = containers.image_config(result.image)
    assert not {"DJANGO_SECRET_KEY", "DATABASE_URL"} & set(config.env)
    assert "DJANGO_SECRET_KEY" not in json.dumps(containers.image_history(result.image))


def test_container_serves_probes_admin_and_hashed_static_files(running):
    container, port = running
    by_ip = {"Host": f"10.0.0.9:{port}", "X-Forwarded-Proto": "http"}
    status, _, body = get(port, "/healthz", by_ip)
    assert status == 200
    assert json.loads(body)["release"] == REVISION
    assert get(port, "/readyz", by_ip)[0] == 200
    status, _, page = get(port, "/admin/login/")
    assert status == 200
    css = re.search(rb'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', page).group(1)
    status, headers, _ = get(port, css.decode(), {"Accept-Encoding": "br"})
    assert status == 200
    assert headers["Content-Encoding"] == "br"
    assert "immutable" in headers["Cache-Control"]
    assert f"Serving release {REVISION}" in container.stdout


def test_container_runs_as_non_root_and_writes_nothing_outside_tmp(running):
    container, port = running
    with open(f"/proc/{container.pid}/status") as status:
        uid = re.search(r"^Uid:\s+(\d+)", status.read(), re.M).group(1)
    assert uid == "10001"
    assert get(port, "/admin/login/")[0] == 200
    assert container.changed_files() == []


def test_healthcheck_command_passes_without_curl(built, running):
    """The HEALTHCHECK's own command, run in a second container of the same image while
    the first serves (an engine would run it inside the first; the network is shared)."""
    _, _, result = built
    _, port = running
    kind, *command = containers.image_config(result.image).healthcheck["Test"]
    assert kind == "CMD"
    assert "curl" not in " ".join(command)
    with containers.run_container(result.image, command, {"PORT": str(port)}) as probe:
        assert probe.wait(timeout=30) == 0, probe.stderr
