#!/usr/bin/env python3
"""glibc's allocator settings: page faults of a step that frees more than 2 GiB at once.

A training step on the CPU allocates its activations and frees them all at the end. Each
setting below runs in its own process (they are process-wide) a step of 60 blocks of
50 MB (3 GB, like the InF step of LCNN at batch 64 x 6 s, which frees about 6 GB) a few
times and reports the minor page faults (memory the kernel had to map and zero again)
and the time per step after the first:

- ``default``: glibc's defaults (large blocks mmap'd and unmapped at every free);
- ``mallopt``: ``speechbrain_ssdctx.utils.allocator.retain_freed_memory`` (the recipes'
  ``cpu_retain_freed_memory``: ``M_MMAP_MAX = 0``, ``M_TRIM_THRESHOLD = -1``), in-process;
- ``env``: the same through glibc's environment variables, set before the process starts
  (``MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=-1``): the standard, process-wide way;
- ``env, trim 2 GiB - 1``: the largest positive trim threshold (the recipes' setting
  before): the top of the heap beyond 2 GiB is still returned after every step.

    python benchmarks/bench_allocator.py [--blocks 60] [--steps 3]

Prints a markdown table.
"""

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {
    "default": {},
    "mallopt": {},
    "env": {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": "-1"},
    "env, trim 2 GiB - 1": {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": str(2**31 - 1)},
}
#: Run in a fresh process: ``STEP blocks steps use_mallopt``; prints faults and seconds.
STEP = """
import resource, sys, time, torch
torch.set_num_threads(1)
blocks, steps, use_mallopt = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"
if use_mallopt:
    from speechbrain_ssdctx.utils.allocator import retain_freed_memory
    assert retain_freed_memory()
def step():
    activations = [torch.ones(12_500_000) for _ in range(blocks)]  # 50 MB each
    del activations
step()
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
start = time.perf_counter()
for _ in range(steps):
    step()
seconds = (time.perf_counter() - start) / steps
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / steps, seconds)
"""


def run(name: str, blocks: int, steps: int) -> tuple[float, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **SETTINGS[name]}
    done = subprocess.run(
        [sys.executable, "-c", STEP, str(blocks), str(steps), str(int(name == "mallopt"))],
        env=env, capture_output=True, text=True, check=True,
    )
    faults, seconds = done.stdout.split()
    return float(faults), float(seconds)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, default=60, help="50 MB blocks per step")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per setting")
    args = parser.parse_args(argv)
    print(f"A step allocates and frees {args.blocks} blocks of 50 MB "
          f"({args.blocks * 0.05:g} GB); mean of {args.steps} steps after the "
          "first, one process per setting.\n")
    print("| setting | environment | page faults / step | s / step |")
    print("|---|---|---|---|")
    for name, env in SETTINGS.items():
        faults, seconds = run(name, args.blocks, args.steps)
        variables = " ".join(f"{k}={v}" for k, v in env.items()) or "-"
        print(f"| {name} | `{variables}` | {faults:,.0f} | {seconds:.2f} |", flush=True)


if __name__ == "__main__":
    main()
