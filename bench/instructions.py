"""Instructions per request: what one worker executes to serve the page, counted by
valgrind's callgrind. Counted alone, it repeats within 0.2 % whatever else the machine
runs, where req/CPU-s moves by a tenth from one run to the next on this shared machine:
too much to judge a goal that sits within 5 % of its line (page ÷ bare Django,
OpenTelemetry on ÷ off). Inside a full bench run some subjects have counted 4-7 % more,
for a cause not yet found (docs/performance.md, "Latest table"): there, read it as a
lower bound of the ratio.

It counts the worker's user-space instructions only: no system calls, cache misses or
waits for the GIL, which req/CPU-s includes. Read both: a ratio the two agree on is
settled; where they differ, the difference is the kernel's or the memory's part.
http://valgrind.org/docs/manual/cl-manual.html
"""

import dataclasses
import http.client
import subprocess
from pathlib import Path

from bench import figures
from bench.subjects import REQUEST_HEADERS, Subject, wait_until_serving

WARMUP = 50  # requests before counting: caches filled, lazy imports done
COUNTED = 200
# A server under valgrind starts and answers about fifty times slower.
VALGRIND_TIMEOUT = 600


def per_request(subject: Subject, path: str, workdir: Path, counted: int = COUNTED) -> float:
    """Instructions one worker executes per request of `path`, over `counted` requests on
    one keep-alive connection (so one worker serves them all), after a warm-up of as many
    (WARMUP at most). The server runs under callgrind with instrumentation off until it
    has started; the counters are zeroed after the warm-up, dumped after the count."""
    out = workdir / f"callgrind-{subject.path.name}-{subject.name.replace(' ', '-')}"
    out.mkdir()
    program, *arguments = subject.argv
    valgrind = [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        # Without it, the workers gunicorn forks are counted but cannot be controlled.
        "--trace-children=yes",
        f"--callgrind-out-file={out}/callgrind.%p",
        # The console script, run by the project's interpreter: valgrind follows an exec,
        # a #! line would be one more.
        subject.python,
        str(subject.project.bin / program),
        *arguments,
    ]
    log = out / "server.log"
    with dataclasses.replace(subject, argv=valgrind).serving(log) as (server, _):
        wait_until_serving(server, log, timeout=VALGRIND_TIMEOUT)
        workers = [str(pid) for pid in figures.worker_pids(server.process.pid)]
        _control(workers, "--instr=on")
        _requests(server.port, path, min(WARMUP, counted))
        _control(workers, "--zero")
        _requests(server.port, path, counted)
        _control(workers, "--dump")
    # The worker that served the connection; the others ran only their idle loops.
    served = max(_dumped_instructions(dump) for dump in out.glob("callgrind.*.1"))
    return served / counted


def _control(pids: list[str], command: str) -> None:
    for pid in pids:
        done = subprocess.run(
            ["callgrind_control", command, pid], capture_output=True, text=True, timeout=60
        )
        # It exits 0 even when it found no such process.
        if done.returncode or "Error" in done.stdout:
            raise RuntimeError(f"callgrind_control {command} {pid}: {done.stdout}{done.stderr}")


def _requests(port: int, path: str, count: int) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=VALGRIND_TIMEOUT)
    try:
        for _ in range(count):
            connection.request("GET", path, headers=REQUEST_HEADERS)
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise AssertionError(f"{path} answered {response.status} under valgrind")
    finally:
        connection.close()


def _dumped_instructions(dump: Path) -> int:
    for line in dump.read_text().splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    raise LookupError(f"no totals line in {dump}")
