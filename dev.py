"""The template's own tasks, runnable with nothing but Python 3.11+ and git.

    python3 dev.py demo     bake a project with the defaults into .demo/ and serve it on
                            127.0.0.1:8000 (--port N; --dir PATH bakes into an empty folder)
    python3 dev.py test     run the template's whole test suite (extra args go to pytest;
                            TEST_WORKERS=N processes, 2 by default, 0 for one)
    python3 dev.py bench    run the benchmark suite (bench/; --quick for a short run)
    python3 dev.py bench-tasks   the worker's figures (bench/tasks.py; --quick too)
    python3 dev.py lock     regenerate the uv.lock files the template ships

The first run makes `.tools/` (a virtual environment holding uv) and `.venv/` (the
template's locked test tools); later runs reuse them.
"""

import argparse
import glob
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
TOOLS = ROOT / ".tools"
UV_VERSION = "0.13.9"
DEMO_DIR = ROOT / ".demo"


def python313() -> str:
    """The interpreter for baked projects: a local Python 3.13, found even behind pyenv
    shims that do not run; else "3.13", for uv to find or fetch where that is allowed."""
    if explicit := os.environ.get("BAKED_PYTHON"):
        return explicit
    candidates = [shutil.which("python3.13"), "/usr/bin/python3.13", "/usr/local/bin/python3.13"]
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.13*/bin/python3.13")))
    for candidate in filter(None, candidates):
        if (
            os.access(candidate, os.X_OK)
            and subprocess.run(
                [candidate, "-c", "import sys; sys.exit(sys.version_info[:2] != (3, 13))"],
                capture_output=True,
            ).returncode
            == 0
        ):
            return candidate
    return "3.13"


def uv() -> str:
    """uv from PyPI, in a virtual environment of its own."""
    executable = TOOLS / "bin" / "uv"
    if not executable.exists():
        print(f"Installing uv {UV_VERSION} into {TOOLS.name}/ ...", flush=True)
        venv.create(TOOLS, with_pip=True)
        pip = [str(TOOLS / "bin" / "python"), "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, f"uv=={UV_VERSION}"], check=True)
    return str(executable)


def sync_test_tools() -> None:
    # Bytecode compiled once: machines that export PYTHONDONTWRITEBYTECODE (this one does)
    # would otherwise compile every tool at every start (checkov: 18 s instead of 4 s).
    subprocess.run(
        [
            uv(),
            *("sync", "--locked", "--quiet", "--compile-bytecode", "--group", "test"),
            *("--python", sys.executable),
        ],
        cwd=ROOT,
        check=True,
    )


def run_in_tools(*args: str) -> int:
    sync_test_tools()
    environ = os.environ | {
        "PATH": f"{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "BAKED_PYTHON": python313(),
    }
    return subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), *args], cwd=ROOT, env=environ
    ).returncode


def demo(args: list[str]) -> int:
    """Bake with the defaults and serve it with Django's development server, on the
    development PostgreSQL the project starts from a wheel (created on first use)."""
    parser = argparse.ArgumentParser(prog="python3 dev.py demo")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--dir", type=Path, help="an empty or new folder (default: .demo/)")
    options = parser.parse_args(args)
    output = options.dir or DEMO_DIR
    if options.dir is None:
        shutil.rmtree(DEMO_DIR, ignore_errors=True)
    elif output.exists() and any(output.iterdir()):
        parser.error(f"--dir {output} is not empty")
    status = run_in_tools(
        "-m", "cookiecutter", "--no-input", "--output-dir", str(output), str(ROOT)
    )
    if status:
        return status
    (project,) = output.iterdir()
    environ = os.environ | {"UV_PYTHON": python313()}
    steps = [
        [uv(), "sync", "--locked", "--quiet"],
        [uv(), "run", "--frozen", "python", "manage.py", "migrate", "--verbosity", "0"],
    ]
    for step in steps:
        subprocess.run(step, cwd=project, env=environ, check=True)
    address = f"127.0.0.1:{options.port}"
    shown = os.path.relpath(project) if project.is_relative_to(Path.cwd()) else project
    print(f"\nBaked {shown}. Serving http://{address}/ (Ctrl-C stops).")
    print(f"Admin user: cd {shown} && {uv()} run python manage.py createsuperuser\n")
    serve = [uv(), "run", "--frozen", "python", "manage.py", "runserver", address]
    interrupted = False
    with subprocess.Popen(serve, cwd=project, env=environ) as server:
        while server.returncode is None:
            try:
                server.wait()
            except KeyboardInterrupt:
                # Ctrl-C reached the server too: wait for it to stop, and its last process
                # to stop the database, rather than kill it a moment later and leave the
                # database running.
                interrupted = True
    return 0 if interrupted else server.returncode


def main(argv: list[str]) -> int:
    command, *rest = argv or ["--help"]
    if command == "test":
        # Most tests wait on servers, signals and builds: TEST_WORKERS processes (pytest-
        # xdist, a file each at a time) share the machine; 0 runs in this process.
        # Files start in the order tests/conftest.py gives (the longest first), not
        # sorted by their number of tests.
        workers = os.environ.get("TEST_WORKERS", "2")  # 3 measured no faster on 2 cores
        parallel = ["-n", workers, "--dist", "loadfile", "--no-loadscope-reorder"]
        parallel = [] if workers == "0" else parallel
        return run_in_tools("-m", "pytest", *parallel, *rest)
    if command == "demo":
        return demo(rest)
    if command == "bench":
        return run_in_tools("-m", "bench", *rest)
    if command == "bench-tasks":
        return run_in_tools("-m", "bench.tasks", *rest)
    if command == "lock":
        return run_in_tools("scripts/update_locks.py")
    print(__doc__)
    return 0 if command in ("-h", "--help") else 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
