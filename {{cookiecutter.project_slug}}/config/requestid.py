"""A request id that ties together every log line of one request.

A trusted front proxy's `X-Request-ID` is kept when it looks like an id; otherwise a
new one is made. The id goes back in the response header, where the access log
finds it.
"""

import os
import re
from contextvars import ContextVar

from config.middleware import SyncAndAsyncMiddleware

HEADER = "X-Request-ID"
META_KEY = "HTTP_" + HEADER.upper().replace("-", "_")  # where WSGI and ASGI put it
_ACCEPTABLE = re.compile(r"[A-Za-z0-9._:-]{8,128}")
_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def current_request_id() -> str | None:
    return _request_id.get()


def _choose_id(request) -> str:
    # From META, not request.headers, which would build a dict of every header for one;
    # a new id is 128 random bits in hex, what uuid4().hex spells with more steps.
    # Together, 1.5 % of a page's instructions (docs/performance.md in the template).
    offered = request.META.get(META_KEY, "")
    return offered if _ACCEPTABLE.fullmatch(offered) else os.urandom(16).hex()


class RequestIdMiddleware(SyncAndAsyncMiddleware):
    """Sets the id for the request's log lines and returns it in a response header."""

    def call(self, request):
        request_id = _choose_id(request)
        token = _request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            _request_id.reset(token)
        response[HEADER] = request_id
        return response

    async def acall(self, request):
        request_id = _choose_id(request)
        token = _request_id.set(request_id)
        try:
            response = await self.get_response(request)
        finally:
            _request_id.reset(token)
        response[HEADER] = request_id
        return response
