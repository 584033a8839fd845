"""`python -m bench [--quick]`: bake, install, measure, print the table (see __init__)."""

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bakery import INTERFACES, Project, bake, install
from bench import report, suite

# --only's names, each the Config flag it keeps on ("boot": first request and import;
# "load": load, concurrency and memory; "tests": the template suite's stage).
FIGURE_GROUPS = {
    "bake": "bake",
    "boot": "boot",
    "load": "load",
    "image": "image",
    "tests": "bake_stage",
}


def arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="one short round of each figure, no image, no test stage (~1 min)",
    )
    parser.add_argument(
        "--test-log",
        type=Path,
        metavar="FILE",
        help="read the template suite's stage times from this saved pytest "
        "output instead of running its -m bake stage",
    )
    parser.add_argument("--no-image", action="store_true", help="skip the image build")
    parser.add_argument(
        "--only",
        type=lambda text: set(text.split(",")),
        metavar="FIGURES",
        help=f"measure only these, comma-separated: {', '.join(FIGURE_GROUPS)}",
    )
    parser.add_argument(
        "--markdown", type=Path, metavar="FILE", help="also write the report to FILE"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the work directory (bakes, server logs)"
    )
    return parser.parse_args(argv)


def python_version(project: Project) -> str:
    completed = subprocess.run(
        [project.bin / "python", "--version"], capture_output=True, text=True
    )
    return completed.stdout.strip()


def header(config: suite.Config, python: str, started: float, load_before: tuple) -> list[str]:
    load_after = os.getloadavg()
    return [
        f"Measured {time.strftime('%Y-%m-%d %H:%M', time.localtime(started))} in "
        f"{(time.time() - started) / 60:.1f} min on {os.cpu_count()} cores "
        f"({platform.system()} {platform.release()}), {python} for the projects; "
        f"1-min load average {load_before[0]:.1f} before, {load_after[0]:.1f} after.",
        f"Rounds: {config.rounds} (bake, boot, import), {config.load_rounds} × "
        f"{config.load_seconds} s of wrk per target (1 thread, 16 connections, same machine), "
        f"servers with 2 workers (gthread: 4 threads each).",
    ]


def main(argv: list[str]) -> int:
    args = arguments(argv)
    config = suite.QUICK if args.quick else suite.Config()
    flags = {
        "test_log": args.test_log,
        "image": config.image and not args.no_image,
    }
    if args.only:
        if unknown := args.only - FIGURE_GROUPS.keys():
            sys.exit(
                f"--only: unknown {', '.join(sorted(unknown))}; known: {', '.join(FIGURE_GROUPS)}"
            )
        for name, flag in FIGURE_GROUPS.items():
            flags[flag] = name in args.only
        flags["image"] = flags["image"] and not args.no_image
        flags["test_log"] = args.test_log if "tests" in args.only else None
    config = suite.Config(**{**config.__dict__, **flags})
    started, load_before = time.time(), os.getloadavg()
    workdir = Path(tempfile.mkdtemp(prefix="tfd-bench-"))
    try:
        projects = {}
        for interface in INTERFACES:
            suite.progress(f"baking and installing the {interface} project")
            path = bake(workdir / f"bake-{interface}", web_interface=interface)
            projects[interface] = install(path, interface)
        python = python_version(projects[INTERFACES[0]])
        results = suite.run(config, projects, workdir)
    finally:
        if args.keep:
            print(f"bench: work directory kept: {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    text = report.render(results, header(config, python, started, load_before))
    print(text)
    if args.markdown:
        args.markdown.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
