"""Benchmarks of the template and the baked project against a bare Django baseline.

    python3 dev.py bench            the full run (eight to ten minutes), prints the table
    python3 dev.py bench --quick    one short round of everything (a minute)

dev.py runs `.venv/bin/python -m bench` with BAKED_PYTHON set to a local Python 3.13.

Every figure is measured side by side with its baseline in the same run, interleaved
round by round, because on a shared machine only ratios within one run mean anything.
docs/performance.md holds the latest table, the goals and how to read them.
"""

import sys
from pathlib import Path

# The template's test helpers (bake, install, serve) are the one place that knows how to
# bake, install and serve a project; the bench uses them rather than a copy.
TESTS = Path(__file__).resolve().parent.parent / "tests"
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))
