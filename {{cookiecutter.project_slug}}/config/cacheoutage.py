"""The Redis cache of config/cache.py, degrading: an unreachable server is a miss, said
once per outage, never an error.

Each process keeps one account of each server's outage: a pause during which every
operation skips the cache, then one that tries again, and the keys written meanwhile,
deleted when the server answers (it may still hold their old values).
"""

import logging
import threading
import time
from urllib.parse import urlsplit

from django.core.cache.backends.redis import RedisCache, RedisCacheClient

logger = logging.getLogger(__name__)

# After the cache fails to answer, requests go on without it for this long before one of
# them tries again: an unreachable host then costs one timeout per pause and process, not
# one per request, and a restarted Redis (a few seconds) is back in use within it.
RETRY_AFTER = 5
# Keys written while the cache was away are deleted when it answers again (it may still
# hold their old values); past this many, the rest are left to expire.
MISSED_WRITES_KEPT = 10_000


class Outage:
    """Whether this process's cache at one location is away, shared by its threads.

    The first failure logs one WARNING and starts a pause during which every operation
    is a miss; after it, one operation tries again. The first success ends the outage
    (one more line), after deleting the keys whose writes were skipped meanwhile."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.since: float | None = None
        self._retry_at = 0.0
        self._missed: set[str] = set()
        self._lock = threading.Lock()

    def skip(self) -> bool:
        """True while paused; after the pause, False for one caller, which tries."""
        if self.since is None:
            return False
        with self._lock:
            now = time.monotonic()
            if self.since is None or now >= self._retry_at:
                self._retry_at = now + RETRY_AFTER
                return False
            return True

    def failed(self, error: Exception, written: tuple[str, ...]) -> None:
        with self._lock:
            self._retry_at = time.monotonic() + RETRY_AFTER
            self._remember(written)
            if self.since is not None:
                return
            self.since = time.monotonic()
        # redis-py's message names the host and port, never the password.
        logger.warning(
            "The cache at %s is unreachable (%s): serving without it, trying again every %s s",
            self.where,
            error,
            RETRY_AFTER,
        )

    def skipped(self, written: tuple[str, ...]) -> None:
        with self._lock:
            self._remember(written)

    def answered(self, forget) -> None:
        """The first answer after an outage: `forget(keys)` deletes the skipped writes."""
        with self._lock:
            if self.since is None:
                return
            down, self.since = time.monotonic() - self.since, None
            missed, self._missed = self._missed, set()
        if missed and not forget(list(missed)):
            return
        logger.warning(
            "The cache at %s answers again after %.1f s; %d values written meanwhile forgotten",
            self.where,
            down,
            len(missed),
        )

    def _remember(self, written: tuple[str, ...]) -> None:
        room = MISSED_WRITES_KEPT - len(self._missed)
        self._missed.update(written[:room])


_outages: dict[str, Outage] = {}
_outages_lock = threading.Lock()


def outage_of(where: str) -> Outage:
    """The one Outage per location in this process (Django makes a cache per thread)."""
    with _outages_lock:
        return _outages.setdefault(where, Outage(where))


class DegradingClient(RedisCacheClient):
    """Django's Redis client, but an unreachable server is a miss: reads return the
    default, writes are skipped, so a cache outage slows pages down, never fails them."""

    def __init__(self, servers, **options) -> None:
        super().__init__(servers, **options)
        # Django's client imports redis when a cache is first used; so does this one
        # (an import of a second or so without bytecode, which no other process pays).
        redis = self._lib  # type: ignore[attr-defined]  # Django's, not in django-stubs
        self._unreachable = (redis.ConnectionError, redis.TimeoutError)
        parts = urlsplit(servers[0])
        self.outage = outage_of(f"{parts.hostname}:{parts.port or 6379}")

    def _try(self, operation, *args, miss=None, written: tuple[str, ...] = ()):
        if self.outage.skip():
            self.outage.skipped(written)
            return miss
        try:
            result = operation(*args)
        except self._unreachable as error:
            self.outage.failed(error, written)
            return miss
        if self.outage.since is not None:  # the first answer after an outage
            self.outage.answered(self._forget)
        return result

    def _forget(self, keys: list[str]) -> bool:
        """Delete what may be stale; False if the cache is gone again."""
        try:
            RedisCacheClient.delete_many(self, keys)
        except self._unreachable as error:
            self.outage.failed(error, tuple(keys))
            return False
        return True

    def get(self, key, default):
        return self._try(super().get, key, default, miss=default)

    def get_many(self, keys):
        return self._try(super().get_many, keys, miss={})

    def has_key(self, key):
        return self._try(super().has_key, key, miss=False)

    def add(self, key, value, timeout):
        return self._try(super().add, key, value, timeout, miss=False)

    def set(self, key, value, timeout):
        self._try(super().set, key, value, timeout, written=(key,))

    def set_many(self, data, timeout):
        self._try(super().set_many, data, timeout, written=tuple(data))

    def touch(self, key, timeout):
        return self._try(super().touch, key, timeout, miss=False)

    def delete(self, key):
        return self._try(super().delete, key, miss=False, written=(key,))

    def delete_many(self, keys):
        self._try(super().delete_many, keys, written=tuple(keys))

    def incr(self, key, delta):
        missing = object()
        result = self._try(super().incr, key, delta, miss=missing, written=(key,))
        if result is missing:
            # What incr() of an evicted key does, which its callers already handle.
            raise ValueError(f"Key '{key}' not found.")
        return result

    def clear(self):
        return self._try(super().clear, miss=False)


class DegradingRedisCache(RedisCache):
    """Django's RedisCache with DegradingClient."""

    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = DegradingClient

    def ping(self) -> bool:
        """Whether the server answers now (raising if not), outage or not: for status
        pages, to which every operation of an unreachable cache would look like a miss."""
        return bool(self._cache.get_client().ping())
