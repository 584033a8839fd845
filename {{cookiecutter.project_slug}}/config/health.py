"""Probes for the platform: `/healthz` (alive) and `/readyz` (can serve traffic).

They answer before host validation and the HTTPS redirect, because orchestrators
probe a container by its IP address over plain HTTP.
"""

import json
import logging
import math
import time

import psycopg
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connections
from django.http import HttpResponse

from config.middleware import SyncAndAsyncMiddleware

logger = logging.getLogger(__name__)

# A readiness probe that waits longer than the orchestrator's probe timeout (1 s by
# default on Kubernetes, a few seconds elsewhere) tells it nothing.
DATABASE_CHECK_TIMEOUT = 2.0


def database_ready(alias: str = "default", timeout: float = DATABASE_CHECK_TIMEOUT) -> bool:
    """Whether the database answers a trivial query within `timeout` seconds.

    Postgres is asked over a connection of the probe's own, outside the request pool:
    when slow requests hold every pooled connection, the database is still fine and
    the probe must say so in time, or every instance goes unready at once.
    """
    connection = connections[alias]
    started = time.monotonic()
    try:
        if connection.vendor == "postgresql":
            params = connection.get_connection_params() | {
                "connect_timeout": max(2, math.ceil(timeout)),  # libpq's minimum is 2 s
                "autocommit": True,
            }
            with psycopg.connect(**params) as raw:
                raw.execute("SELECT 1")
        else:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
    except Exception as error:
        logger.warning(
            "readiness check failed: database unreachable (%s) after %.2f s",
            type(error).__name__,
            time.monotonic() - started,
        )
        return False
    return True


def _json(status: int, body: dict) -> HttpResponse:
    response = HttpResponse(json.dumps(body), status=status, content_type="application/json")
    response["Cache-Control"] = "no-store"
    return response


def healthz() -> HttpResponse:
    return _json(200, {"status": "ok", "release": settings.GIT_REVISION})


def readyz(ready: bool) -> HttpResponse:
    if ready:
        return _json(200, {"status": "ready", "database": "ok"})
    return _json(503, {"status": "unavailable", "database": "unreachable"})


class HealthCheckMiddleware(SyncAndAsyncMiddleware):
    """Answers the two probe paths itself; every other request passes through."""

    def call(self, request):
        if request.path_info == "/healthz":
            return healthz()
        if request.path_info == "/readyz":
            return readyz(database_ready())
        return self.get_response(request)

    async def acall(self, request):
        if request.path_info == "/healthz":
            return healthz()
        if request.path_info == "/readyz":
            return readyz(await sync_to_async(database_ready, thread_sensitive=False)())
        return await self.get_response(request)
