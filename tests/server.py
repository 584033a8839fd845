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
    lines: list[str] = field(default_factory=list)

    def request(
        self, path: str, *, method: str = "GET", headers: dict | None = None, timeout: float = 10
    ) -> Response:
        headers = {"Host": "app.example.com", "X-Forwarded-Proto": "https"} | (headers or {})
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request(method, path, headers=headers)
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
    """Start a Procfile process with `environ` and PORT set; collect stdout and stderr."""
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
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: the workers go with the master
    )
    server = Server(process=proc, port=port)

    def collect() -> None:
        for line in proc.stdout:
            server.lines.append(line.rstrip("\n"))

    reader = threading.Thread(target=collect, daemon=True)
    reader.start()
    try:
        yield server
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # the master, and any worker it left behind
        proc.wait(timeout=10)
        reader.join(timeout=5)
