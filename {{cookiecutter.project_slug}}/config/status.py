"""The running configuration's twelve-factor status, for the development home page.

What it reports comes from Django's settings and the Procfile, so a backing service or a
process type added later shows up without a change here. Nothing secret is shown: a
service is named by its backend and host, never by its URL (URLs carry passwords).
https://12factor.net/backing-services
"""

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks
from django.core.cache import caches
from django.core.files.storage import storages
from django.core.mail.handler import DEFAULT_MAILER_BACKEND
from django.db import connections

from config.cacheoutage import DegradingRedisCache
from config.checks import LOCAL_EMAIL_BACKENDS
from config.env import BASE_DIR
from config.health import database_ready

# Each reachability check gives up after this long: the page is for people, and a
# service that does not answer within it is as good as down. The checks run together;
# the page waits a little longer than one, so a check can report its own failure.
PROBE_SECONDS = 2.0
WAIT_SECONDS = PROBE_SECONDS + 0.5

# Backends that keep their state inside this process (or on this machine's disk): fine
# for development; a second process or the next deploy does not see it.
PROCESS_LOCAL = {
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
    "django.core.cache.backends.filebased.FileBasedCache",
    *LOCAL_EMAIL_BACKENDS,
    "django.core.files.storage.FileSystemStorage",
    "config.storage.DevelopmentFileStorage",
    "django.core.files.storage.InMemoryStorage",
    "django.tasks.backends.immediate.ImmediateBackend",
    "django.tasks.backends.dummy.DummyBackend",
}
# A Procfile line that is not a process type.
NOT_A_PROCESS = ("#", " ")


@dataclass
class Service:
    kind: str
    alias: str
    backend: str
    where: str
    state: str = "not checked"
    probe: Callable[[], object] | None = None
    readme: str = ""

    @property
    def process_local(self) -> bool:
        return self.state == "process-local"


def _host(location: object) -> str:
    """host:port of a URL or of the first of several, without the user and password."""
    if isinstance(location, list | tuple):
        location = location[0] if location else ""
    parts = urlsplit(str(location))
    if not parts.hostname:
        return ""
    return f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname


def _databases() -> list[Service]:
    found = []
    for alias, config in settings.DATABASES.items():
        engine = config["ENGINE"]
        if engine.endswith("sqlite3"):
            where = Path(str(config["NAME"])).name or "memory"
            found.append(Service("database", alias, engine, where, "process-local"))
        else:
            where = f"{config.get('HOST') or 'localhost'}:{config.get('PORT') or 'default port'}"
            probe = partial(_database_probe, alias)
            found.append(Service("database", alias, engine, where, probe=probe))
    return found


def _database_probe(alias: str) -> bool:
    try:
        return database_ready(alias, timeout=PROBE_SECONDS)
    finally:
        connections[alias].close()  # opened in the probe's thread, useless after it


def _cache_probe(alias: str) -> bool:
    if isinstance(cache := caches[alias], DegradingRedisCache):
        return cache.ping()  # its get() would be a miss, not an error
    cache.get("status-probe")
    return True


def _storage_probe(alias: str) -> bool:
    storages[alias].exists("status-probe")
    return True


def _caches() -> list[Service]:
    if not settings.is_overridden("CACHES"):  # type: ignore[misc]  # missing from django-stubs
        return []
    found = []
    for alias, config in settings.CACHES.items():
        backend = config["BACKEND"]
        where = _host(config.get("LOCATION"))
        found.append(Service("cache", alias, backend, where, probe=partial(_cache_probe, alias)))
    return found


def _email() -> list[Service]:
    found = []
    for alias, config in settings.MAILERS.items():
        options = config.get("OPTIONS", {})
        address = (options.get("host"), options.get("port"))
        where = f"{address[0]}:{address[1]}" if address[0] else ""
        probe = partial(_smtp_probe, address) if address[0] else None
        backend = config.get("BACKEND", DEFAULT_MAILER_BACKEND)
        found.append(Service("email", alias, backend, where, probe=probe))
    return found


def _smtp_probe(address: tuple[str, int]) -> bool:
    with socket.create_connection(address, PROBE_SECONDS):
        return True


def _storages() -> list[Service]:
    found = []
    for alias, config in settings.STORAGES.items():
        if alias == "staticfiles":  # built into the release, not a service it talks to
            continue
        where = getattr(storages[alias], "bucket_name", None) or "this machine's disk"
        probe = partial(_storage_probe, alias)
        found.append(Service("storage", alias, config["BACKEND"], where, probe=probe))
    return found


def _tasks() -> list[Service]:
    if not settings.is_overridden("TASKS"):  # type: ignore[misc]  # missing from django-stubs
        return []
    found = []
    for alias, config in settings.TASKS.items():
        backend = config["BACKEND"]
        where = "the database" if "database" in backend.lower() else ""
        found.append(Service("tasks", alias, backend, where))
    return found


def backing_services() -> list[Service]:
    """Every configured backing service, each probed (all at once, within WAIT_SECONDS)
    unless its backend keeps its state in this process."""
    services = [*_databases(), *_caches(), *_email(), *_storages(), *_tasks()]
    for service in services:
        if service.backend in PROCESS_LOCAL:
            service.state, service.probe = "process-local", None
    probed = [service for service in services if service.probe is not None]
    if not probed:
        return services
    answers: dict[int, bool] = {}

    def probe(index: int, check: Callable[[], bool]) -> None:
        try:
            answers[index] = bool(check())
        except Exception:
            answers[index] = False

    # Daemon threads: a probe still running is left to its own timeout, and neither the
    # page nor the process's exit waits for it (an executor's threads are joined at exit).
    threads = [
        threading.Thread(target=probe, args=(index, service.probe), daemon=True)
        for index, service in enumerate(probed)
    ]
    deadline = time.monotonic() + WAIT_SECONDS
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    for index, service in enumerate(probed):
        if index not in answers:
            service.state = f"no answer within {WAIT_SECONDS:g} s"
        else:
            service.state = "reachable" if answers[index] else "unreachable"
    return services


def process_types() -> list[tuple[str, str]]:
    """(name, command) of each line of the Procfile."""
    procfile = BASE_DIR / "Procfile"
    types = []
    for line in procfile.read_text().splitlines():
        name, colon, command = line.partition(":")
        if colon and name and not line.startswith(NOT_A_PROCESS):
            types.append((name.strip(), command.strip()))
    return types


def deploy_checks() -> list[checks.CheckMessage]:
    """What `manage.py check --deploy` says about this configuration: Django's checks,
    the deployment checklist's and the project's own, minus the ones it silences."""
    messages = checks.run_checks(include_deployment_checks=True)
    shown = [message for message in messages if not message.is_silenced()]
    return sorted(shown, key=lambda message: (-message.level, message.id or ""))
