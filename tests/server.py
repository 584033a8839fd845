"""Serve a baked project as its Procfile says, on a free loopback port, and watch it."""

import contextlib
import http.client
import os
import shlex
import signal
import socket
import subprocess
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from bakery import Project


def children_of() -> dict[int, list[int]]:
    """Each process's children, read from /proc (Linux)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                with open(f"/proc/{entry}/stat") as stat:
                    parent = int(stat.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(entry))
    return children


def descendants(pid: int) -> set[int]:
    """Every process below `pid`, by parent, whatever its group or session (honcho starts
    each process type in a session of its own)."""
    children = children_of()
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def procfile_command(project: Project, process: str) -> list[str]:
    for line in (project.path / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == process:
            return shlex.split(command)
    raise LookupError(f"no {process!r} process in the Procfile")


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class Server:
    process: subprocess.Popen
    port: int
    lines: list[str] = field(default_factory=list)  # stdout: the log stream
    errors: list[str] = field(default_factory=list)  # stderr: should stay empty

    @property
    def log(self) -> str:
        return "\n".join(self.lines + self.errors)

    def count(self, text: str) -> int:
        return sum(text in line for line in self.lines + self.errors)

    def request(
        self,
        path: str,
        *,
        method: str = "GET",
        headers: dict | None = None,
        body: bytes | None = None,
        timeout: float = 10,
    ) -> Response:
        headers = {"Host": "app.example.com", "X-Forwarded-Proto": "https"} | (headers or {})
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return Response(
                response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
            )
        finally:
            connection.close()

    def wait_until_serving(self, timeout: float = 30) -> float:
        """Seconds until /healthz answered 200; fails with the log if it never does."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                break
            try:
                if self.request("/healthz", timeout=1).status == 200:
                    return time.monotonic() - started
            except OSError:
                time.sleep(0.05)
        raise AssertionError("server never answered /healthz\n" + "\n".join(self.lines[-40:]))

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=timeout)


@contextmanager
def serve(project: Project, environ: dict[str, str], process: str = "web"):
    """Start a Procfile process with `environ` and PORT set; collect stdout and stderr
    apart; at exit, SIGTERM it, then kill whatever is left of its process group."""
    port = free_port()
    env = {
        "PATH": f"{project.bin}{os.pathsep}{os.environ['PATH']}",
        "HOME": os.environ.get("HOME", "/tmp"),
        "PORT": str(port),
        **environ,
    }
    proc = subprocess.Popen(
        procfile_command(project, process),
        cwd=project.path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A group of its own: uvicorn workers outlive a killed master, holding the port
        # and these pipes, unless the whole group goes.
        start_new_session=True,
    )
    server = Server(process=proc, port=port)
    readers = [
        threading.Thread(target=_collect, args=(stream, lines), daemon=True)
        for stream, lines in ((proc.stdout, server.lines), (proc.stderr, server.errors))
    ]
    for reader in readers:
        reader.start()
    try:
        yield server
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        for reader in readers:
            reader.join(timeout=5)


def _collect(stream, lines: list[str]) -> None:
    for line in stream:
        lines.append(line.rstrip("\n"))
