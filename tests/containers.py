"""Build, inspect and run the baked project's image with buildah, without a Docker engine.

CI machines for this template have no Docker daemon and reach no container registry, so the
container tests build on a local Debian trixie base made with debootstrap and run images with
`buildah run --isolation chroot --network host`. docs/containers.md says what this runtime does
and does not do like Docker (signals, PID 1, read-only root) and how long each step takes.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REQUIRED_TOOLS = ("buildah", "debootstrap")
INSTALL_HINT = "run .ci/install-container-tools (as root)"

# The stand-in for python:3.13-slim-trixie. Changing the recipe changes the tag, so a machine
# never runs tests on a base built by an older recipe.
BASE_SUITE = "trixie"
BASE_PACKAGES = ("python3", "python3-venv", "python-is-python3", "ca-certificates")
BASE_MIRROR = "http://deb.debian.org/debian"
# The host bundle replaces Debian's inside the base: on these machines PyPI is reached through
# a TLS-intercepting proxy whose CA only the host trusts. uv ignores the system store unless
# SSL_CERT_FILE points at it, pip (patched by Debian) reads it anyway.
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
BASE_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
    "SSL_CERT_FILE": str(HOST_CA_BUNDLE),
}
_BASE_RECIPE = json.dumps([BASE_SUITE, BASE_PACKAGES, BASE_MIRROR, BASE_ENV, 1])
BASE_IMAGE = (
    "localhost/twelve-factor-django/python:3.13-"
    f"{BASE_SUITE}-{hashlib.sha256(_BASE_RECIPE.encode()).hexdigest()[:8]}"
)
CACHE_DIR = (
    Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "twelve-factor-django"
)

# Paths buildah itself bind-mounts over or creates in every container; the app did not write them.
_RUNTIME_PATHS = frozenset(
    {"/run", "/run/.containerenv", "/etc/hosts", "/etc/hostname", "/etc/resolv.conf"}
)
_EXIT_LINE = re.compile(r"^subprocess exited (?:with status (\d+)|on (.+))$")
_SIGNALS_BY_GO_NAME = {(signal.strsignal(sig) or "").lower(): sig for sig in signal.valid_signals()}


class ContainerError(RuntimeError):
    """A buildah step failed; the message carries the command and the tail of its output."""


def require_tools() -> None:
    """Raise ContainerError saying what is missing, so the caller can skip or fail with it.

    Root is needed too: debootstrap, buildah's chroot isolation and the read-only remount.
    """
    missing = [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None]
    if missing:
        raise ContainerError(f"missing {', '.join(missing)}: {INSTALL_HINT}")
    if os.geteuid() != 0:
        raise ContainerError("container tests need root (debootstrap, buildah chroot, mount)")


def _run(*argv: str) -> str:
    """Run a command, return its stdout, raise ContainerError with its output on failure."""
    completed = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if completed.returncode != 0:
        output = (completed.stdout + completed.stderr)[-4000:]
        raise ContainerError(f"{' '.join(argv)} exited {completed.returncode}:\n{output}")
    return completed.stdout.strip()


def image_exists(image: str) -> bool:
    """Say whether the image is in buildah's local store (no registry is ever asked)."""
    completed = subprocess.run(
        ["buildah", "inspect", "--type", "image", image], capture_output=True
    )
    return completed.returncode == 0


def ensure_base_image() -> str:
    """Return the local base image reference, building it once per machine.

    debootstrap takes ~40 s, so its output is kept as a tarball in CACHE_DIR: after the buildah
    store is wiped, re-importing takes ~4 s. A file lock makes parallel test workers wait for
    one builder instead of all running debootstrap.
    """
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with open(CACHE_DIR / "base-image.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if image_exists(BASE_IMAGE):
            return BASE_IMAGE
        started = time.monotonic()
        tarball = CACHE_DIR / f"rootfs-{BASE_IMAGE.rsplit(':', 1)[1]}.tar"
        if not tarball.exists():
            _debootstrap_tarball(tarball)
        _import_rootfs(tarball, BASE_IMAGE)
        print(f"base image {BASE_IMAGE} ready in {time.monotonic() - started:.1f} s")
        return BASE_IMAGE


def _debootstrap_tarball(tarball: Path) -> None:
    """Make a minimal trixie root filesystem with Python and pack it into `tarball`."""
    with tempfile.TemporaryDirectory(dir=CACHE_DIR) as workdir:
        rootfs = Path(workdir) / "rootfs"
        _run(
            "debootstrap",
            "--variant=minbase",
            f"--include={','.join(BASE_PACKAGES)}",
            BASE_SUITE,
            str(rootfs),
            BASE_MIRROR,
        )
        shutil.copyfile(HOST_CA_BUNDLE, rootfs / HOST_CA_BUNDLE.relative_to("/"))
        # Like the official slim images: no apt lists or package cache, no host identity.
        for leftover in ("var/lib/apt/lists", "var/cache/apt"):
            shutil.rmtree(rootfs / leftover)
            (rootfs / leftover).mkdir()
        (rootfs / "etc/resolv.conf").write_text("")
        (rootfs / "etc/hostname").unlink(missing_ok=True)
        partial = Path(workdir) / "rootfs.tar"
        _run("tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(partial), ".")
        partial.rename(tarball)


def _import_rootfs(tarball: Path, image: str) -> None:
    """Commit a root filesystem tarball as a one-layer image (buildah 1.28 has no `import`)."""
    container = _run("buildah", "from", "--pull=never", "scratch")
    try:
        mountpoint = _run("buildah", "mount", container)
        _run("tar", "-C", mountpoint, "--numeric-owner", "-xpf", str(tarball))
        env_flags = [
            flag for key, value in BASE_ENV.items() for flag in ("--env", f"{key}={value}")
        ]
        _run(
            "buildah",
            "config",
            *env_flags,
            "--cmd",
            "python3",
            "--created-by",
            f"debootstrap {BASE_SUITE} {' '.join(BASE_PACKAGES)}",
            container,
        )
        _run("buildah", "commit", "--quiet", "--format", "docker", container, image)
    finally:
        subprocess.run(["buildah", "rm", container], capture_output=True)


@dataclass(frozen=True)
class BuildResult:
    image: str
    seconds: float
    size_bytes: int
    log: str


def build_image(
    context_dir: Path | str,
    tag: str,
    build_args: Mapping[str, str] | None = None,
    *,
    dockerfile: Path | str | None = None,
) -> BuildResult:
    """Build a Dockerfile the way the tests need it, and time it.

    `--format docker` because the OCI image format has no HEALTHCHECK (buildah drops it with a
    warning); `--layers` so the option matrix shares cached steps; `--pull=never` so a base image
    that was not overridden fails at once instead of trying a registry.
    """
    argv = [
        "buildah",
        "bud",
        "--isolation",
        "chroot",
        "--format",
        "docker",
        "--layers",
        "--pull=never",
        "--tag",
        tag,
    ]
    for key, value in (build_args or {}).items():
        argv += ["--build-arg", f"{key}={value}"]
    if dockerfile is not None:
        argv += ["--file", str(dockerfile)]
    argv.append(str(context_dir))
    started = time.monotonic()
    completed = subprocess.run(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    seconds = time.monotonic() - started
    if completed.returncode != 0:
        raise ContainerError(f"build of {tag} failed:\n{completed.stdout[-6000:]}")
    return BuildResult(tag, seconds, image_size(tag), completed.stdout)


def inspect_image(image: str) -> dict[str, Any]:
    """Return `buildah inspect --type image` as parsed JSON (config, manifest, history)."""
    inspected: dict[str, Any] = json.loads(_run("buildah", "inspect", "--type", "image", image))
    return inspected


def image_size(image: str) -> int:
    """Return the uncompressed size in bytes (`buildah images` only prints "218 MB")."""
    manifest = json.loads(inspect_image(image)["Manifest"])
    return sum(layer["size"] for layer in manifest["layers"])


@dataclass(frozen=True)
class ImageConfig:
    env: dict[str, str]
    labels: dict[str, str]
    user: str
    entrypoint: list[str]
    cmd: list[str]
    workdir: str
    healthcheck: dict[str, Any] | None
    stop_signal: str
    exposed_ports: list[str]


def image_config(image: str) -> ImageConfig:
    """Read the runtime configuration a container platform would apply to the image."""
    config = inspect_image(image)["Docker"]["config"]
    return ImageConfig(
        env=dict(item.split("=", 1) for item in config.get("Env") or []),
        labels=config.get("Labels") or {},
        user=config.get("User") or "",
        entrypoint=config.get("Entrypoint") or [],
        cmd=config.get("Cmd") or [],
        workdir=config.get("WorkingDir") or "",
        healthcheck=config.get("Healthcheck"),
        stop_signal=config.get("StopSignal") or "",
        exposed_ports=sorted(config.get("ExposedPorts") or {}),
    )


def image_history(image: str) -> list[dict[str, Any]]:
    """Return the history entries (`created_by` holds each instruction and RUN's build args)."""
    history: list[dict[str, Any]] = inspect_image(image)["History"]
    return history


@contextlib.contextmanager
def _exported(image: str) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Yield a directory holding the image as shipped (config and layer blobs) and its manifest."""
    with tempfile.TemporaryDirectory(prefix="tfd-export-") as export:
        _run("buildah", "push", "--quiet", "--disable-compression", image, f"dir:{export}")
        yield Path(export), json.loads(Path(export, "manifest.json").read_text())


def _blob(export: Path, descriptor: dict[str, Any]) -> Path:
    return export / str(descriptor["digest"]).split(":", 1)[1]


def iter_layer_files(image: str) -> Iterator[tuple[str, str, bytes]]:
    """Yield (layer digest, path, content) for every regular file of every layer.

    Upper layers can delete or overwrite files of lower ones; a secret in a lower layer still
    ships, so every layer is read, not the final filesystem.
    """
    with _exported(image) as (export, manifest):
        yield from _layer_files(export, manifest)


def _layer_files(export: Path, manifest: dict[str, Any]) -> Iterator[tuple[str, str, bytes]]:
    for layer in manifest["layers"]:
        with tarfile.open(_blob(export, layer)) as archive:
            for member in archive:
                content = archive.extractfile(member) if member.isfile() else None
                if content is not None:
                    yield layer["digest"], "/" + member.name.removeprefix("./"), content.read()


def find_in_image(image: str, needle: bytes) -> list[str]:
    """List where `needle` ships: "config" (env, labels, history) and "<layer digest>:<path>".

    The config is searched after JSON decoding: Go escapes "&", "<" and ">" in it, which a
    Django secret key may contain.
    """
    with _exported(image) as (export, manifest):
        config = json.loads(_blob(export, manifest["config"]).read_text())
        places = ["config"] if needle.decode() in _strings(config) else []
        for digest, path, content in _layer_files(export, manifest):
            if needle in content:
                places.append(f"{digest}:{path}")
    return places


def _strings(document: Any) -> str:
    """Join every key and string value of a JSON document, one per line."""
    if isinstance(document, dict):
        return "\n".join(f"{key}\n{_strings(value)}" for key, value in document.items())
    if isinstance(document, list):
        return "\n".join(_strings(item) for item in document)
    return str(document)


def remove_image(tag: str) -> None:
    """Remove an image and any working container still using it; missing is fine."""
    subprocess.run(["buildah", "rmi", "--force", tag], capture_output=True)


class RunningContainer:
    """A command running in a working container; see run_container()."""

    def __init__(
        self,
        name: str,
        rootfs: Path,
        process: subprocess.Popen[bytes],
        logs: Path,
        writable: Sequence[str],
    ):
        self.name = name
        self.rootfs = rootfs
        self.process = process
        self.returncode: int | None = None
        self.strays: list[str] = []
        self._logs = logs
        self._writable = writable
        self._pid: int | None = None
        self._final_logs: dict[str, str] = {}

    @property
    def stdout(self) -> str:
        return self._read_log("stdout")

    @property
    def stderr(self) -> str:
        """The command's stderr, then buildah's own lines ("subprocess exited ...")."""
        return self._read_log("stderr")

    def _read_log(self, stream: str) -> str:
        if stream in self._final_logs:
            return self._final_logs[stream]
        return (self._logs / stream).read_text(errors="replace")

    @property
    def pid(self) -> int:
        """The host pid of the image's command: the process Docker would run as PID 1.

        Signal this one. buildah forwards no signal: SIGTERM to buildah, buildah-chroot-runtime
        or buildah-chroot-exec kills the command with SIGKILL. The command is the child of
        buildah-chroot-exec whose executable is no longer buildah's.
        """
        deadline = time.monotonic() + 10
        while self._pid is None:
            self._pid = _find_command_pid(self.process.pid)
            if self._pid is None:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise ContainerError(f"command of {self.name} not running:\n{self.stderr}")
                time.sleep(0.02)
        return self._pid

    def send_signal(self, sig: int) -> None:
        os.kill(self.pid, sig)

    def wait(self, timeout: float) -> int:
        """Wait for the command to end and return its exit status (-N if killed by signal N).

        Processes the command started and left behind are listed in `strays`, then killed, as
        the end of PID 1 would kill them under Docker. A shell CMD that does not `exec` the
        server shows up here: SIGTERM ends the shell and the server lives on.
        """
        buildah_status = self.process.wait(timeout)
        self.returncode = _command_status(self.stderr, buildah_status)
        self.strays = _kill_process_group(self.process.pid)
        return self.returncode

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        """Signal the command as a platform would, and return its exit status."""
        self.send_signal(sig)
        try:
            return self.wait(timeout)
        except subprocess.TimeoutExpired:
            self._finish()
            raise

    def changed_files(self) -> list[str]:
        """List paths the container created, changed or deleted outside its tmpfs mounts.

        Reads the overlay upper directory of the working container (and, when read-only, the
        directory standing in for /run), so it sees every write since `buildah from`, including
        writes at shutdown. A directory counts only when empty: a file below it is listed itself.
        """
        upper = self.rootfs.parent / "diff"
        if not upper.is_dir():
            raise ContainerError(f"no overlay upper directory at {upper}: storage driver?")
        trees = [(upper, "/")]
        if (self._logs / "run").is_dir():
            trees.append((self._logs / "run", "/run"))
        changed = []
        for tree, mountpoint in trees:
            for directory, subdirs, files in os.walk(tree):
                relative = os.path.relpath(directory, tree)
                path = mountpoint if relative == "." else os.path.join(mountpoint, relative)
                changed += [os.path.join(path, name) for name in files]
                if not subdirs and not files and relative != ".":
                    changed.append(path)
        ignored = _RUNTIME_PATHS | set(self._writable)
        prefixes = tuple(path.rstrip("/") + "/" for path in (*self._writable, "/dev/shm"))
        return sorted(p for p in changed if p not in ignored and not p.startswith(prefixes))

    def _finish(self) -> None:
        """Kill the command if it still runs and keep its logs readable after the block."""
        if self.process.poll() is None:
            # Kill the command, not buildah: buildah must live to undo its mounts.
            pid = _find_command_pid(self.process.pid)
            os.kill(pid or self.process.pid, signal.SIGKILL if pid else signal.SIGTERM)
            self.process.wait(10)
        _kill_process_group(self.process.pid)
        self._final_logs = {stream: self._read_log(stream) for stream in ("stdout", "stderr")}


def _find_command_pid(buildah_pid: int) -> int | None:
    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
        buildah_exe = os.readlink(f"/proc/{buildah_pid}/exe")
        pending = [buildah_pid]
        while pending:
            pid = pending.pop()
            children = [
                int(child)
                for task in os.listdir(f"/proc/{pid}/task")
                for child in Path(f"/proc/{pid}/task/{task}/children").read_text().split()
            ]
            if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"buildah-chroot-exec\0"):
                for child in children:
                    if os.readlink(f"/proc/{child}/exe") != buildah_exe:
                        return child
                return None
            pending += children
    return None


def _kill_process_group(pgid: int) -> list[str]:
    """SIGKILL what is left of the session buildah leads; return those processes' command lines."""
    strays = []
    for entry in os.listdir("/proc"):
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            if entry.isdigit() and _process_group(entry) == pgid:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ")
                strays.append(cmdline.decode(errors="replace").strip())
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    return strays


def _process_group(pid: str) -> int:
    # In /proc/PID/stat the group is the third field after "(comm)", which may hold spaces.
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[2])


def _command_status(stderr: str, buildah_status: int) -> int:
    """Return the command's own exit status.

    buildah exits with the command's status, except that it exits 1 when the command was killed
    by a signal; it then prints "subprocess exited on <signal description>".
    """
    for line in stderr.splitlines()[-20:]:
        match = _EXIT_LINE.match(line.strip())
        if match and match[2] in _SIGNALS_BY_GO_NAME:
            return -_SIGNALS_BY_GO_NAME[match[2]]
    return buildah_status


@contextlib.contextmanager
def run_container(
    image: str,
    command: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    *,
    read_only: bool = False,
    tmpfs: Sequence[str] = ("/tmp",),
) -> Iterator[RunningContainer]:
    """Run the image's command (or `command`, which replaces CMD like `docker run IMAGE CMD`).

    The container shares the host network, so a server must be told (through `env`) to listen
    on a free loopback port. With `read_only`, the root filesystem is read-only and the `tmpfs`
    paths are writable, as with `docker run --read-only --tmpfs /tmp`. Everything is undone
    and the working container removed whatever happens.
    """
    config = image_config(image)
    argv = [*config.entrypoint, *(command if command is not None else config.cmd)]
    if not argv:
        raise ContainerError(f"{image} has no ENTRYPOINT or CMD and no command was given")
    name = f"tfd-{uuid.uuid4().hex[:12]}"
    with contextlib.ExitStack() as cleanup:
        workdir = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="tfd-run-")))
        _run("buildah", "from", "--pull=never", "--name", name, image)
        cleanup.callback(subprocess.run, ["buildah", "rm", name], capture_output=True)
        rootfs = Path(_run("buildah", "mount", name))
        if read_only:
            _make_read_only(rootfs, workdir / "run", [*tmpfs, config.workdir or "/"], cleanup)
        flags = [flag for key, value in (env or {}).items() for flag in ("--env", f"{key}={value}")]
        flags += [flag for path in tmpfs for flag in ("--mount", f"type=tmpfs,destination={path}")]
        with open(workdir / "stdout", "wb") as stdout, open(workdir / "stderr", "wb") as stderr:
            process = subprocess.Popen(
                [
                    "buildah",
                    "run",
                    "--isolation",
                    "chroot",
                    "--network",
                    "host",
                    *flags,
                    name,
                    "--",
                    *argv,
                ],
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,
            )
        container = RunningContainer(name, rootfs, process, workdir, tmpfs)
        cleanup.callback(container._finish)
        yield container


def _make_read_only(
    rootfs: Path, run_dir: Path, directories: Sequence[str], cleanup: contextlib.ExitStack
) -> None:
    """Remount the container's overlay read-only, leaving buildah what it must write.

    buildah 1.28 has no --read-only. It bind-mounts files over /etc/hosts, /etc/hostname,
    /etc/resolv.conf and /run/.containerenv, so their targets must exist beforehand, and it
    deletes /run/.containerenv afterwards (on a read-only /run it panics and exits 2). So /run
    is a root-owned 0755 host directory: as unwritable for a non-root app as a read-only /run,
    and changed_files() reports anything written there.
    """
    for directory in [*directories, "/run"]:
        (rootfs / directory.lstrip("/")).mkdir(parents=True, exist_ok=True)
    for target in ("/etc/hosts", "/etc/hostname", "/etc/resolv.conf"):
        if not (rootfs / target.lstrip("/")).exists():
            (rootfs / target.lstrip("/")).touch()
    run_dir.mkdir(mode=0o755)
    _run("mount", "--bind", str(run_dir), str(rootfs / "run"))
    cleanup.callback(subprocess.run, ["umount", str(rootfs / "run")], capture_output=True)
    _run("mount", "-o", "remount,ro", str(rootfs))
    cleanup.callback(
        subprocess.run, ["mount", "-o", "remount,rw", str(rootfs)], capture_output=True
    )
