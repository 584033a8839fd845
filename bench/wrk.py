"""HTTP load with wrk, bounded in time and connections, parsed into numbers."""

import re
import shutil
import subprocess
import time
from dataclasses import dataclass

# Two gunicorn workers of four threads each are eight requests in flight; twice that keeps
# every thread busy without turning the figure into a measure of queueing.
CONNECTIONS = 16
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}
_PERCENTILE = re.compile(r"^\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s|m)\s*$", re.MULTILINE)


class LoadError(RuntimeError):
    """wrk is missing or did not produce a result."""


@dataclass(frozen=True)
class Load:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # socket errors and responses other than 2xx/3xx


def wrk() -> str:
    executable = shutil.which("wrk")
    if executable is None:
        raise LoadError("wrk is not installed: apt-get install -y wrk")
    return executable


def run(url: str, seconds: int, headers: dict[str, str], connections: int = CONNECTIONS) -> Load:
    """One wrk run: a single client thread, since wrk shares the machine's cores with the
    server it measures."""
    argv = [
        wrk(),
        "--threads",
        "1",
        "--connections",
        str(connections),
        "--duration",
        f"{seconds}s",
        "--timeout",
        "5s",
        "--latency",
    ]
    for name, value in headers.items():
        argv += ["--header", f"{name}: {value}"]
    argv.append(url)
    for _attempt in (1, 2):
        completed = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30)
        # wrk gives up when its one probing connect is refused, which a loaded machine
        # occasionally does to a listening server: one retry, then it is an error.
        if completed.returncode == 0 or "unable to connect" not in completed.stderr:
            break
        time.sleep(1)
    if completed.returncode != 0:
        raise LoadError(f"wrk exited {completed.returncode}: {completed.stderr[-2000:]}")
    return parse(completed.stdout)


def parse(output: str) -> Load:
    try:
        rate = float(re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE).group(1))
        requests = int(re.search(r"^\s+(\d+) requests in", output, re.MULTILINE).group(1))
        percentiles = {p: float(v) * _UNITS[unit] for p, v, unit in _PERCENTILE.findall(output)}
        p50, p99 = percentiles["50"], percentiles["99"]
    except (AttributeError, KeyError) as missing:
        raise LoadError(f"unexpected wrk output ({missing!r}):\n{output}") from None
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    if non_2xx := re.search(r"Non-2xx or 3xx responses: (\d+)", output):
        errors += int(non_2xx.group(1))
    return Load(rate, p50, p99, requests, errors)
