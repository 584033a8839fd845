"""Twelve-factor checks: `manage.py check --deploy` fails a production configuration
whose backing services live inside the process or on its disk.

Each reads Django's own settings, so it holds whatever module configured them.
https://docs.djangoproject.com/en/6.1/topics/checks/
"""

from django.conf import settings
from django.core.checks import Error, Warning, register
from django.core.files.storage import FileSystemStorage
from django.core.mail.handler import DEFAULT_MAILER_BACKEND
from django.utils.module_loading import import_string

TAG = "twelve_factor"
LOCAL_EMAIL_BACKENDS = {
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
}


@register(TAG, deploy=True)
def cache_is_shared(app_configs, **kwargs):
    """Factor VI: each process has its own local-memory cache, so a value one sets is
    missing in the others (the worker, a second instance) and a cleared one lingers
    there. Without CACHE_URL the cache is the database's, which they all share."""
    processes = settings.WEB_CONCURRENCY
    local = [
        alias
        for alias, cache in settings.CACHES.items()
        if cache["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache"
    ]
    if local and (not settings.DEBUG or processes > 1):
        runs = "production" if not settings.DEBUG else f"{processes} web processes"
        return [
            Error(
                f"The {', '.join(local)} cache is local memory, one per process, in {runs}.",
                hint="Set CACHE_URL to a Redis or Valkey server (redis://host:6379/0), or "
                "leave it unset for the database's cache.",
                id=f"{TAG}.E001",
            )
        ]
    return []


@register(TAG, deploy=True)
def media_is_shared(app_configs, **kwargs):
    """Factor IV/VI: files on a process's disk are invisible to the other processes and
    lost at the next deploy (or refused by a read-only container)."""
    backend = import_string(settings.STORAGES["default"]["BACKEND"])
    if not settings.DEBUG and issubclass(backend, FileSystemStorage):
        return [
            Error(
                "Uploaded files are stored on the local disk.",
                hint="Set AWS_STORAGE_BUCKET_NAME (and AWS_S3_ENDPOINT_URL for an "
                "S3-compatible service other than Amazon S3).",
                id=f"{TAG}.E002",
            )
        ]
    return []


@register(TAG, deploy=True)
def database_is_a_service(app_configs, **kwargs):
    """Factor IV: SQLite is a file in one container, not a service processes share."""
    sqlite = [
        alias
        for alias, database in settings.DATABASES.items()
        if database["ENGINE"] == "django.db.backends.sqlite3"
    ]
    if not settings.DEBUG and sqlite:
        return [
            Error(
                f"The {', '.join(sqlite)} database is SQLite, a file on this process's disk.",
                hint="Set DATABASE_URL to a Postgres server (postgres://user:password@host/name).",
                id=f"{TAG}.E003",
            )
        ]
    return []


@register(TAG, deploy=True)
def email_is_sent(app_configs, **kwargs):
    """Factor IV: a console, file or memory backend never delivers a password reset."""
    local = {
        alias: backend
        for alias, mailer in settings.MAILERS.items()
        if (backend := mailer.get("BACKEND", DEFAULT_MAILER_BACKEND)) in LOCAL_EMAIL_BACKENDS
    }
    if not settings.DEBUG and local:
        return [
            Error(
                f"Email of the {alias} mailer goes to {backend.split('.')[-2]}, never to anyone.",
                hint="Set EMAIL_URL to an SMTP server (smtp://user:password@host:587).",
                id=f"{TAG}.E004",
            )
            for alias, backend in local.items()
        ]
    return []


@register(TAG, deploy=True)
def release_is_known(app_configs, **kwargs):
    """Factor V: logs, /healthz and error reports name the release they came from."""
    if not settings.DEBUG and settings.GIT_REVISION == "unknown":
        return [
            Warning(
                "The release being run is unknown.",
                hint="Set GIT_REVISION to the deployed commit (the image build argument of "
                "the same name sets it), or run on a platform that sets one it reads.",
                id=f"{TAG}.W001",
            )
        ]
    return []
