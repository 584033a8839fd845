"""How each figure is measured. Every function returns plain numbers; report.py lays
them out."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from bakery import TEMPLATE, Project, tool
from bench import wrk
from bench.subjects import REQUEST_HEADERS, Subject, wait_until_serving

MIB = 1024 * 1024


# Bake ---------------------------------------------------------------------------------


def bake_seconds(django_admin: Path) -> tuple[float, float]:
    """One `cookiecutter --no-input` of the defaults, then one `django-admin startproject`,
    each into an empty directory, as a user types them."""
    timings = []
    for argv in (
        [tool("cookiecutter"), "--no-input", "--output-dir", "{out}", str(TEMPLATE)],
        [str(django_admin), "startproject", "mysite", "{out}"],
    ):
        with tempfile.TemporaryDirectory(prefix="tfd-bench-bake-") as out:
            argv = [part.replace("{out}", out) for part in argv]
            started = time.monotonic()
            completed = subprocess.run(argv, capture_output=True, text=True, timeout=120)
            timings.append(time.monotonic() - started)
            if completed.returncode != 0:
                raise RuntimeError(f"{' '.join(argv)} failed:\n{completed.stderr[-3000:]}")
    return timings[0], timings[1]


def has_bytecode(package_dir: Path) -> bool:
    return (package_dir / "__pycache__").is_dir()


# Bytecode -----------------------------------------------------------------------------


def remove_bytecode(*roots: Path) -> None:
    for root in roots:
        for cache in list(root.resolve().rglob("__pycache__")):
            shutil.rmtree(cache, ignore_errors=True)


def compile_bytecode(python: str, *roots: Path) -> None:
    """What the image build does (UV_COMPILE_BYTECODE=1, then compileall). compileall
    does not follow symbolic links, so a project's linked .venv is compiled on its own."""
    for root in roots:
        subprocess.run(
            [python, "-m", "compileall", "-q", "-j", "0", str(root.resolve())],
            check=True,
            capture_output=True,
            timeout=600,
        )


# Boot ---------------------------------------------------------------------------------


def first_request_seconds(subject: Subject, log: Path) -> float:
    """From starting the server process to the first 200 from /healthz."""
    with subject.serving(log) as (server, started):
        wait_until_serving(server, log)
        return time.monotonic() - started


# Import -------------------------------------------------------------------------------


def import_seconds(subject: Subject) -> float:
    """Importing the settings and the application object, in a fresh interpreter."""
    code = (
        f"import time; t = time.perf_counter(); import {subject.app_module}; "
        "print(time.perf_counter() - t)"
    )
    return float(_run_python(subject, "-c", code).stdout.strip().splitlines()[-1])


def import_breakdown(subject: Subject) -> dict[str, float]:
    """Milliseconds of `python -X importtime`, self time summed per top-level package."""
    completed = _run_python(subject, "-X", "importtime", "-c", f"import {subject.app_module}")
    return parse_importtime(completed.stderr)


def _run_python(subject: Subject, *args: str) -> subprocess.CompletedProcess:
    """The subject's Python in its directory and environment; fails with its stderr."""
    completed = subprocess.run(
        [subject.python, *args],
        cwd=subject.path,
        env=subject.process_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"import {subject.app_module} failed:\n{completed.stderr[-3000:]}")
    return completed


def parse_importtime(stderr: str) -> dict[str, float]:
    per_package: dict[str, float] = defaultdict(float)
    for line in stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", line)
        if match:
            self_us, module = match.groups()
            per_package[module.split(".")[0]] += int(self_us) / 1000
    return dict(per_package)


# Load ---------------------------------------------------------------------------------


def check_answers(server, path: str) -> None:
    """A figure of error pages is worthless: every measured path must answer 200 first."""
    response = server.request(path, headers=REQUEST_HEADERS)
    if response.status != 200:
        raise AssertionError(f"{path} answered {response.status}, not 200: {response.body[:300]!r}")


# wrk's keep-alive connections are dealt to the workers by the kernel's accept race; now
# and then one worker gets nearly all of them and the run measures one process, not the
# server. Such a run is repeated, up to `attempts` times.
BALANCED = 0.5  # the least busy worker used at least half the CPU of the busiest


@dataclass(frozen=True)
class Measured:
    load: wrk.Load
    worker_cpu_seconds: tuple[float, ...]
    attempts: int

    @property
    def requests_per_cpu_second(self) -> float:
        """Requests per second of one core: steadier than req/s on a shared machine."""
        return self.load.requests / max(sum(self.worker_cpu_seconds), 1e-9)

    @property
    def balanced(self) -> bool:
        return min(self.worker_cpu_seconds) >= BALANCED * max(self.worker_cpu_seconds)


def load(
    server, path: str, seconds: int, attempts: int = 1, connections: int = wrk.CONNECTIONS
) -> Measured:
    workers = worker_pids(server.process.pid)
    for attempt in range(1, attempts + 1):
        before = [cpu_seconds(pid) for pid in workers]
        result = wrk.run(
            f"http://127.0.0.1:{server.port}{path}", seconds, REQUEST_HEADERS, connections
        )
        used = tuple(cpu_seconds(pid) - start for pid, start in zip(workers, before, strict=True))
        measured = Measured(result, used, attempt)
        if measured.balanced:
            break
    return measured


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def worker_pids(master: int) -> list[int]:
    return [int(pid) for pid in Path(f"/proc/{master}/task/{master}/children").read_text().split()]


# Memory -------------------------------------------------------------------------------


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024 / MIB
    raise LookupError(f"no VmRSS for process {pid}")


def memory_mib(master: int) -> tuple[float, list[float]]:
    """RSS of a gunicorn master and of each of its workers."""
    return rss_mib(master), [rss_mib(pid) for pid in worker_pids(master)]


# Template test suite ------------------------------------------------------------------


def parse_stage_times(pytest_output: str) -> dict[str, float]:
    """The "time per stage" section tests/conftest.py prints at the end of a run."""
    _, found, section = pytest_output.partition(" time per stage ")
    if not found:
        return {}
    stages = {}
    for line in section.splitlines()[1:]:
        match = re.match(r"^(\w+)\s+([\d.]+) s$", line.strip())
        if not match:
            break
        stages[match.group(1)] = float(match.group(2))
    return stages


def bake_stage() -> tuple[dict[str, float], float, int]:
    """Run only the quick `-m bake` stage of the template's suite: stage times, wall time
    and exit status."""
    started = time.monotonic()
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-m", "bake", "-q"],
        cwd=TEMPLATE,
        capture_output=True,
        text=True,
        timeout=900,
        env=_tools_env(),
    )
    return parse_stage_times(completed.stdout), time.monotonic() - started, completed.returncode


def _tools_env() -> dict[str, str]:
    return os.environ | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


# Image --------------------------------------------------------------------------------


def image_sizes(project: Project) -> tuple[int, int, float, dict[str, int]] | str:
    """(image bytes, base image bytes, build seconds, bytes per installed package) with
    the container tests' tooling (tests/containers.py, buildah), or why not. The build
    reuses buildah's layer cache."""
    try:
        import containers
    except ImportError:
        return "n/a (no tests/containers.py)"
    if shutil.which("buildah") is None:
        return "n/a (no buildah)"
    try:
        containers.require_tools()
        base = containers.ensure_base_image()
        tag = f"localhost/twelve-factor-django/bench:{project.interface}"
        built = containers.build_image(project.path, tag, {"PYTHON_IMAGE": base})
        packages = package_sizes(containers.iter_layer_files(built.image))
        sizes = built.size_bytes, containers.image_size(base), built.seconds, packages
        containers.remove_image(tag)
        return sizes
    except containers.ContainerError as error:
        return f"n/a ({str(error).splitlines()[0][:80]})"


_SITE_PACKAGE = re.compile(r"/site-packages/([^/]+)")


def package_sizes(files) -> dict[str, int]:
    """Bytes per installed distribution in the image's site-packages (its modules, its
    metadata and its bundled libraries together), plus the project's own files."""
    sizes: dict[str, int] = defaultdict(int)
    for _, path, content in files:
        if match := _SITE_PACKAGE.search(path):
            name = match.group(1).lower()
            name = re.sub(r"(-[^-]+)?\.(dist-info|libs)$", "", name).removesuffix(".py")
            sizes[name.split(".")[0].replace("-", "_")] += len(content)
        elif path.startswith("/app/staticfiles/"):
            sizes["(the project's collected static files)"] += len(content)
        elif path.startswith("/app/") and "/.venv/" not in path:
            sizes["(the project's code)"] += len(content)
    return dict(sizes)
