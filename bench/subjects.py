"""What is measured: the baked project, a bare `startproject` project, and a hello world;
and the baked project with OpenTelemetry on, and without its code.

All three run from the baked project's virtual environment (same Python, Django,
gunicorn and worker class), against the same database, with the same worker count.
"""

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from bakery import Project, database_url
from server import Server, free_port, procfile_command

WORKERS = 2
THREADS = 4
HOST = "app.example.com"
# What a browser behind an HTTPS-terminating proxy sends; the baked project redirects
# plain HTTP and rejects unknown hosts, the bare project ignores both.
REQUEST_HEADERS = {"Host": HOST, "X-Forwarded-Proto": "https", "Accept-Encoding": "gzip, br"}
STYLESHEET = "admin/css/base.css"

# The baked project's home page does not query the database yet, so both Django projects
# get this same page: the whole middleware stack, every context processor, a CSRF token,
# and one query joining two tables.
BENCH_VIEWS = '''"""Added by the template's bench (bench/subjects.py): the same page in both projects."""

import asyncio
import functools
import http.client
import os

from django.contrib.auth.models import Permission
from django.http import HttpResponse, JsonResponse
from django.template import engines

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Permissions</title></head>
<body><h1>{{ permissions|length }} permissions</h1>
<ul>{% for p in permissions %}<li>{{ p.content_type.app_label }}: {{ p.name }}</li>{% endfor %}</ul>
<form method="post">{% csrf_token %}<button>Refresh</button></form></body></html>"""


@functools.cache
def _template():
    return engines["django"].from_string(PAGE)


def page(request):
    permissions = Permission.objects.select_related("content_type").order_by("id")[:20]
    return HttpResponse(_template().render({"permissions": permissions}, request))


def healthz(request):
    return JsonResponse({"status": "ok"})


# The slow-I/O figure: one outbound call to an upstream that answers after 200 ms
# (bench/upstream.py), awaited with asyncio's own client under ASGI and made with the
# standard library's blocking one under WSGI, as each interface's view would.
UPSTREAM = ("127.0.0.1", int(os.environ.get("BENCH_UPSTREAM_PORT", "0")))
UPSTREAM_REQUEST = b"GET / HTTP/1.1\\r\\nHost: upstream\\r\\nConnection: close\\r\\n\\r\\n"


async def slow_async(request):
    reader, writer = await asyncio.open_connection(*UPSTREAM)
    writer.write(UPSTREAM_REQUEST)
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    return HttpResponse(answer.rpartition(b"\\r\\n\\r\\n")[2])


def slow_sync(request):
    connection = http.client.HTTPConnection(*UPSTREAM, timeout=10)
    try:
        connection.request("GET", "/")
        return HttpResponse(connection.getresponse().read())
    finally:
        connection.close()
'''
BENCH_URLS = """
# Added by the template's bench (bench/subjects.py).
from . import bench_views as _bench_views  # noqa: E402
from .bench_views import healthz as _bench_healthz, page as _bench_page  # noqa: E402

urlpatterns.append(path("bench/page/", _bench_page))
"""
SLOW_URL = {
    "asgi": 'urlpatterns.append(path("bench/slow/", _bench_views.slow_async))\n',
    "wsgi": 'urlpatterns.append(path("bench/slow/", _bench_views.slow_sync))\n',
}
BARE_HEALTHZ_URL = 'urlpatterns.append(path("healthz", _bench_healthz))\n'

HELLO_WORLD = '''"""The ceiling: the least an application can do under the same gunicorn."""

BODY = b"Hello, world!\\n"
HEADERS = [(b"content-type", b"text/plain"), (b"content-length", str(len(BODY)).encode())]


def application(environ, start_response):
    start_response("200 OK", [(k.decode(), v.decode()) for k, v in HEADERS])
    return [BODY]


async def asgi_application(scope, receive, send):
    if scope["type"] == "lifespan":
        while (message := await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
'''


@dataclass
class Subject:
    """One server to measure: how to start it and which paths it answers."""

    name: str
    project: Project  # whose virtual environment runs it
    path: Path
    argv: list[str]  # "{port}" is replaced by the port
    environ: dict[str, str]
    app_module: str | None  # imported by the import-cost figure
    paths: dict[str, str] = field(default_factory=dict)  # figure name -> URL path

    def log(self, workdir: Path) -> Path:
        return workdir / f"{self.path.name}-{self.name.replace(' ', '-').replace(',', '')}.log"

    @property
    def python(self) -> str:
        return str(self.project.bin / "python")

    def process_env(self, port: int | None = None) -> dict[str, str]:
        return {
            "PATH": f"{self.project.bin}{os.pathsep}{os.environ['PATH']}",
            "HOME": os.environ.get("HOME", "/tmp"),
            # Keep the bytecode state the boot figure chose: nothing written while serving.
            "PYTHONDONTWRITEBYTECODE": "1",
            **({"PORT": str(port)} if port else {}),
            **self.environ,
        }

    @contextmanager
    def serving(self, log: Path):
        """Start the server; yields (Server, start time). Output goes to `log`, not
        through a pipe this process would have to read while it measures."""
        port = free_port()
        argv = [part.replace("{port}", str(port)) for part in self.argv]
        with log.open("a") as output:
            started = time.monotonic()
            process = subprocess.Popen(
                argv,
                cwd=self.path,
                env=self.process_env(port),
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        server = Server(process=process, port=port)
        try:
            yield server, started
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def wait_until_serving(server: Server, log: Path, timeout: float = 180) -> None:
    try:
        server.wait_until_serving(timeout=timeout)
    except AssertionError:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
        raise AssertionError(f"server never answered /healthz; log {log}:\n{tail}") from None


def hashed_static_path(static_root: Path, name: str = STYLESHEET) -> str:
    manifest = json.loads((static_root / "staticfiles.json").read_text())
    return "/static/" + manifest["paths"][name]


def _copy_sharing_venv(project: Project, destination: Path) -> Path:
    """The project's code without its local .env (production gets only the environment)."""
    shutil.copytree(
        project.path,
        destination,
        ignore=shutil.ignore_patterns(".venv", ".env", "staticfiles", "__pycache__"),
    )
    (destination / ".venv").symlink_to(project.bin.parent.resolve())
    return destination


def template_subject(project: Project, workdir: Path, database: str, upstream_port: int) -> Subject:
    """A copy of the baked project with the bench pages, served as its Procfile says."""
    path = _copy_sharing_venv(project, workdir / f"template-{project.interface}")
    (path / "config" / "bench_views.py").write_text(BENCH_VIEWS)
    with (path / "config" / "urls.py").open("a") as urls:
        urls.write(BENCH_URLS + SLOW_URL[project.interface])
    copy = Project(path=path, interface=project.interface)
    copy.run("python", "manage.py", "collectstatic", "--noinput", env={"DJANGO_BUILD": "1"})
    environ = project.production_env(database) | {
        "WEB_CONCURRENCY": str(WORKERS),
        "WEB_THREADS": str(THREADS),
        "BENCH_UPSTREAM_PORT": str(upstream_port),
    }
    module = "config.wsgi" if project.interface == "wsgi" else "config.asgi"
    return Subject(
        name="template",
        project=copy,
        path=path,
        argv=procfile_command(copy, "web"),
        environ=environ,
        app_module=module,
        paths={
            "healthz": "/healthz",
            "page": "/bench/page/",
            "static": hashed_static_path(path / "staticfiles"),
            "slow": "/bench/slow/",
            "burst": "/bench/page/",
        },
    )


def bare_settings(database: str) -> str:
    """What `startproject` needs to serve in production, and nothing more: DEBUG off, the
    same database with the template's pool size, whitenoise as its docs say."""
    url = urlsplit(database_url(database))
    connection = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": url.path.lstrip("/"),
        "USER": url.username or "",
        "PASSWORD": url.password or "",
        "HOST": url.hostname or "",
        "PORT": str(url.port or ""),
        "OPTIONS": {"pool": {"min_size": 1, "max_size": 4}},
    }
    return f"""
# Added by the template's bench (bench/subjects.py).
import os

DEBUG = False
SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
ALLOWED_HOSTS = [{HOST!r}]
DATABASES = {{"default": {connection!r}}}
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {{
    "default": {{"BACKEND": "django.core.files.storage.FileSystemStorage"}},
    "staticfiles": {{"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}},
}}
MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")
"""


def gunicorn_argv(app: str, interface: str) -> list[str]:
    """The worker settings of the baked project's gunicorn.conf.py, on the command line."""
    argv = ["gunicorn", app, "--workers", str(WORKERS), "--bind", "127.0.0.1:{port}"]
    if interface == "wsgi":
        return [*argv, "--worker-class", "gthread", "--threads", str(THREADS)]
    return [*argv, "--worker-class", "uvicorn_worker.UvicornWorker"]


def bare_subject(project: Project, workdir: Path, database: str, environ: dict) -> Subject:
    """`django-admin startproject bare`, made production-ready in the fewest lines. Its apps
    are a subset of the template's, whose migrations already made the shared database."""
    path = workdir / f"bare-{project.interface}"
    path.mkdir()
    project.run("django-admin", "startproject", "bare", str(path))
    package = path / "bare"
    with (package / "settings.py").open("a") as settings:
        settings.write(bare_settings(database))
    (package / "bench_views.py").write_text(BENCH_VIEWS)
    with (package / "urls.py").open("a") as urls:
        urls.write(BENCH_URLS + BARE_HEALTHZ_URL)
    (path / ".venv").symlink_to(project.bin.parent.resolve())
    environ = {"DJANGO_SECRET_KEY": environ["DJANGO_SECRET_KEY"]}
    bare = Project(path=path, interface=project.interface)
    bare.run("python", "manage.py", "collectstatic", "--noinput", env=environ)
    module = "bare.wsgi" if project.interface == "wsgi" else "bare.asgi"
    return Subject(
        name="bare Django",
        project=bare,
        path=path,
        argv=gunicorn_argv(f"{module}:application", project.interface),
        environ=environ,
        app_module=module,
        paths={
            "healthz": "/healthz",
            "page": "/bench/page/",
            "static": hashed_static_path(path / "staticfiles"),
        },
    )


def ceiling_subject(project: Project, workdir: Path) -> Subject:
    path = workdir / f"hello-{project.interface}"
    path.mkdir()
    (path / "hello.py").write_text(HELLO_WORLD)
    app = "hello:application" if project.interface == "wsgi" else "hello:asgi_application"
    return Subject(
        name="hello world",
        project=project,
        path=path,
        argv=gunicorn_argv(app, project.interface),
        environ={},
        app_module=None,
        paths={"hello": "/"},
    )


# OpenTelemetry's figures (issue 21): the template with it on, and the template without its
# code. Off, its one per-request hook is this middleware, which removes itself at start
# (MiddlewareNotUsed); everything else it adds runs once, at start or at a fork.
TELEMETRY_MIDDLEWARE = '    "config.tracedrequests.RequestSpans",\n'
# The packages stay installed in the shared virtual environment; this makes them
# unimportable, as if they were not, for the project and every library it uses.
NO_OPENTELEMETRY = '''"""Added by the template's bench (bench/subjects.py): no `opentelemetry` here."""

import sys


class Absent:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name.partition(".")[0] == "opentelemetry":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


sys.meta_path.insert(0, Absent)
'''
TELEMETRY_ON, WITHOUT_TELEMETRY = "template, OpenTelemetry on", "template without OpenTelemetry"


def telemetry_on_subject(template: Subject, endpoint: str) -> Subject:
    """The template with OpenTelemetry on, sending to `endpoint` with the SDK's defaults."""
    return dataclasses.replace(
        template,
        name=TELEMETRY_ON,
        environ=template.environ | {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint},
        app_module=None,
        paths={"page": template.paths["page"]},
    )


def without_telemetry_subject(template: Subject, workdir: Path) -> Subject:
    """The template as it would be without OpenTelemetry's code: its middleware taken out of
    the settings and `opentelemetry` unimportable. Same code otherwise, same environment."""
    path = workdir / f"{template.path.name}-without-opentelemetry"
    shutil.copytree(template.path, path, symlinks=True)
    settings = path / "config" / "settings.py"
    text = settings.read_text()
    if text.count(TELEMETRY_MIDDLEWARE) != 1:
        raise LookupError(f"{TELEMETRY_MIDDLEWARE.strip()} is not once in {settings}")
    settings.write_text(text.replace(TELEMETRY_MIDDLEWARE, ""))
    (path / "no-opentelemetry").mkdir()
    (path / "no-opentelemetry" / "sitecustomize.py").write_text(NO_OPENTELEMETRY)
    return dataclasses.replace(
        template,
        name=WITHOUT_TELEMETRY,
        path=path,
        environ=template.environ | {"PYTHONPATH": str(path / "no-opentelemetry")},
        app_module=None,
        paths={"page": template.paths["page"]},
    )
