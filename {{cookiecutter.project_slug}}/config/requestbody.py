"""Request bodies bounded before anything stores them, under either web interface.

Django checks sizes only after a body has been stored: under ASGI its handler writes
the whole body to a temporary file before the first middleware runs, and a multipart
form's files go to temporary files before a view can look at them. A client could make
a web process write 100 MB to /tmp (on Kubernetes a small emptyDir, in a container with
--tmpfs its memory) for a form that takes 5 MB. These wrappers sit in front of Django:
a body whose Content-Length is over WEB_MAX_BODY_BYTES is refused with 413 before a byte
of it is read, and a chunked body (no length given) is cut off at the limit.

Below the limit Django's own limits still apply: DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB)
for the fields of a form that are not files (400 beyond), and FILE_UPLOAD_MAX_MEMORY_SIZE
(2.5 MB), the size above which an uploaded file is kept in a temporary file rather than
in memory. So a process holds at most WEB_MAX_BODY_BYTES of one request on disk.
https://docs.djangoproject.com/en/6.1/ref/settings/#data-upload-max-memory-size
https://docs.djangoproject.com/en/6.1/ref/settings/#file-upload-max-memory-size
"""

import tempfile

from django.conf import settings

STATUS = "413 Content Too Large"
# Pieces a chunked body is read in under WSGI, so the limit is exceeded by at most this.
READ_SIZE = 64 * 1024


def refusal_body(limit: int) -> bytes:
    return f"Request body over {limit} bytes.\n".encode()


def declared_length(value: str | bytes | None) -> int | None:
    """Content-Length as a number; None when absent. A malformed one is the server's to
    refuse (both gunicorn and uvicorn answer 400 before the application is called)."""
    try:
        return int(value) if value else None
    except ValueError:
        return None


class WSGIBodyLimit:
    """Refuses a body over the limit; reads a chunked body, at most up to the limit, and
    hands it to Django with its length (Django reads no body without a Content-Length)."""

    def __init__(self, application, limit: int):
        self.application = application
        self.limit = limit

    def __call__(self, environ, start_response):
        length = declared_length(environ.get("CONTENT_LENGTH"))
        if length is not None and length > self.limit:
            return self.refuse(start_response)
        if length is None and "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            body = self.read_chunked(environ["wsgi.input"])
            if body is None:
                return self.refuse(start_response)
            environ["CONTENT_LENGTH"] = str(body.tell())
            body.seek(0)
            environ["wsgi.input"] = body
        return self.application(environ, start_response)

    def read_chunked(self, stream):
        """The body in a file kept in memory up to Django's in-memory size for uploads,
        or None once it passes the limit."""
        # It outlives this call as the request's wsgi.input; freed with the request.
        body = tempfile.SpooledTemporaryFile(  # noqa: SIM115
            max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE
        )
        while piece := stream.read(READ_SIZE):
            if body.tell() + len(piece) > self.limit:
                body.close()
                return None
            body.write(piece)
        return body

    def refuse(self, start_response):
        body = refusal_body(self.limit)
        headers = [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
        ]
        start_response(STATUS, headers)
        return [body]


class ASGIBodyLimit:
    """Refuses a body over the limit, from its Content-Length or, for a chunked body,
    as soon as the pieces received pass it: the application is then told the client
    disconnected, and Django stops reading without a response of its own. Only a chunked
    body is counted; every other request goes through untouched."""

    def __init__(self, application, limit: int):
        self.application = application
        self.limit = limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.application(scope, receive, send)
        headers = dict(scope["headers"])
        length = declared_length(headers.get(b"content-length"))
        if length is not None and length > self.limit:
            return await self.refuse(send)
        if length is not None or b"chunked" not in headers.get(b"transfer-encoding", b"").lower():
            # The server stops at the declared length, or there is no body at all.
            return await self.application(scope, receive, send)
        received = 0
        refused = False

        async def bounded_receive():
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    refused = True
                    await self.refuse(send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message):
            if not refused:
                await send(message)

        await self.application(scope, bounded_receive, guarded_send)

    async def refuse(self, send):
        body = refusal_body(self.limit)
        headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            # The rest of the body is never read: the connection cannot carry another
            # request.
            (b"connection", b"close"),
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
