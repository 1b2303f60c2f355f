#!/usr/bin/env python3
"""Runs the DDP tests (or any command) many times under CPU load and counts the failures.

A flaky multi-process test fails once in tens of runs, mostly on a loaded machine (the
teardown of a process group races with the interpreter's exit). This script repeats a
command ``--runs`` times while ``--load`` busy-loop processes compete for the CPU, and
prints one row per failure signature.

    python benchmarks/stress_ddp.py --runs 30 --load 2
    python benchmarks/stress_ddp.py --runs 10 -- python -m pytest -q tests/test_ddp.py

The default command is ``python -m pytest -q -p no:cacheprovider
tests/test_memory_distributed.py``.
"""

import argparse
import collections
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
           "tests/test_memory_distributed.py"]
#: Output fragments that name a failure, most specific first.
SIGNATURES = (
    "terminate called without an active exception",
    "terminate called after throwing",
    "SIGABRT",
    "SIGSEGV",
    "Connection reset by peer",
    "Connection refused",
    "Address already in use",
    "timed out",
    "Timeout",
)


def busy_loop() -> None:
    """Burns one CPU until terminated."""
    while True:
        pass


def signature(output: str) -> str:
    """The first known failure fragment found in ``output``, else ``other``."""
    return next((s for s in SIGNATURES if s in output), "other")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--load", type=int, default=2, help="busy-loop processes")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per run")
    parser.add_argument("--keep", type=Path, default=None,
                        help="folder for the output of every failed run")
    parser.add_argument("command", nargs=argparse.REMAINDER,
                        help="after --: the command to repeat")
    args = parser.parse_args(argv)
    command = [c for c in args.command if c != "--"] or DEFAULT
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    loaders = [multiprocessing.Process(target=busy_loop, daemon=True) for _ in range(args.load)]
    for process in loaders:
        process.start()
    counts, seconds = collections.Counter(), []
    try:
        for run in tqdm(range(args.runs), desc="runs"):
            start = time.perf_counter()
            try:
                done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True,
                                      text=True, timeout=args.timeout)
                output, failed = done.stdout + done.stderr, done.returncode != 0
            except subprocess.TimeoutExpired as error:
                output, failed = f"{error.stdout}{error.stderr}\ntimed out", True
            seconds.append(time.perf_counter() - start)
            kind = signature(output) if failed else "passed"
            counts[kind] += 1
            if failed and args.keep is not None:
                args.keep.mkdir(parents=True, exist_ok=True)
                (args.keep / f"run{run:03d}.txt").write_text(output)
    finally:
        for process in loaders:
            process.terminate()
            process.join()
    print(f"\ncommand: {' '.join(command)}")
    print(f"{args.runs} runs, {args.load} busy-loop processes, {os.cpu_count()} CPUs, "
          f"median {sorted(seconds)[len(seconds) // 2]:.1f} s per run\n")
    print("| outcome | runs |\n|---|---|")
    for kind, count in counts.most_common():
        print(f"| {kind} | {count} |")
    return 0 if counts["passed"] == args.runs else 1


if __name__ == "__main__":
    sys.exit(main())
