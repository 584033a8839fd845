"""The run: prepares the three subjects per web interface and measures every figure,
alternating subjects round by round so that drift on a noisy machine hits all alike."""

import contextlib
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cookiecutter

from bakery import Project, drop_database, new_database
from bench import figures, instructions
from bench.stats import Sample
from bench.subjects import (
    TELEMETRY_ON,
    WITHOUT_TELEMETRY,
    WORKERS,
    Subject,
    bare_subject,
    ceiling_subject,
    telemetry_on_subject,
    template_subject,
    without_telemetry_subject,
)
from bench.upstream import slow_upstream
from otlp import otlp_receiver

TEMPLATE, BARE, CEILING = "template", "bare Django", "hello world"


@dataclass(frozen=True)
class Config:
    rounds: int = 5  # bake, first request, import
    load_rounds: int = 3
    load_seconds: int = 5
    warmup_seconds: int = 1
    load_attempts: int = 2  # a run whose connections landed on one worker is run again
    loads: tuple[str, ...] = ("healthz", "page", "static")  # which of LOADS to put load on
    concurrency: tuple[str, ...] = ("slow", "burst")  # which of CONCURRENCY to measure
    # "none": no .pyc anywhere, as this machine leaves a fresh install (it exports
    # PYTHONDONTWRITEBYTECODE=1); "compiled": compileall first, as the image build does.
    bytecode: tuple[str, ...] = ("none", "compiled")
    telemetry: bool = True  # the page with OpenTelemetry on, and without its code
    # Page requests counted under valgrind per subject (bench/instructions.py); 0: none.
    instructions: int = instructions.COUNTED
    bake: bool = True
    boot: bool = True  # first request and import
    load: bool = True  # load, concurrency and memory
    image: bool = True
    bake_stage: bool = True  # run the template suite's `-m bake` stage for its timing
    test_log: Path | None = None  # or read the stage times from a saved pytest output


QUICK = Config(
    rounds=1,
    load_rounds=1,
    load_seconds=1,
    warmup_seconds=1,
    bytecode=("compiled",),
    instructions=20,
    image=False,
    bake_stage=False,
)


@dataclass
class Row:
    section: str
    figure: str
    metric: str  # what goals match on: bake, first_request, healthz_rps, worker_rss, ...
    unit: str
    digits: int
    values: dict[str, Sample]  # subject name -> sample


@dataclass
class Results:
    rows: list[Row] = field(default_factory=list)
    imports: dict[str, dict[str, float]] = field(default_factory=dict)  # subject -> package -> ms
    imports_label: str = ""
    image: tuple[int, int, float, dict[str, int]] | str = "n/a (not measured)"
    stages: dict[str, float] | str = "n/a (not measured)"
    notes: list[str] = field(default_factory=list)

    def add(
        self,
        section: str,
        figure: str,
        metric: str,
        unit: str,
        digits: int,
        values: dict[str, list[float]],
    ) -> None:
        samples = {name: Sample(tuple(v)) for name, v in values.items() if v}
        self.rows.append(Row(section, figure, metric, unit, digits, samples))


_STARTED = time.monotonic()


def progress(message: str) -> None:
    print(f"bench: {time.monotonic() - _STARTED:5.0f} s  {message}", file=sys.stderr, flush=True)


def run(
    config: Config,
    projects: dict[str, Project],
    workdir: Path,
    say: Callable[[str], None] = progress,
) -> Results:
    results = Results()
    database = new_database("tfd_bench")
    upstream = contextlib.ExitStack()
    try:
        upstream_port = upstream.enter_context(slow_upstream())
        if config.bake:
            say("bake")
            measure_bake(config, next(iter(projects.values())), results)
        for interface, project in projects.items():
            if not (config.boot or config.load):
                break
            say(f"preparing the {interface} subjects")
            # Preparing runs Django several times, twice as fast with bytecode. Each state
            # measured below first removes or compiles it, so this changes no figure.
            figures.compile_bytecode(str(project.bin / "python"), project.bin.parent)
            environ = project.production_env(database)
            project.run("python", "manage.py", "migrate", "--noinput", env=environ)
            subjects = (
                template_subject(project, workdir, database, upstream_port),
                bare_subject(project, workdir, database, environ),
                ceiling_subject(project, workdir),
            )
            if config.boot:
                measure_boot_and_imports(config, interface, subjects, workdir, results, say)
            if config.load:
                with telemetry_subjects(config, subjects[0], workdir) as telemetry:
                    measure_load_and_memory(
                        config, interface, (*subjects, *telemetry), workdir, results, say
                    )
                    measure_instructions(
                        config, interface, (*subjects[:2], *telemetry), workdir, results, say
                    )
    finally:
        upstream.close()
        drop_database(database)
    if config.image:
        say("image (buildah)")
        try:
            results.image = figures.image_sizes(next(iter(projects.values())))
        except Exception as error:  # a late, optional figure must not lose the others
            results.image = f"n/a ({type(error).__name__}: {str(error)[:80]})"
    if config.test_log:
        results.stages = (
            figures.parse_stage_times(config.test_log.read_text())
            or f"n/a (no 'time per stage' section in {config.test_log})"
        )
    elif config.bake_stage:
        say("template test suite, -m bake stage")
        stages, wall, status = figures.bake_stage()
        results.stages = (
            stages | {"wall (-m bake)": wall}
            if status == 0
            else f"failed (pytest -m bake exited {status} after {wall:.0f} s)"
        )
    return results


@contextlib.contextmanager
def telemetry_subjects(config: Config, template: Subject, workdir: Path):
    """With config.telemetry, yields the template with OpenTelemetry on, sending to a real
    OTLP/HTTP receiver on loopback that counts what it gets and discards it, and the
    template without OpenTelemetry's code. Once they have stopped (and flushed), the
    first must have sent traces: else its figure would be of OpenTelemetry off."""
    if not config.telemetry:
        yield ()
        return
    with otlp_receiver(decode=False) as (endpoint, received):
        yield telemetry_on_subject(template, endpoint), without_telemetry_subject(template, workdir)
        if not any(post.startswith("/v1/traces ") for post in received.requests):
            raise AssertionError(f"OpenTelemetry on sent no trace to {endpoint}")


def measure_bake(config: Config, project: Project, results: Results) -> None:
    state = "with" if figures.has_bytecode(Path(cookiecutter.__file__).parent) else "no"
    timings: dict[str, list[float]] = {TEMPLATE: [], BARE: []}
    for _ in range(config.rounds):
        template, bare = figures.bake_seconds(project.bin / "django-admin")
        timings[TEMPLATE].append(template)
        timings[BARE].append(bare)
    results.add(
        "Bake",
        f"cookiecutter --no-input vs startproject, {state} bytecode",
        "bake",
        "s",
        2,
        timings,
    )


def measure_boot_and_imports(
    config: Config,
    interface: str,
    subjects: tuple[Subject, ...],
    workdir: Path,
    results: Results,
    say,
) -> None:
    template, bare, _ = subjects
    venv = template.project.bin.parent
    for state in config.bytecode:
        if state == "none":
            figures.remove_bytecode(venv, template.path, bare.path)
        else:
            say(f"compiling bytecode ({interface})")
            figures.compile_bytecode(template.python, venv, template.path, bare.path)
        boot: dict[str, list[float]] = {TEMPLATE: [], BARE: []}
        imports: dict[str, list[float]] = {TEMPLATE: [], BARE: []}
        for round_ in range(config.rounds):
            say(
                f"first request and import, {interface}, bytecode {state}, "
                f"round {round_ + 1}/{config.rounds}"
            )
            # Alternating which goes first cancels what the first run leaves warm for the second.
            for subject in (template, bare) if round_ % 2 == 0 else (bare, template):
                log = subject.log(workdir)
                boot[subject.name].append(figures.first_request_seconds(subject, log))
                imports[subject.name].append(figures.import_seconds(subject) * 1000)
        label = f"{interface}, bytecode {'compiled' if state == 'compiled' else 'none'}"
        results.add("Boot", f"First 200 from /healthz, {label}", "first_request", "s", 2, boot)
        results.add("Import", f"Import settings + application, {label}", "import", "ms", 0, imports)
    if not results.imports:
        results.imports_label = label
        for subject in (template, bare):
            results.imports[subject.name] = figures.import_breakdown(subject)


LOADS = (("healthz", "/healthz"), ("page", "page with a query"), ("static", "hashed CSS file"))
# The template alone, at many connections: where each interface queues, sheds or overlaps.
POOL_MAX_SIZE = 4  # DATABASE_POOL_MAX_SIZE's default, per worker
CONCURRENCY = (
    # An async view awaiting a 200 ms upstream (bench/upstream.py) under ASGI, a sync view
    # blocking on it under WSGI: what overlapping waits is worth.
    ("slow", "view awaiting a 200 ms upstream, 200 connections", 200),
    # Four times the database connections of all workers, on the page with a query.
    (
        "burst",
        f"page with a query, 4 × pool ({4 * POOL_MAX_SIZE * WORKERS} connections)",
        4 * POOL_MAX_SIZE * WORKERS,
    ),
)


def measure_load_and_memory(
    config: Config,
    interface: str,
    subjects: tuple[Subject, ...],
    workdir: Path,
    results: Results,
    say,
) -> None:
    template, bare, ceiling, *telemetry = subjects
    measured = [(name, description) for name, description in LOADS if name in config.loads]
    targets = [(name, subject) for name, _ in measured for subject in (template, bare)]
    targets.append(("hello", ceiling))
    targets += [("page", subject) for subject in telemetry]
    loads: dict[tuple[str, str], list] = {(name, s.name): [] for name, s in targets}
    with contextlib.ExitStack() as stack:
        servers = {}
        for subject in subjects:
            log = subject.log(workdir)
            server, _ = stack.enter_context(subject.serving(log))
            figures.wait_until_serving(server, log)
            servers[subject.name] = server
        for subject in subjects:  # every path, measured or not, must answer
            for path in subject.paths.values():
                figures.check_answers(servers[subject.name], path)
        for name, subject in targets:
            server = servers[subject.name]
            if config.warmup_seconds:
                figures.load(server, subject.paths[name], config.warmup_seconds)
        for round_ in range(config.load_rounds):
            say(f"load, {interface}, round {round_ + 1}/{config.load_rounds}")
            for name, subject in targets if round_ % 2 == 0 else targets[::-1]:
                load = figures.load(
                    servers[subject.name],
                    subject.paths[name],
                    config.load_seconds,
                    config.load_attempts,
                )
                loads[(name, subject.name)].append(load)
        concurrency = measure_concurrency(config, interface, template, servers[TEMPLATE], say)
        memory = {s.name: figures.memory_mib(servers[s.name].process.pid) for s in subjects[:3]}
    add_concurrency_rows(interface, concurrency, results)

    hello = loads[("hello", CEILING)]
    for name, description in measured:
        per_subject = {TEMPLATE: loads[(name, TEMPLATE)], BARE: loads[(name, BARE)], CEILING: hello}
        for metric, label, unit, digits, value in (
            ("rps", "throughput", "req/s", 0, lambda m: m.load.requests_per_second),
            (
                "per_core",
                "throughput per busy core",
                "req/CPU-s",
                0,
                lambda m: m.requests_per_cpu_second,
            ),
            ("p50", "p50 latency", "ms", 2, lambda m: m.load.p50_ms),
            ("p99", "p99 latency", "ms", 2, lambda m: m.load.p99_ms),
        ):
            values = {who: [value(m) for m in runs] for who, runs in per_subject.items()}
            results.add(
                f"Load, {interface}",
                f"{description}, {label}",
                f"{name}_{metric}",
                unit,
                digits,
                values,
            )
    add_telemetry_rows(interface, {s.name: loads[("page", s.name)] for s in telemetry}, results)
    for (name, who), runs in loads.items():
        if errors := sum(m.load.errors for m in runs):
            results.notes.append(f"{interface}, {who}, {name}: {errors} errors under load")
        if unbalanced := sum(not m.balanced for m in runs):
            results.notes.append(
                f"{interface}, {who}, {name}: in {unbalanced} of {len(runs)} runs one worker "
                "did most of the work (req/s is low there; req/CPU-s is not affected)"
            )
    results.add(
        f"Memory, {interface}",
        "RSS of the gunicorn master after load",
        "master_rss",
        "MiB",
        1,
        {who: [master] for who, (master, _) in memory.items()},
    )
    results.add(
        f"Memory, {interface}",
        "RSS of each worker after load",
        "worker_rss",
        "MiB",
        1,
        {who: workers for who, (_, workers) in memory.items()},
    )


# Issue 21's figures, the template against itself: report.py divides the page's figure
# with OpenTelemetry on by the template's (off), and the template's by the one without.
TELEMETRY_METRICS = {TELEMETRY_ON: "telemetry_on", WITHOUT_TELEMETRY: "telemetry_absent"}


def add_telemetry_rows(interface: str, runs: dict[str, list], results: Results) -> None:
    for name, measured in runs.items():
        for metric, label, unit, value in (
            ("rps", "throughput", "req/s", lambda m: m.load.requests_per_second),
            (
                "per_core",
                "throughput per busy core",
                "req/CPU-s",
                lambda m: m.requests_per_cpu_second,
            ),
        ):
            results.add(
                f"Load, {interface}",
                f"page with a query, {name}, {label}",
                f"{TELEMETRY_METRICS[name]}_{metric}",
                unit,
                0,
                {TEMPLATE: [value(m) for m in measured]},
            )


def measure_instructions(
    config: Config,
    interface: str,
    subjects: tuple[Subject, ...],
    workdir: Path,
    results: Results,
    say,
) -> None:
    """The page's instructions per request, shown as requests per billion instructions so
    that its ratios read like the throughput ones (bench/instructions.py)."""
    if not config.instructions:
        return
    section = f"Instructions, {interface}"
    figure = "requests per billion instructions (valgrind)"
    per_billion = {}
    for subject in subjects:
        say(f"instructions, {interface}, {subject.name} (valgrind)")
        count = instructions.per_request(
            subject, subject.paths["page"], workdir, config.instructions
        )
        per_billion[subject.name] = [1e9 / count]
    results.add(
        section,
        f"page with a query, {figure}",
        "page_per_ginstr",
        "req/G-instr",
        0,
        {name: per_billion.pop(name) for name in (TEMPLATE, BARE)},
    )
    for name, values in per_billion.items():  # OpenTelemetry's subjects, the template alone
        metric = f"{TELEMETRY_METRICS[name]}_per_ginstr"
        results.add(
            section,
            f"page with a query, {name}, {figure}",
            metric,
            "req/G-instr",
            0,
            {TEMPLATE: values},
        )


def measure_concurrency(config: Config, interface: str, template: Subject, server, say) -> dict:
    runs: dict[str, list] = {name: [] for name, _, _ in CONCURRENCY if name in config.concurrency}
    for round_ in range(config.load_rounds if runs else 0):
        say(f"concurrency, {interface}, round {round_ + 1}/{config.load_rounds}")
        for name, _, connections in CONCURRENCY:
            if name in runs:
                path = template.paths[name]
                runs[name].append(figures.load(server, path, config.load_seconds, 1, connections))
                # Requests wrk gave up on may still be queued in the server; the next
                # figure starts when they are done, i.e. when a probe gets through.
                server.wait_until_serving(timeout=60)
    return runs


def add_concurrency_rows(interface: str, runs: dict, results: Results) -> None:
    for name, description, _ in CONCURRENCY:
        if not runs.get(name):
            continue
        for metric, label, unit, digits, value in (
            ("rps", "throughput", "req/s", 0, lambda m: m.load.requests_per_second),
            ("p99", "p99 latency", "ms", 0, lambda m: m.load.p99_ms),
            ("errors", "errors (5xx, timeouts)", "per run", 0, lambda m: m.load.errors),
        ):
            results.add(
                f"Concurrency, {interface} (template only)",
                f"{description}, {label}",
                f"{name}_{metric}",
                unit,
                digits,
                {TEMPLATE: [value(m) for m in runs[name]]},
            )
