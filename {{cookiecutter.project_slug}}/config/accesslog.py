"""The access log: one structured line per request, none for health probes, with the
client's address as the proxies it trusts report it (FORWARDED_ALLOW_IPS). Gunicorn
writes it under WSGI (AccessLogger), uvicorn under ASGI (SkipProbes drops its probe
lines); config/logs.py formats both.
https://docs.gunicorn.org/en/stable/settings.html#logger-class
"""

import functools
import ipaddress
import logging

from gunicorn.glogging import Logger as GunicornLogger

from config.requestid import HEADER

# Platforms probe these every few seconds: 17,000 access lines a day per Kubernetes pod,
# and a fifth of the CPU a probe costs.
PROBE_PATHS = frozenset({"/healthz", "/readyz"})
REQUEST_ID_HEADER = HEADER.lower()  # as gunicorn's response headers are compared


class SkipProbes(logging.Filter):
    """Drops uvicorn's access lines for health probes."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        return not (isinstance(args, tuple) and len(args) == 5 and args[2] in PROBE_PATHS)


@functools.cache
def _trusted_networks(allowed: tuple[str, ...]) -> tuple | None:
    """FORWARDED_ALLOW_IPS (addresses or networks) parsed once, not at every access
    line; None when it is '*' and every peer is trusted."""
    if "*" in allowed:
        return None
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in allowed)


def _trusted(address: str, allowed: tuple[str, ...]) -> bool:
    """Whether `address` is in FORWARDED_ALLOW_IPS."""
    networks = _trusted_networks(allowed)
    if networks is None:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(environ: dict, allowed: tuple[str, ...]) -> str | None:
    """The client's address as uvicorn finds it for the ASGI interface: the peer's, or,
    when the peer is a trusted proxy, the nearest untrusted hop in its X-Forwarded-For.
    A header from anyone else is a claim, not an address."""
    peer = environ.get("REMOTE_ADDR")
    forwarded = environ.get("HTTP_X_FORWARDED_FOR")
    if not forwarded or peer is None or not _trusted(peer, allowed):
        return peer
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    untrusted = (hop for hop in reversed(hops) if not _trusted(hop, allowed))
    return next(untrusted, hops[0] if hops else peer)


class AccessLogger(GunicornLogger):
    """Gunicorn's logger with a leaner access log (the WSGI interface).

    Gunicorn formats every request header and environment variable for its access
    line; this logs the fields an operator queries, as structured data, and no line
    for health probes.
    """

    def setup(self, cfg):
        super().setup(cfg)
        # Read once: gunicorn's settings object looks each attribute up by name.
        self.trusted_proxies = tuple(cfg.forwarded_allow_ips)

    def access(self, resp, req, environ, request_time):
        path = environ.get("PATH_INFO", "")
        if path in PROBE_PATHS:
            return
        method, status = environ.get("REQUEST_METHOD"), resp.status_code
        request_id = next((v for k, v in resp.headers if k.lower() == REQUEST_ID_HEADER), None)
        self.access_log.info(
            "%s %s %s",
            method,
            path,
            status,
            extra={
                "method": method,
                "path": path,
                "status": status,
                "duration_ms": round(request_time.total_seconds() * 1000, 3),
                "bytes": resp.sent,
                "remote_addr": client_address(environ, self.trusted_proxies),
                "user_agent": environ.get("HTTP_USER_AGENT"),
                "request_id": request_id,
            },
        )
