"""What the served project answers outside Django's request cycle, and how it runs views.

Static files are answered before Django under both interfaces (config/staticfiles.py);
under ASGI, requests run their synchronous code on threads kept for reuse (config/asgi.py).
"""

import json
import shutil

import pytest

from bakery import Project, collect_static
from server import serve

pytestmark = pytest.mark.boot

# A sync view naming the thread it runs on: a new thread per request has a new name.
THREAD_VIEW = """

# Added by the template's tests (tests/test_fast_paths.py).
import threading as _threading

from django.http import HttpResponse as _HttpResponse


def _thread(request):
    return _HttpResponse(_threading.current_thread().name)


urlpatterns += [path("test-thread/", _thread)]
"""
# Bigger than one 64 KiB piece of the ASGI static path, so it goes out in several.
LARGE_FILE = "admin/js/vendor/jquery/jquery.js"


@pytest.fixture(scope="module")
def served(project, migrated, tmp_path_factory):
    collect_static(project)
    path = tmp_path_factory.mktemp(f"fast-paths-{project.interface}") / "project"
    shutil.copytree(project.path, path, ignore=shutil.ignore_patterns(".venv"))
    (path / ".venv").symlink_to(project.path / ".venv")
    with (path / "config" / "urls.py").open("a") as urls:
        urls.write(THREAD_VIEW)
    copy = Project(path=path, interface=project.interface)
    with serve(copy, migrated) as server:
        server.wait_until_serving()
        server.project = copy
        yield server


def hashed(served, name: str) -> str:
    manifest = json.loads((served.project.path / "staticfiles" / "staticfiles.json").read_text())
    return "/static/" + manifest["paths"][name]


def test_a_large_static_file_arrives_whole_with_its_headers(served):
    url = hashed(served, LARGE_FILE)
    on_disk = (served.project.path / "staticfiles" / url.removeprefix("/static/")).read_bytes()
    assert len(on_disk) > 64 * 1024

    response = served.request(url)

    assert response.status == 200
    assert response.body == on_disk
    assert int(response.headers["content-length"]) == len(on_disk)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cross-origin-resource-policy"] == "same-origin"
    assert "immutable" in response.headers["cache-control"]


def test_static_files_answer_head_conditional_and_range_requests(served):
    url = hashed(served, LARGE_FILE)
    full = served.request(url)

    head = served.request(url, method="HEAD")
    unchanged = served.request(url, headers={"If-None-Match": full.headers["etag"]})
    first_bytes = served.request(url, headers={"Range": "bytes=0-99"})

    assert (head.status, head.body) == (200, b"")
    assert head.headers["content-length"] == full.headers["content-length"]
    assert (unchanged.status, unchanged.body) == (304, b"")
    assert (first_bytes.status, first_bytes.body) == (206, full.body[:100])


def test_a_missing_static_file_falls_through_to_django(served):
    response = served.request("/static/admin/css/no-such-file.0123456789ab.css")
    assert response.status == 404


def test_views_run_on_threads_that_serve_request_after_request(served):
    names = {served.request("/test-thread/").body for _ in range(40)}
    # gthread runs views on its 4 threads per worker (2 workers); Django's ASGI handler
    # alone would start a thread per request, 40 names here.
    assert len(names) <= 2 * 4, names
