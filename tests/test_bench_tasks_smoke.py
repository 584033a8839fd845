"""The worker's benchmark (bench/tasks.py, `python3 dev.py bench-tasks`) still runs.

A few tasks through each figure against a copy of the installed default project, and
through the peer's latency. It fails
when the bench code breaks, never because of a figure.
"""

import sys
from pathlib import Path

import pytest

from bakery import with_test_views

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import tasks  # noqa: E402

pytestmark = pytest.mark.bench


# The worker does not depend on the web interface: one interface's project is enough.
@pytest.mark.parametrize("project", ["wsgi"], indirect=True)
def test_the_worker_bench_measures_latency_and_throughput(project, tmp_path):
    copy = with_test_views(project, tmp_path / "app")
    tasks.add_noop_task(copy)
    waits, idle = tasks.latency(copy, tmp_path, tasks=5, pace=0.1, idle_window=0.5)
    rate = tasks.throughput(copy, tmp_path, tasks=20, count=2)
    peer_waits, _ = tasks.Peer(tmp_path).latency(tasks=3, pace=0.1, idle_window=0.5)
    print(
        f"\nworker bench smoke: latencies {[round(w, 3) for w in waits]} s, {idle:.1f} idle "
        f"commits/s, {rate:.0f} tasks/s; peer latencies {[round(w, 3) for w in peer_waits]} s"
    )
    assert len(waits) == 5 and all(w >= 0 for w in waits)
    assert idle >= 0 and rate > 0
    assert len(peer_waits) == 3 and all(w >= 0 for w in peer_waits)
