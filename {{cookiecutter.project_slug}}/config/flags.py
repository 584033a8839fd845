"""Feature flags: django-waffle's, edited in the admin, read through the cache.

Code ships dark behind a flag (`flags.is_active(request, "name")` in a view, off until
someone turns it on in the admin under "Waffle > Flags"), and is turned on for
everyone, for staff, for some users or groups, or for a percentage of visitors, with
no deploy. Every process reads the same flags: rows in the database, cached in the
shared cache and forgotten there when one is saved.
https://waffle.readthedocs.io/en/stable/types/flag.html
"""

import logging
import sys

import waffle
from waffle.middleware import WaffleMiddleware

from config.middleware import SyncAndAsyncMiddleware

logger = logging.getLogger(__name__)
# Waffle's middleware does its work in process_response alone.
_waffle_cookies = WaffleMiddleware(lambda request: None)  # type: ignore[arg-type]  # never called


def is_active(request, name: str) -> bool:
    """Whether flag `name` is on for this request; off when the flag does not exist, or
    when the cache cannot be reached (code shipped dark stays dark in an outage)."""
    try:
        return bool(waffle.flag_is_active(request, name))
    except cache_errors() as error:
        logger.warning(
            "Flag %s read as off: the cache is unreachable (%s)",
            name,
            type(error).__name__,
            extra={"flag": name},
        )
        return False


def cache_errors() -> tuple[type[Exception], ...]:
    """Redis' errors when Redis is the cache; nothing otherwise. Importing redis only
    when the cache already has: redis-py 8 imports OpenTelemetry's SDK wherever it is
    installed, which must cost nothing while tracing is off."""
    if "redis" not in sys.modules:
        return ()
    from redis.exceptions import RedisError

    return (RedisError,)


class FlagCookieMiddleware(SyncAndAsyncMiddleware):
    """Waffle's middleware, which keeps a visitor in or out of a percentage rollout
    with a cookie, called only for the responses that evaluated a flag: waffle's own
    class would send every request of the ASGI interface through a thread."""

    def call(self, request):
        return self.remember(request, self.get_response(request))

    async def acall(self, request):
        return self.remember(request, await self.get_response(request))

    @staticmethod
    def remember(request, response):
        if hasattr(request, "waffles") or hasattr(request, "waffle_tests"):
            return _waffle_cookies.process_response(request, response)
        return response
