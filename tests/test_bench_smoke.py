"""The benchmark suite (bench/, `python3 dev.py bench`) still runs from end to end.

One short round of every figure against the installed default project. It fails when the
bench code breaks, never because of a figure: at this length the figures are noise.
"""

import sys
from pathlib import Path

import pytest

from bakery import INTERFACES

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import figures, report, suite  # noqa: E402

pytestmark = pytest.mark.bench

EVERY_FIGURE = {
    "first_request",
    "import",
    *(f"healthz_{metric}" for metric in ("rps", "per_core", "p50", "p99")),
    "master_rss",
    "worker_rss",
    *(f"{load}_{metric}" for load in ("slow", "burst") for metric in ("rps", "p99", "errors")),
    # The template with OpenTelemetry on, sending to a receiver, and without its code.
    *(
        f"telemetry_{variant}_{metric}"
        for variant in ("on", "absent")
        for metric in ("rps", "per_core")
    ),
}
# The page's instructions per request, under valgrind: four servers booted under callgrind,
# about 85 s an interface, so counted on the first interface only (bench/instructions.py
# has no code of its own per interface; `dev.py bench` counts both).
INSTRUCTION_FIGURES = {
    "page_per_ginstr",
    *(f"telemetry_{variant}_per_ginstr" for variant in ("on", "absent")),
}


def smoke_config(interface: str) -> suite.Config:
    return suite.Config(
        rounds=1,
        load_rounds=1,
        load_seconds=1,
        warmup_seconds=0,
        load_attempts=1,
        # The static file must still answer 200; the same code loads it. The page is
        # loaded: OpenTelemetry's figures are divided by it.
        loads=("healthz", "page"),
        # Compiling leaves .pyc files in the shared project's venv: a cache, which only
        # makes later boots faster, where removing them ("none") would cost every boot here.
        bytecode=("compiled",),
        instructions=5 if interface == INTERFACES[0] else 0,
        bake=interface == INTERFACES[0],  # the bake figure does not depend on the interface
        image=False,
        bake_stage=False,
    )


def test_bench_measures_every_figure_against_its_baseline(project, tmp_path):
    results = suite.run(
        smoke_config(project.interface),
        {project.interface: project},
        tmp_path,
        say=lambda message: None,
    )

    first = project.interface == INTERFACES[0]
    measured = {row.metric for row in results.rows}
    assert measured >= EVERY_FIGURE | (INSTRUCTION_FIGURES if first else set())
    for row in results.rows:
        # Concurrency rows measure the template alone (each interface at many connections),
        # OpenTelemetry's rows the template against itself.
        alone = row.section.startswith("Concurrency") or row.metric.startswith("telemetry_")
        expected = {suite.TEMPLATE} if alone else {suite.TEMPLATE, suite.BARE}
        assert expected <= row.values.keys(), row.figure
    assert set(results.imports) == {suite.TEMPLATE, suite.BARE}
    text = report.render(results, ["smoke"])
    assert "### Goals" in text
    assert "| **Load, " in text
    assert "| **Concurrency, " in text
    assert "page with OpenTelemetry on ≥ 0.8 × off: " in text
    assert ("page with OpenTelemetry on ≥ 0.8 × off, by instructions: " in text) == first


def test_bench_reads_stage_times_from_a_saved_test_run():
    saved_output = (
        "144 passed\n"
        "================================ time per stage ================================\n"
        "bake          57.1 s\n"
        "boot          12.0 s\n"
        "============================ 150 passed in 70.00s =============================\n"
    )
    assert figures.parse_stage_times(saved_output) == {"bake": 57.1, "boot": 12.0}
