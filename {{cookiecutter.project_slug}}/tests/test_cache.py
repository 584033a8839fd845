"""CACHE_URL becomes Django's cache and session settings, in the forms managed Redis and
Valkey services hand out; without it the database is the cache; an unreachable cache is
a miss, never an error."""

import logging
import ssl
import time

import certifi
import pytest
from django.core.cache.backends.db import DatabaseCache
from pydantic import ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from waffle.models import Flag

from config import cacheoutage, flags
from config.cache import cache_settings, check_cache_url, session_engine
from config.cacheoutage import RETRY_AFTER, DegradingClient, DegradingRedisCache
from config.env import Env, describe_problems
from tests.conftest import STRONG_KEY

# What each provider's documentation shows (host names and passwords made up), and the
# TLS options the project hands redis-py for it. Providers that set REDIS_URL are read
# through that name when CACHE_URL is not set.
PROVIDERS = {
    # Self-signed chain: verification is turned off, as Heroku's documentation says.
    "Heroku Key-Value Store (Redis)": (
        "rediss://:p4ssw0rd@ec2-3-210-150-20.compute-1.amazonaws.com:19420?ssl_cert_reqs=none",
        "rediss://:p4ssw0rd@ec2-3-210-150-20.compute-1.amazonaws.com:19420",
        {"ssl_cert_reqs": ssl.CERT_NONE},
    ),
    "Upstash": (
        "rediss://default:AZx1cGFzcw@eu1-smart-cat-32748.upstash.io:6379",
        "rediss://default:AZx1cGFzcw@eu1-smart-cat-32748.upstash.io:6379",
        {},
    ),
    "Fly.io (Upstash for Redis, private network)": (
        "redis://default:p4ssw0rd@fly-shop-cache.upstash.io:6379",
        "redis://default:p4ssw0rd@fly-shop-cache.upstash.io:6379",
        {},
    ),
    "Render Key Value (internal)": (
        "redis://red-cs1f2k3l4m5n6o7p8q9r:6379",
        "redis://red-cs1f2k3l4m5n6o7p8q9r:6379",
        {},
    ),
    "Render Key Value (external)": (
        "rediss://red-cs1f2k3l4m5n6o7p8q9r:p4ssw0rd@oregon-keyvalue.render.com:6379",
        "rediss://red-cs1f2k3l4m5n6o7p8q9r:p4ssw0rd@oregon-keyvalue.render.com:6379",
        {},
    ),
    "AWS ElastiCache (in-transit encryption, AUTH token)": (
        "rediss://:t0ken-0f-16-chars@master.shop-cache.abc123.use1.cache.amazonaws.com:6379",
        "rediss://:t0ken-0f-16-chars@master.shop-cache.abc123.use1.cache.amazonaws.com:6379",
        {},
    ),
    "AWS ElastiCache Serverless (Valkey)": (
        "valkeys://shop-cache-abc123.serverless.use1.cache.amazonaws.com:6379",
        "rediss://shop-cache-abc123.serverless.use1.cache.amazonaws.com:6379",
        {},
    ),
    # The server CA is downloaded from the instance's page and shipped with the app.
    "Google Memorystore (in-transit encryption, server CA)": (
        f"rediss://:4uth-str1ng@10.0.0.3:6378/0?ssl_ca_certs={certifi.where()}",
        "rediss://:4uth-str1ng@10.0.0.3:6378/0",
        {"ssl_ca_certs": certifi.where()},
    ),
    "Railway": (
        "redis://default:p4ssw0rd@redis.railway.internal:6379",
        "redis://default:p4ssw0rd@redis.railway.internal:6379",
        {},
    ),
    "DigitalOcean Managed Caching (Valkey)": (
        "rediss://default:p4ssw0rd@db-valkey-nyc3-12345-do-user-67890-0.k.db.ondigitalocean.com:25061",
        "rediss://default:p4ssw0rd@db-valkey-nyc3-12345-do-user-67890-0.k.db.ondigitalocean.com:25061",
        {},
    ),
}
# Nothing listens on port 1 of the loopback address: every connection is refused.
NOBODY = "redis://127.0.0.1:1/0"


def environment(monkeypatch, **environ: str):
    """The settings' inputs from these variables, as a process would read them."""
    for name in ("CACHE_URL", "REDIS_URL", "CACHE_SSL_CERT_REQS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    return Env(
        _env_file=None,
        DATABASE_URL="sqlite:///db",
        DEBUG="1",
        DJANGO_SECRET_KEY=STRONG_KEY,
    )


def env_problems(monkeypatch, **environ: str) -> str:
    with pytest.raises(ValidationError) as error:
        environment(monkeypatch, **environ)
    return describe_problems(error.value)


@pytest.fixture(autouse=True)
def no_outage_yet(monkeypatch):
    """Outages are per process; each test starts with none."""
    monkeypatch.setattr(cacheoutage, "_outages", {})


@pytest.mark.parametrize(("url", "location", "tls"), PROVIDERS.values(), ids=PROVIDERS)
def test_each_providers_url_reaches_redis_py_as_its_options(url, location, tls):
    check_cache_url(url)
    (default,) = cache_settings(url).values()
    assert default["BACKEND"] == "config.cacheoutage.DegradingRedisCache"
    assert default["LOCATION"] == location
    assert default["OPTIONS"] == {"socket_connect_timeout": 2, "socket_timeout": 2} | tls
    # What the connection pool builds its connections from: the URL's keywords and ours.
    client = DegradingClient([default["LOCATION"]], **default["OPTIONS"])
    connection = client._get_connection_pool(write=True).make_connection()
    if location.startswith("rediss://"):
        assert connection.cert_reqs == tls.get("ssl_cert_reqs", ssl.CERT_REQUIRED)
        assert connection.ca_certs == tls.get("ssl_ca_certs")
    else:
        assert not hasattr(connection, "cert_reqs")
    assert connection.socket_timeout == 2


def test_a_platforms_redis_url_is_the_cache_unless_cache_url_says_otherwise(monkeypatch):
    heroku = PROVIDERS["Heroku Key-Value Store (Redis)"][1]
    env = environment(monkeypatch, REDIS_URL=heroku)
    assert env.CACHE_URL.get_secret_value() == heroku
    env = environment(monkeypatch, REDIS_URL=heroku, CACHE_URL=heroku)
    assert env.CACHE_URL.get_secret_value() == heroku
    message = env_problems(monkeypatch, REDIS_URL=heroku, CACHE_URL="redis://cache:6379/0")
    assert "CACHE_URL and REDIS_URL are both set, to different values" in message
    assert "p4ssw0rd" not in message


def test_herokus_rotating_redis_url_is_used_unverified_by_a_variable_of_our_own(monkeypatch):
    heroku = PROVIDERS["Heroku Key-Value Store (Redis)"][1]
    env = environment(monkeypatch, REDIS_URL=heroku, CACHE_SSL_CERT_REQS="none")
    options = cache_settings(env.CACHE_URL.get_secret_value(), env.CACHE_SSL_CERT_REQS)
    assert options["default"]["OPTIONS"]["ssl_cert_reqs"] == ssl.CERT_NONE


@pytest.mark.parametrize(
    ("environ", "reason"),
    [
        (
            {"CACHE_URL": "rediss://c:6380?ssl_cert_reqs=required", "CACHE_SSL_CERT_REQS": "none"},
            "CACHE_SSL_CERT_REQS: and CACHE_URL's ssl_cert_reqs are both set",
        ),
        (
            {"CACHE_URL": "redis://c:6379", "CACHE_SSL_CERT_REQS": "none"},
            "CACHE_SSL_CERT_REQS: is set, but the cache URL is not TLS",
        ),
        ({"CACHE_SSL_CERT_REQS": "off"}, "CACHE_SSL_CERT_REQS: "),
        ({"REDIS_URL": "rediss://c:6380?ssl_cert_reqs=off"}, "CACHE_URL: ssl_cert_reqs must be"),
    ],
)
def test_contradictory_or_unknown_tls_settings_are_refused(monkeypatch, environ, reason):
    assert reason in env_problems(monkeypatch, **environ)


def test_a_valkey_url_is_read_as_redis():
    (default,) = cache_settings("valkey://cache.internal:6379/2").values()
    assert default["LOCATION"] == "redis://cache.internal:6379/2"


def test_without_a_cache_url_the_database_is_the_cache_and_holds_the_sessions():
    (default,) = cache_settings("").values()
    assert default["BACKEND"] == "django.core.cache.backends.db.DatabaseCache"
    assert session_engine("").endswith(".db")
    assert session_engine("redis://cache:6379/0").endswith("cached_db")


@pytest.mark.django_db
def test_migrate_makes_the_database_cache_table():
    database = DatabaseCache(cache_settings("")["default"]["LOCATION"], {})
    database.set("greeting", "shared by every process", 60)
    assert database.get("greeting") == "shared by every process"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("redis//x", "must start with one of redis, rediss, valkey, valkeys://"),
        ("memcached://cache:11211", "must start with one of"),
        ("redis://:pw@/0", "must name a host"),
        ("redis://cache:port/0", "has a port that is not a number"),
        ("redis://cache:6379/sessions", "may end only in a database number"),
        ("rediss://cache:6380?ssl_cert_reqs=None", "ssl_cert_reqs must be one of none, optional"),
        ("rediss://cache:6380?ssl_cert_reqs=", "ssl_cert_reqs must be one of"),
        ("rediss://cache:6380?ssl_ca_certs=/nowhere/ca.pem", "ssl_ca_certs must name a readable"),
        ("rediss://cache:6380?ssl_ca_certs=/etc/hostname", "ssl_ca_certs must name a readable"),
        ("rediss://cache:6380?ssl_check_hostname=no", "ssl_check_hostname must be true or false"),
        ("rediss://cache:6380?ssl_certreqs=none", "has a parameter other than .*: ssl_certreqs"),
        ("rediss://cache:6380?socket_timeout=60", "has a parameter other than"),
        ("redis://cache:6379?ssl_cert_reqs=none", "but is not TLS: use rediss://"),
    ],
)
def test_unusable_cache_urls_are_explained(url, reason):
    with pytest.raises(ValueError, match=reason):
        check_cache_url(url)


def test_an_unreachable_cache_is_a_miss_with_one_warning_and_no_wait(caplog):
    client = DegradingClient([NOBODY])
    with caplog.at_level(logging.WARNING, logger="config.cacheoutage"):
        started = time.monotonic()
        assert client.get("page", default="computed") == "computed"
        client.set("page", "value", 60)
        assert client.add("lock", 1, 60) is False
        assert client.get_many(["a", "b"]) == {}
        assert client.has_key("page") is False
        assert client.delete("page") is False
        client.set_many({"a": 1}, 60)
        client.delete_many(["a"])
        with pytest.raises(ValueError, match="not found"):
            client.incr("hits", 1)
        elapsed = time.monotonic() - started
    (warning,) = caplog.records
    assert warning.levelname == "WARNING"
    assert "127.0.0.1:1 is unreachable" in warning.getMessage()
    assert f"every {RETRY_AFTER} s" in warning.getMessage()
    # One refused connection, then every operation of the pause skips the cache.
    assert elapsed < RETRY_AFTER


def test_a_status_page_sees_the_outage_the_pages_do_not():
    unreachable = DegradingRedisCache(NOBODY, {})
    assert unreachable.get("page", "computed") == "computed"
    with pytest.raises(RedisConnectionError):
        unreachable.ping()


def test_every_thread_and_cache_instance_of_a_process_shares_one_outage():
    first, second = DegradingClient([NOBODY]), DegradingClient([NOBODY])
    first.get("page", None)
    assert second.outage is first.outage
    assert second.outage.skip()


@pytest.mark.django_db
def test_feature_flags_read_as_off_when_the_cache_is_down(rf, settings, caplog):
    Flag.objects.create(name="dark_feature", everyone=True)
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            # Nothing listens on port 1: each connection is refused at once.
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    assert flags.is_active(rf.get("/notes/"), "dark_feature") is False
    assert "Flag dark_feature read as off: the cache is unreachable" in caplog.text
