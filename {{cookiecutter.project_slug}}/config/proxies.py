"""Make an untrusted proxy impossible to miss.

Gunicorn believes `X-Forwarded-Proto` only from the addresses in FORWARDED_ALLOW_IPS.
Behind a proxy it does not trust, every request looks like plain HTTP, and the HTTPS
redirect sends the browser round in a loop that shows nothing in the log. This says so,
once per process, with the address to trust.
https://docs.gunicorn.org/en/stable/settings.html#forwarded-allow-ips
"""

import logging
import threading

from config.middleware import SyncAndAsyncMiddleware

logger = logging.getLogger(__name__)


class UntrustedProxyWarningMiddleware(SyncAndAsyncMiddleware):
    """Logs one WARNING for the first request whose `X-Forwarded-Proto: https` the
    server ignored, naming the peer's address."""

    warned = threading.Event()

    def check(self, request) -> None:
        if self.warned.is_set():
            return
        claimed = request.META.get("HTTP_X_FORWARDED_PROTO", "").split(",")[0].strip().lower()
        if claimed == "https" and not request.is_secure():
            self.warned.set()
            address = request.META.get("REMOTE_ADDR")
            logger.warning(
                "X-Forwarded-Proto: https from %s was ignored because that address is not "
                "trusted, so HTTPS requests look like plain HTTP (and SECURE_SSL_REDIRECT "
                "redirects them forever). If %s is your proxy, set FORWARDED_ALLOW_IPS=%s "
                "(or '*' when only the proxy can reach this app).",
                address,
                address,
                address,
                extra={"remote_addr": address},
            )

    def call(self, request):
        self.check(request)
        return self.get_response(request)

    async def acall(self, request):
        self.check(request)
        return await self.get_response(request)
