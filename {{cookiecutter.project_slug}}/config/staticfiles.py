"""Static files, answered before Django's request cycle under either interface.

whitenoise finds the files and builds each response (compressed variants, far-future
caching of hashed names, ranges, 304s) from the same settings its Django middleware
reads. Wrapping the application instead of sitting in MIDDLEWARE skips the request
object, the request signals and the middleware for every file: several times the
throughput (docs/performance.md in the template). Under ASGI it also keeps the whole
middleware chain asynchronous, since whitenoise's middleware is synchronous only.
https://whitenoise.readthedocs.io/en/stable/base.html
"""

import asyncio

from whitenoise.base import WhiteNoise
from whitenoise.middleware import WhiteNoiseMiddleware
from whitenoise.string_utils import decode_path_info

# Bigger files go out in pieces of this size, each read in a thread so that a large
# file never blocks the event loop; a hashed stylesheet or script is one piece.
CHUNK_SIZE = 64 * 1024
# Pages behind HTTPS already set HSTS; a file still must not be sniffed into a script,
# nor be embedded by another site (config/crossorigin.py sets the same on pages).
HEADERS = [("X-Content-Type-Options", "nosniff"), ("Cross-Origin-Resource-Policy", "same-origin")]


class StaticFiles:
    """What both interfaces share: the files whitenoise knows, found by URL path."""

    def __init__(self, application):
        self.application = application
        self.whitenoise = WhiteNoiseMiddleware()  # configured from Django's settings

    def find(self, path: str):
        if self.whitenoise.autorefresh:  # DEBUG: files may change while serving
            return self.whitenoise.find_file(path)
        return self.whitenoise.files.get(path)


class WSGIStaticFiles(StaticFiles):
    def __call__(self, environ, start_response):
        static_file = self.find(decode_path_info(environ.get("PATH_INFO", "")))
        if static_file is None:
            return self.application(environ, start_response)

        def start_with_headers(status, headers, exc_info=None):
            return start_response(status, headers + HEADERS, exc_info)

        return WhiteNoise.serve(static_file, environ, start_with_headers)


class ASGIStaticFiles(StaticFiles):
    async def __call__(self, scope, receive, send):
        static_file = self.find(scope["path"]) if scope["type"] == "http" else None
        if static_file is None:
            return await self.application(scope, receive, send)
        # whitenoise reads request headers the way WSGI names them.
        request_headers = {
            "HTTP_" + name.decode("latin-1").upper().replace("-", "_"): value.decode("latin-1")
            for name, value in scope["headers"]
        }
        response = static_file.get_response(scope["method"], request_headers)
        headers = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in [*response.headers, *HEADERS]
        ]
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        if response.file is None:  # HEAD, 304, 405
            await send({"type": "http.response.body", "body": b""})
            return
        remaining = int(dict(headers)[b"content-length"])
        loop = asyncio.get_running_loop()
        with response.file as file:
            while True:
                chunk = await loop.run_in_executor(None, file.read, min(CHUNK_SIZE, remaining))
                remaining -= len(chunk)
                more = bool(chunk) and remaining > 0
                await send({"type": "http.response.body", "body": chunk, "more_body": more})
                if not more:
                    return
