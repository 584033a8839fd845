"""A request id that ties together every log line of one request.

A trusted front proxy's `X-Request-ID` is kept when it looks like an id; otherwise a
new one is made. The id goes back in the response header, where the access log
finds it.
"""

import re
import uuid
from contextvars import ContextVar

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

HEADER = "X-Request-ID"
_ACCEPTABLE = re.compile(r"[A-Za-z0-9._:-]{8,128}")
_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def current_request_id() -> str | None:
    return _request_id.get()


def _choose_id(request) -> str:
    offered = request.headers.get(HEADER, "")
    return offered if _ACCEPTABLE.fullmatch(offered) else uuid.uuid4().hex


class RequestIdMiddleware:
    """Sync and async capable, so an ASGI request does not hop threads because of it."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self._acall(request)
        request_id = _choose_id(request)
        token = _request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            _request_id.reset(token)
        response[HEADER] = request_id
        return response

    async def _acall(self, request):
        request_id = _choose_id(request)
        token = _request_id.set(request_id)
        try:
            response = await self.get_response(request)
        finally:
            _request_id.reset(token)
        response[HEADER] = request_id
        return response
