"""The web server's variables, read by gunicorn.conf.py (which says why each default).

https://docs.gunicorn.org/en/stable/settings.html
"""

from pydantic import Field

from config.variables import EnvPart


class ServerEnv(EnvPart):
    PORT: int = Field(8000, ge=1, le=65535, description="The port the web server binds.")
    WEB_CONCURRENCY: int = Field(2, ge=1, description="Server processes (gunicorn workers).")
    WEB_THREADS: int = Field(
        4,
        ge=1,
        description="Threads per process serving requests (WSGI interface only); at most "
        "DATABASE_POOL_MAX_SIZE.",
    )
    WEB_TIMEOUT: int = Field(
        30,
        ge=1,
        description="Seconds before a worker whose main loop stops reporting is restarted "
        "(not a limit per request: see README, Timeouts).",
    )
