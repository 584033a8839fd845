"""Baking the template and preparing baked projects, for every kind of test.

One place knows the option matrix, where Python 3.13 and uv are, and how a baked
project is installed, so tests stay about what a user sees.
"""

import contextlib
import itertools
import json
import os
import pwd
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cookiecutter.main import cookiecutter

TEMPLATE = Path(__file__).resolve().parent.parent
CHOICES = {
    name: value
    for name, value in json.loads((TEMPLATE / "cookiecutter.json").read_text()).items()
    if isinstance(value, list) and not name.startswith("_")
}
INTERFACES = tuple(CHOICES["web_interface"])
# Every combination of every choice: each must bake, lint and validate.
MATRIX = [
    dict(zip(CHOICES, values, strict=True)) for values in itertools.product(*CHOICES.values())
]
SLUG = "demo_shop"
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
# Where the same server's Unix socket is (Debian's default).
POSTGRES_SOCKET_DIR = os.environ.get("TEST_POSTGRES_SOCKET_DIR", "/var/run/postgresql")


def matrix_id(options: dict) -> str:
    return "-".join(f"{value}" for value in options.values())


def bake(output_dir: Path, **context: str) -> Path:
    """Render the template with cookiecutter's API, as `cookiecutter --no-input` would."""
    context = {"project_name": "Demo Shop"} | context
    return Path(
        cookiecutter(
            str(TEMPLATE), no_input=True, output_dir=str(output_dir), extra_context=context
        )
    )


def tool(name: str) -> str:
    """A tool installed beside the test runner (the template's locked test group)."""
    path = Path(sys.executable).parent / name
    return str(path) if path.exists() else shutil.which(name) or name


def python313() -> str:
    """The interpreter for baked projects, as dev.py found it (uv must not download one
    on these machines); "3.13" lets uv find or fetch one where that is allowed."""
    return os.environ.get("BAKED_PYTHON", "3.13")


# How this machine reaches the package index (a proxy's CA bundle, a proxy, a mirror): a
# developer's shell has these too, so a test that runs commands in a clean environment,
# as a newcomer would, keeps them. Without them a fresh machine (no wheel in uv's cache)
# fails to download through a TLS-intercepting proxy: "invalid peer certificate".
NETWORK_VARIABLES = (
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    *("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"),
    *("http_proxy", "https_proxy", "all_proxy", "no_proxy"),
    "UV_INDEX_URL",
    "UV_DEFAULT_INDEX",
    "UV_INDEX",
    "UV_EXTRA_INDEX_URL",
)


def network_environment() -> dict[str, str]:
    return {name: os.environ[name] for name in NETWORK_VARIABLES if name in os.environ}


def uv_environment() -> dict[str, str]:
    return os.environ | {"UV_PYTHON": python313(), "UV_NO_PROGRESS": "1"}


def psql(sql: str) -> None:
    subprocess.run(
        ["psql", POSTGRES_URL, "--quiet", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-c", sql],
        check=True,
        capture_output=True,
        text=True,
    )


def database_url(name: str) -> str:
    return POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"


def socket_database_url(name: str) -> str:
    """The same database over the server's Unix socket, in Cloud SQL's form (no host in
    the address, the socket's directory in ?host=; the password is ignored here)."""
    user = POSTGRES_URL.split("://", 1)[1].split("@", 1)[0].split(":", 1)[0]
    port = POSTGRES_URL.rsplit(":", 1)[-1].split("/", 1)[0]
    return f"postgres://{user}:password@/{name}?host={POSTGRES_SOCKET_DIR}&port={port}"


@dataclass
class Project:
    """A baked project with its dependencies installed in its own .venv."""

    path: Path
    interface: str

    @property
    def bin(self) -> Path:
        return self.path / ".venv" / "bin"

    def run(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        timeout: float = 300,
        check: bool = True,
    ) -> subprocess.CompletedProcess:
        """Run a command inside the project, with its venv first on PATH."""
        environ = {
            **os.environ,
            **(env or {}),
            "PATH": f"{self.bin}{os.pathsep}{os.environ['PATH']}",
        }
        environ.pop("VIRTUAL_ENV", None)
        result = subprocess.run(
            args, cwd=self.path, env=environ, capture_output=True, text=True, timeout=timeout
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{' '.join(args)} exited {result.returncode}\n"
                f"--- stdout\n{result.stdout[-6000:]}\n--- stderr\n{result.stderr[-6000:]}"
            )
        return result

    def production_env(self, database: str) -> dict[str, str]:
        """What a platform would set: no .env, DEBUG off, HTTPS behind a trusted proxy."""
        return {
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DATABASE_URL": database_url(database),
            "ALLOWED_HOSTS": "app.example.com",
            # Django's deploy checks refuse the console backend; nothing is sent unless a
            # test starts an SMTP server and points this at it.
            "EMAIL_URL": "smtp://smtp.example.com",
            "DEBUG": "false",
            "GIT_REVISION": "0123456789abcdef0123456789abcdef01234567",
            "LOG_FORMAT": "json",
            "WEB_CONCURRENCY": "2",
        }

    def release_env(self, database: str) -> dict[str, str]:
        """production_env, complete enough for the release's deploy checks: a bucket for
        uploads (which the boot tests do without; the release never reaches it)."""
        return self.production_env(database) | {
            "AWS_STORAGE_BUCKET_NAME": "media",
            "AWS_S3_ENDPOINT_URL": "http://127.0.0.1:9",
            "AWS_ACCESS_KEY_ID": "release",
            "AWS_SECRET_ACCESS_KEY": "release",
            # The local-memory cache fails the checks with several web processes; merged
            # with the database cache as the default, this line goes.
            "WEB_CONCURRENCY": "1",
        }


TEST_VIEWS = """

# Added by the template's tests: a view that takes as long as asked, to have requests
# in flight when the server is told to stop, one whose query takes as long as asked, to
# hold database connections, and one that fails, to see what a server error shows.
import time as _time

from django.db import connection as _connection
from django.http import HttpResponse as _HttpResponse


def _slow(request):
    _time.sleep(float(request.GET.get("seconds", "1")))
    return _HttpResponse("finished")


def _slow_query(request):
    with _connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(%s)", [float(request.GET.get("seconds", "1"))])
    return _HttpResponse("finished")


def _broken(request):
    raise RuntimeError("test-broken: internal detail 7f3a9c")


urlpatterns += [
    path("test-slow/", _slow),
    path("test-slow-query/", _slow_query),
    path("test-broken/", _broken),
]
"""


def collect_static(project: Project) -> None:
    """What the image build does; pages name their CSS by the manifest it writes."""
    if not (project.path / "staticfiles" / "staticfiles.json").exists():
        project.run("python", "manage.py", "collectstatic", "--noinput", env={"DJANGO_BUILD": "1"})


def with_test_views(project: Project, destination: Path) -> Project:
    """A copy of the project (static files collected, venv shared) with the test views.
    The project under test itself is never modified."""
    collect_static(project)
    shutil.copytree(project.path, destination, ignore=shutil.ignore_patterns(".venv"))
    (destination / ".venv").symlink_to(project.path / ".venv")
    with (destination / "config" / "urls.py").open("a") as urls:
        urls.write(TEST_VIEWS)
    return Project(path=destination, interface=project.interface)


def install(path: Path, interface: str) -> Project:
    """`uv sync --locked` from the shipped lock; uv's shared cache makes repeats fast."""
    subprocess.run(
        [tool("uv"), "sync", "--locked", "--quiet"],
        cwd=path,
        env=uv_environment(),
        check=True,
        capture_output=True,
        text=True,
    )
    return Project(path=path, interface=interface)


def add_migration(project: Path, name: str, operations: str) -> None:
    """A test's own migration, after the latest of the users app (a fixed name in every
    bake), so the migration graph keeps one leaf whatever the template adds."""
    folder = project / "users" / "migrations"
    latest = max(path.stem for path in folder.glob("[0-9]*.py"))
    (folder / f"0999_{name}.py").write_text(
        "from django.db import migrations\n\n\n"
        "class Migration(migrations.Migration):\n"
        f'    dependencies = [("users", "{latest}")]\n'
        f"    operations = [{operations}]\n"
    )


def new_database(prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    psql(f'CREATE DATABASE "{name}"')
    return name


def drop_database(name: str) -> None:
    psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


UNPRIVILEGED = "tfd-newcomer"


def unprivileged_account() -> pwd.struct_passwd:
    """An account without privileges, created on first use (the tests run as root in CI),
    for running a project as a developer's own account would."""
    try:
        return pwd.getpwnam(UNPRIVILEGED)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--user-group", "--shell", "/usr/sbin/nologin", UNPRIVILEGED],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(UNPRIVILEGED)


def shared_directory() -> Path:
    """A directory outside pytest's own (which only its owner may enter)."""
    directory = Path(tempfile.mkdtemp(prefix="tfd-shared-"))
    directory.chmod(0o755)
    return directory


@contextlib.contextmanager
def python_for_all() -> Iterator[None]:
    """python313() runnable by any account while this lasts: pyenv keeps it under /root,
    which only root may enter, so the folders above it that others cannot pass through
    get o+x (passing, not listing) until the block ends."""
    prefix = subprocess.run(
        [python313(), "-c", "import sys; print(sys.base_prefix)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    closed = {
        folder: folder.stat().st_mode
        for folder in Path(prefix).parents
        if not folder.stat().st_mode & stat.S_IXOTH
    }
    try:
        for folder, mode in closed.items():
            folder.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)
        yield
    finally:
        for folder, mode in closed.items():
            folder.chmod(stat.S_IMODE(mode))
