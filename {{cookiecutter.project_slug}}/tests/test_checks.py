"""`check --deploy` refuses a production configuration with process- or disk-local services."""

import pytest
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile

from config.storage import DevelopmentFileStorage

# The checks only read DATABASES; no test here connects with the replaced one.
pytestmark = pytest.mark.filterwarnings("ignore:Overriding setting DATABASES:UserWarning")

SHARED = {
    "CACHES": {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache"}},
    "STORAGES": {"default": {"BACKEND": "storages.backends.s3.S3Storage"}},
    "DATABASES": {"default": {"ENGINE": "django.db.backends.postgresql"}},
    "MAILERS": {"default": {"BACKEND": "django.core.mail.backends.smtp.EmailBackend"}},
    "GIT_REVISION": "3f2a9c1",
}
LOCAL = {
    "twelve_factor.E001": {
        "CACHES": {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    },
    "twelve_factor.E002": {
        "STORAGES": {"default": {"BACKEND": "config.storage.DevelopmentFileStorage"}}
    },
    "twelve_factor.E003": {"DATABASES": {"default": {"ENGINE": "django.db.backends.sqlite3"}}},
    "twelve_factor.E004": {
        "MAILERS": {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}
    },
    "twelve_factor.W001": {"GIT_REVISION": "unknown"},
}


def twelve_factor_issues(settings, debug: bool, **overrides) -> dict[str | None, str | None]:
    for name, value in (SHARED | overrides).items():
        setattr(settings, name, value)
    settings.DEBUG = debug
    issues = run_checks(tags=["twelve_factor"], include_deployment_checks=True)
    return {issue.id: issue.hint for issue in issues}


@pytest.fixture(autouse=True)
def two_web_processes(settings):
    settings.WEB_CONCURRENCY = 2


def test_a_production_configuration_of_shared_services_passes(settings):
    assert twelve_factor_issues(settings, debug=False) == {}


@pytest.mark.parametrize("check_id", LOCAL)
def test_each_local_service_fails_production_and_says_what_to_set(settings, check_id):
    issues = twelve_factor_issues(settings, debug=False, **LOCAL[check_id])
    assert list(issues) == [check_id]
    assert "Set " in issues[check_id]


@pytest.mark.parametrize("check_id", sorted(set(LOCAL) - {"twelve_factor.E001"}))
def test_local_services_are_fine_in_development(settings, check_id):
    assert twelve_factor_issues(settings, debug=True, **LOCAL[check_id]) == {}


def test_a_local_memory_cache_is_fine_only_for_one_development_process(settings):
    local_cache, refused = LOCAL["twelve_factor.E001"], ["twelve_factor.E001"]
    settings.WEB_CONCURRENCY = 1
    assert twelve_factor_issues(settings, debug=True, **local_cache) == {}
    # The worker and every other instance have caches of their own, whatever the count.
    assert list(twelve_factor_issues(settings, debug=False, **local_cache)) == refused
    settings.WEB_CONCURRENCY = 4
    assert list(twelve_factor_issues(settings, debug=True, **local_cache)) == refused


def test_the_database_cache_is_shared_and_passes_production(settings):
    database_cache = {"BACKEND": "django.core.cache.backends.db.DatabaseCache"}
    assert twelve_factor_issues(settings, debug=False, CACHES={"default": database_cache}) == {}


def test_the_development_disk_refuses_uploads_in_production(settings, tmp_path):
    storage = DevelopmentFileStorage(location=tmp_path)
    settings.DEBUG = False
    with pytest.raises(ImproperlyConfigured, match="AWS_STORAGE_BUCKET_NAME"):
        storage.save("note.txt", ContentFile(b"lost at the next deploy"))
    assert not any(tmp_path.iterdir())
    settings.DEBUG = True
    with storage.open(storage.save("note.txt", ContentFile(b"kept"))) as saved:
        assert saved.read() == b"kept"
