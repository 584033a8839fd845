"""The cache as managed services run it: Redis over TLS with a self-signed chain, in each
form providers hand out, then that Redis hanging, dying and coming back empty while the
site is under load. Signed-in pages are served through all of it, and an outage is one
WARNING, not a 500 per page."""

import statistics
import time

import pytest

from backing import RedisServer
from bakery import collect_static
from faults import Load, Outcome, read_notes, send
from server import serve
from visitor import Visitor, create_user

pytestmark = pytest.mark.boot
PASSWORD = "a cached passphrase 1357"
# config/cache.py: the socket timeout; config/cacheoutage.py: the pause before a failed
# cache is tried again.
SOCKET_TIMEOUT, RETRY_AFTER = 2, 5
UNREACHABLE, BACK = "is unreachable", "answers again"
# Processes of the served project: each has its own view of an outage, and says so once.
PROCESSES = 2


def sign_in(visitor: Visitor, server, name: str) -> None:
    signed = visitor.submit(server, "/accounts/login/", {"username": name, "password": PASSWORD})
    assert signed.status == 302, signed.text[:300]
    assert f"Signed in as {name}" in visitor.get(server, "/").text


def session_keys(cache) -> int:
    return sum(1 for _ in cache.scan_iter("*cached_db*"))


@pytest.fixture(scope="module")
def tls_cache(tmp_path_factory, project, migrated):
    """A Redis over TLS with a self-signed chain, and the project served in each form a
    provider hands out: (cache, {form: server}). The verified form runs the default two
    processes; the others one each."""
    collect_static(project)
    one_process = migrated | {"WEB_CONCURRENCY": "1"}
    with RedisServer(str(tmp_path_factory.mktemp("tls-cache")), tls=True) as cache:
        forms = {
            # Heroku's: the platform sets REDIS_URL (and rotates it); the chain is not checked.
            "unverified": one_process | {"REDIS_URL": cache.url(), "CACHE_SSL_CERT_REQS": "none"},
            # Memorystore's: checked against the CA file the provider hands out.
            "verified": migrated | {"CACHE_URL": cache.url(f"?ssl_ca_certs={cache.certificate}")},
            # Neither: checked against the system's CAs, which do not know this one.
            "unknown CA": one_process | {"CACHE_URL": cache.url()},
        }
        with (
            serve(project, forms["unverified"]) as unverified,
            serve(project, forms["verified"]) as verified,
            serve(project, forms["unknown CA"]) as unknown,
        ):
            servers = {"unverified": unverified, "verified": verified, "unknown CA": unknown}
            for server in servers.values():
                server.wait_until_serving()
            yield cache, servers


# One interface, one boot for both tests (the outage, which restarts the cache, last): the
# client is the same synchronous redis-py code under both, and the outage's timing needs
# the machine more than any other test (WSGI: the sync path every request takes).
@pytest.mark.parametrize("project", ["wsgi"], indirect=True)
def test_signed_in_pages_over_tls_to_a_redis_with_a_self_signed_chain(project, migrated, tls_cache):
    cache, servers = tls_cache
    name, _ = create_user(project, migrated, PASSWORD)
    client = cache.client()
    before = session_keys(client)
    for count, form in enumerate(("unverified", "verified"), start=1):
        sign_in(Visitor(), servers[form], name)
        assert session_keys(client) == before + count, "the session is not in the TLS cache"
        assert servers[form].count(UNREACHABLE) == 0, servers[form].log

    # Refused by verification: served from the database, and said once.
    unknown = servers["unknown CA"]
    visitor = Visitor()
    sign_in(visitor, unknown, name)
    assert visitor.get(unknown, "/notes/").status == 200
    assert session_keys(client) == before + 2
    assert unknown.count(UNREACHABLE) == 1, unknown.log
    assert unknown.count("CERTIFICATE_VERIFY_FAILED") == 1, unknown.log
    for server in servers.values():
        assert server.errors == [], server.errors


def signed_in_page(port: int, cookies: str, name: str) -> Outcome:
    """The home page of a signed-in visitor: a session read on every request."""
    outcome = send(port, "GET", "/", action="signed-in", headers={"Cookie": cookies})
    if outcome.status == 200 and f"Signed in as {name}".encode() not in outcome.body:
        outcome.status, outcome.error = 299, "signed out"
    return outcome


def wait_for_line(server, text: str, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if server.count(text):
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"no {text!r} line within {timeout} s\n" + server.log[-3000:])


def latency(outcomes: list[Outcome]) -> str:
    seconds = sorted(o.ended - o.started for o in outcomes)
    if not seconds:
        return "no requests"
    slow = sum(s >= SOCKET_TIMEOUT * 0.9 for s in seconds)
    return (
        f"{len(seconds)} requests, median {statistics.median(seconds) * 1000:.0f} ms, "
        f"max {seconds[-1] * 1000:.0f} ms, {slow} at the {SOCKET_TIMEOUT} s timeout"
    )


@pytest.mark.parametrize("project", ["wsgi"], indirect=True)
def test_a_cache_outage_costs_misses_never_a_500_or_a_sign_out(project, migrated, tls_cache):
    cache, servers = tls_cache
    server = servers["verified"]
    name, _ = create_user(project, migrated, PASSWORD)
    before = Visitor()
    sign_in(before, server, name)
    cookies = "; ".join(f"{k}={v}" for k, v in before.cookies.items())
    plan = {
        "read": (1, lambda: read_notes(server.port)),
        "signed-in": (2, lambda: signed_in_page(server.port, cookies, name)),
    }
    with Load(plan, max_requests=4000, max_seconds=40) as load:
        time.sleep(1)
        # A host that takes connections and never answers: the costliest outage.
        frozen = time.monotonic()
        cache.freeze()
        wait_for_line(server, UNREACHABLE, timeout=SOCKET_TIMEOUT + 8)
        during = Visitor()
        sign_in(during, server, name)
        # Then it dies and a new, empty one takes its place.
        cache.kill()
        restarted = time.monotonic()
        cache.start()
        recovered_after = wait_for_line(server, BACK, timeout=RETRY_AFTER + 8)
        time.sleep(0.5)
    after = [o for o in load.outcomes if o.started > restarted + recovered_after]
    assert f"Signed in as {name}" in during.get(server, "/").text
    assert session_keys(cache.client()) >= 1, "sessions are not cached again"

    outage = [o for o in load.outcomes if frozen <= o.started < restarted]
    statuses = {o.status for o in load.outcomes}
    print(
        f"\n[{project.interface}] cache outage: {load.summary()}; recovered "
        f"{recovered_after:.1f} s after the restart; "
        f"{server.count(UNREACHABLE)} WARNING lines; during: {latency(outage)}; "
        f"after: {latency(after)}"
    )
    assert statuses == {200}, load.summary()
    assert 1 <= server.count(UNREACHABLE) <= PROCESSES, server.log
    assert server.count(BACK) <= PROCESSES * 2, server.log
    # Each process waits out one timeout per pause, not one per request.
    pauses = (restarted - frozen) / RETRY_AFTER + 1
    waits = sum(o.ended - o.started >= SOCKET_TIMEOUT * 0.9 for o in outage)
    in_flight = sum(threads for threads, _ in plan.values())
    assert waits <= PROCESSES * pauses * in_flight, latency(outage)
    # On a loaded machine few requests fit in the outage; at least one went through
    # without waiting (the pause), which a cache that tried Redis every time never does.
    assert len(outage) > waits, latency(outage)
    assert server.errors == [], server.errors
