"""A base for middleware Django can call from sync and async code alike.

Under ASGI, a sync-only middleware makes every request hop to a thread and back
(about 0.1 ms each on a small machine); one that is both stays on the event loop.
"""

from asgiref.sync import iscoroutinefunction, markcoroutinefunction


class SyncAndAsyncMiddleware:
    """Subclasses implement `call(request)` and `acall(request)` (a coroutine)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        # Decided once: asking iscoroutinefunction() at every request cost each
        # middleware a few microseconds (inspect's unwrapping and flag checks).
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self.acall(request)
        return self.call(request)
