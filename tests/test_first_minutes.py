"""A newcomer's first minutes: the bake tells a person what to type next, the README's
local command runs every process of the Procfile until Ctrl-C, and names bake as typed.
"""

import ast
import contextlib
import ctypes
import http.client
import os
import pty
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path

import pytest

from bakery import TEMPLATE, bake, network_environment, python313, shared_directory, tool
from server import children_of, descendants, free_port

sys.path.insert(0, str(TEMPLATE))
from local_extensions import python_literal_char  # noqa: E402

# gunicorn's graceful_timeout (gunicorn.conf.py): Ctrl-C must not take longer.
GRACEFUL_SECONDS = 25


def cookiecutter_cli(output_dir: Path, *answers: str, stdin) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cookiecutter", "--no-input", "-o", str(output_dir)]
        + [str(TEMPLATE), *answers],
        stdin=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def readme_commands(project: Path) -> list[str]:
    """The commands of the first shell block under the README's "Run it locally"."""
    readme = (project / "README.md").read_text()
    section = readme.split("## Run it locally", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    return [line for line in block.group(1).splitlines() if line.strip()]


@pytest.mark.bake
def test_a_person_at_a_terminal_is_told_the_next_steps(tmp_path):
    controller, terminal = pty.openpty()
    try:
        person = cookiecutter_cli(tmp_path / "person", stdin=terminal)
    finally:
        os.close(controller)
        os.close(terminal)
    machine = cookiecutter_cli(tmp_path / "machine", stdin=subprocess.DEVNULL)
    project = tmp_path / "person" / "my_project"
    message = person.stdout.strip().splitlines()
    print("\n" + person.stdout.strip())
    assert person.returncode == 0, person.stderr
    assert message[0] == "Next steps:"
    commands = [line.strip() for line in message[1:] if line.startswith("    ")]
    assert commands == [f"cd {shlex.quote(str(project))}", *readme_commands(project)]
    assert len(message) <= 6
    assert machine.returncode == 0, machine.stderr
    assert machine.stdout == "", "a bake without a terminal should print nothing"


NAMES = {
    "project_name": "Café Society 中文",
    "project_slug": "cafe_society",
    "author_name": "Zoë O'Brien",
    "description": 'Zoë\'s "naïve" café \\ for 😀 – all (Ωmega) Москва',
}


@pytest.mark.bake
def test_non_ascii_answers_appear_as_typed_and_read_back_exactly(tmp_path):
    project = bake(tmp_path, **NAMES)
    pyproject_text = (project / "pyproject.toml").read_text(encoding="utf-8")
    views_text = (project / "cafe_society" / "views.py").read_text(encoding="utf-8")
    readme = (project / "README.md").read_text(encoding="utf-8").splitlines()
    print("\n" + "\n".join(pyproject_text.splitlines()[3:5] + views_text.splitlines()[3:5]))

    assert 'name = "Zoë O\'Brien"' in pyproject_text
    assert 'PROJECT_NAME = "Café Society 中文"' in views_text
    # Quotes and backslashes stay escaped; ruff's confusables (the en dash, Greek and
    # Cyrillic capitals) are written as escapes in Python, as typed in TOML.
    assert '"Zoë\'s \\"naïve\\" café \\\\ for 😀 – all (Ωmega) Москва"' in pyproject_text
    assert "\\u2013" in views_text
    assert "\\u03a9" in views_text
    assert "café \\\\ for 😀" in views_text
    assert readme[0] == f"# {NAMES['project_name']}"
    assert readme[2] == NAMES["description"]

    pyproject = tomllib.loads(pyproject_text)["project"]
    assert pyproject["authors"][0]["name"] == NAMES["author_name"]
    assert pyproject["description"] == NAMES["description"]
    constants = {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in ast.parse(views_text).body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
    }
    assert constants["PROJECT_NAME"] == NAMES["project_name"]
    assert constants["DESCRIPTION"] == NAMES["description"]
    for command in (["check", "--no-cache", "."], ["format", "--no-cache", "--check", "."]):
        lint = subprocess.run([tool("ruff"), *command], cwd=project, capture_output=True, text=True)
        assert lint.returncode == 0, lint.stdout + lint.stderr


@pytest.mark.bake
def test_every_character_written_as_typed_in_python_passes_ruff(tmp_path):
    """The whole set python_literal_char admits, each alone in an otherwise ASCII word
    (where ruff's confusable rule is strictest), against the baked project's ruff rules."""
    admitted = [
        chr(code)
        for code in range(0x80, 0x30000)
        if not 0xD800 <= code <= 0xDFFF and python_literal_char(chr(code))
    ]
    source = "".join(f'V = "a{char}a"\n' for char in admitted)
    (tmp_path / "characters.py").write_text(source, encoding="utf-8")
    (tmp_path / "ruff.toml").write_text(
        (TEMPLATE / "{{cookiecutter.project_slug}}" / "ruff.toml").read_text()
    )
    lint = subprocess.run(
        [tool("ruff"), "check", "--no-cache", "--select", "RUF001", "characters.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    print(f"\n{len(admitted)} non-ASCII characters written as typed in Python strings")
    assert len(admitted) > 40_000
    assert lint.returncode == 0, lint.stdout[-3000:]


def frozen(roots: list[int]) -> set[int]:
    """Stop (SIGSTOP) these processes and all below them, until none is left running, so
    that they can then be killed as by one blow: killed one by one, a gunicorn master that
    outlives a worker by a moment forks a new one, which serves the port on its own."""
    stopped: set[int] = set()
    while todo := {*roots, *(pid for root in roots for pid in descendants(root))} - stopped:
        for pid in todo:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
        stopped |= todo
    return stopped


PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h


@contextlib.contextmanager
def orphans_kept_as_zombies():
    """This process adopts the orphans of its descendants (the development PostgreSQL,
    once pg_ctl has started it and exited) and reaps them only at the end: one killed in
    between stays a zombie, as under a container's init that reaps late or never. To the
    usual "is process N running?" checks (psutil's, pg_ctl's, PostgreSQL's own lock
    file's), a zombie is running."""
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    before = set(children_of().get(os.getpid(), []))
    assert prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0, os.strerror(ctypes.get_errno())
    try:
        yield
    finally:
        prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
        for pid in set(children_of().get(os.getpid(), [])) - before:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def get_home(port: int) -> int | None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", "/", headers={"Host": "localhost"})
        return connection.getresponse().status
    except OSError:
        return None
    finally:
        connection.close()


def screenshot(url: str, destination: Path) -> None:
    """A picture of the page as Chromium renders it, for a person to look at."""
    profile = destination.parent / "chromium-profile"
    subprocess.run(
        [
            "/usr/bin/chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--window-size=1100,1500",
            "--hide-scrollbars",
            f"--screenshot={destination}",
            url,
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )


@pytest.fixture
def shared_folder():
    """Outside pytest's temporary folder, which pytest keeps closed to other accounts: as
    root, the development PostgreSQL runs as an account of its own, which must reach it."""
    shared = shared_directory()
    yield shared
    # A test that failed half-way leaves processes running: its development PostgreSQL
    # and those honcho started, each in a process group of its own. All are gone before
    # their files go.
    for pid in processes_in(shared):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    shutil.rmtree(shared)


def processes_in(folder: Path) -> list[int]:
    """The processes whose working directory is inside `folder`, from /proc (Linux)."""
    found = []
    for entry in os.listdir("/proc"):
        with contextlib.suppress(OSError):
            if entry.isdigit() and os.readlink(f"/proc/{entry}/cwd").startswith(f"{folder}/"):
                found.append(int(entry))
    return found


# A one-off command beside bin/dev: saves a note and waits for bin/dev's worker to
# count its words, both on the development PostgreSQL they share.
ONE_OFF = """
import time
from {slug}.models import Note
from {slug}.tasks import process_note
note = Note.objects.create(text="three short words")
process_note.enqueue(note.pk)
deadline = time.monotonic() + 30
while Note.objects.get(pk=note.pk).words is None and time.monotonic() < deadline:
    time.sleep(0.2)
print("words counted by the worker:", Note.objects.get(pk=note.pk).words)
"""


def development_postgres(project: Path) -> int | None:
    """The pid of the project's development PostgreSQL, if it runs."""
    with contextlib.suppress(OSError, ValueError):
        pid = int((project / ".postgres" / "postmaster.pid").read_text().split()[0])
        if alive(pid) and "postgres" in Path(f"/proc/{pid}/cmdline").read_text():
            return pid
    return None


def start_dev(command: list[str], cwd: Path, environ: dict) -> tuple[subprocess.Popen, list]:
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # a group of its own, as a terminal gives a foreground job
    )
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True).start()
    return process, lines


def first_200(process: subprocess.Popen, port: int, started: float) -> float | None:
    while time.monotonic() - started < 120 and process.poll() is None:
        if get_home(port) == 200:
            return time.monotonic() - started
        time.sleep(0.2)
    return None


def get_page(port: int, path: str) -> str:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path, headers={"Host": "localhost"})
        return connection.getresponse().read().decode()
    finally:
        connection.close()


def stop_like_ctrl_c(process: subprocess.Popen) -> float:
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C does
    interrupted = time.monotonic()
    process.wait(timeout=GRACEFUL_SECONDS)
    return time.monotonic() - interrupted


@pytest.mark.boot
def test_the_demo_then_the_readme_command_run_every_process_until_ctrl_c(shared_folder, tmp_path):
    """A newcomer's first minutes, on the development PostgreSQL (no DATABASE_URL):
    `python3 dev.py demo` bakes and serves until Ctrl-C; in the project it baked, the
    README's bin/dev serves, its worker runs a task a one-off command enqueues, a SIGKILL
    of everything (bin/dev, its processes and the database, whose postmaster stays an
    unreaped zombie) is recovered from by the next bin/dev with the data kept, and Ctrl-C
    stops every process, the database's."""
    port = free_port()
    environ = network_environment() | {
        "PATH": f"{Path(tool('uv')).parent}{os.pathsep}{os.environ['PATH']}",
        "HOME": os.environ.get("HOME", "/tmp"),
        "PORT": str(port),
        "UV_PYTHON": python313(),
        "BAKED_PYTHON": python313(),
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_NO_PROGRESS": "1",
    }
    with orphans_kept_as_zombies():
        started = time.monotonic()
        demo = [sys.executable, str(TEMPLATE / "dev.py"), "demo", "--port", str(port)]
        process, lines = start_dev([*demo, "--dir", str(shared_folder)], TEMPLATE, environ)
        try:
            demo_first = first_200(process, port, started)
            assert demo_first is not None, "no 200 from the demo\n" + "".join(lines[-40:])
            assert stop_like_ctrl_c(process) < GRACEFUL_SECONDS
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        (project,) = shared_folder.iterdir()
        assert stopped_within(10, project), "the demo left its database running"
        bin_dev = run_the_readme_command(project, environ, tmp_path)
    print(
        f"\n`python3 dev.py demo`: first 200 from / after {demo_first:.1f} s (baked, "
        f"installed, database created); {bin_dev}"
    )


def stopped_within(seconds: float, project: Path) -> bool:
    """Whether the project's development PostgreSQL stops within `seconds` (its last
    user stops it on the way out, which may come after that user's parent exits)."""
    deadline = time.monotonic() + seconds
    while development_postgres(project) and time.monotonic() < deadline:
        time.sleep(0.1)
    return development_postgres(project) is None


def run_the_readme_command(project: Path, environ: dict, tmp_path: Path) -> str:
    *setup, long_running = readme_commands(project)
    port = int(environ["PORT"])
    assert "\nDATABASE_URL=" not in (project / ".env").read_text()
    timings = {}
    for command in setup:
        started = time.monotonic()
        subprocess.run(shlex.split(command), cwd=project, env=environ, check=True, timeout=300)
        timings[command] = time.monotonic() - started
    started = time.monotonic()
    process, lines = start_dev(shlex.split(long_running), project, environ)
    try:
        first = first_200(process, port, started)
        assert first is not None, "no 200 from /\n" + "".join(lines[-40:])
        assert any("release.1 stopped (rc=0)" in line for line in lines), "".join(lines)
        one_off_started = time.monotonic()
        one_off = subprocess.run(
            ["uv", "run", "--frozen", "python", "manage.py", "shell", "-c"]
            + [ONE_OFF.format(slug=project.name)],
            cwd=project,
            env=environ,
            capture_output=True,
            text=True,
            timeout=120,
        )
        one_off_seconds = time.monotonic() - one_off_started
        assert "words counted by the worker: 3" in one_off.stdout, one_off.stderr[-3000:]
        assert get_home(port) == 200, "".join(lines[-40:])
        # A crash of everything, as when a terminal or a container is killed with all in
        # it: bin/dev, each process it started, and the database with its own processes
        # (a postmaster killed alone leaves backends holding its shared memory).
        database = development_postgres(project)
        assert database is not None
        for pid in frozen([process.pid, database]):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    restarted = time.monotonic()
    process, lines = start_dev(shlex.split(long_running), project, environ)
    try:
        again = first_200(process, port, restarted)
        assert again is not None, "no 200 after a SIGKILL\n" + "".join(lines[-40:])
        assert development_postgres(project) not in (None, database)
        try:
            notes = get_page(port, "/notes/")
        except OSError as error:  # what the processes said is the clue
            raise AssertionError(f"/notes/: {error!r}\n" + "".join(lines[-60:])) from error
        assert "three short words" in notes, "a note was lost"
        time.sleep(3)  # the web process must outlive the release step, not stop with it
        assert get_home(port) == 200, "".join(lines[-40:])
        picture = tmp_path / "development-home-page.png"
        screenshot(f"http://localhost:{port}/", picture)
        assert picture.stat().st_size > 10_000
        processes = descendants(process.pid)
        stopped = stop_like_ctrl_c(process)
        deadline = time.monotonic() + 5
        while any(map(alive, processes)) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = sorted(pid for pid in processes if alive(pid))
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    assert left == [], f"still running after Ctrl-C: {left}"
    assert get_home(port) is None
    assert stopped_within(10, project), "the last user left it running"
    return (
        "; ".join(f"`{command}` {seconds:.1f} s" for command, seconds in timings.items())
        + f"; `{long_running}`: first 200 from / after {first:.1f} s, {again:.1f} s after "
        f"a SIGKILL of everything; a one-off task round trip {one_off_seconds:.1f} s; Ctrl-C "
        f"stopped {len(processes)} processes in {stopped:.1f} s; the development home "
        f"page: {picture}"
    )
