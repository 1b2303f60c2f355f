#!/usr/bin/env python3
"""Why a batch of 128 cost more than twice a batch of 64: user time, system time, faults.

The InF step of LCNN runs the clean and the masked views as one batch of 128. This
benchmark times the forward + backward of the recipe's LCNN alone (no InF, no InI) at two
batch sizes, interleaved, under each allocator setting (one process per setting, since
they are process-wide), and splits the CPU time of the process into user time (the
arithmetic) and system time (the kernel mapping and zeroing pages), with the minor page
faults. Best of ``--repeats`` (by user + system time) per batch size:

- ``default``: glibc's defaults;
- ``trim 2 GiB - 1``: no mmap, trim threshold at its largest positive value (the recipes'
  setting before: the top of the heap beyond 2 GiB still went back to the kernel);
- ``retain``: ``speechbrain_ssdctx.utils.allocator.retain_freed_memory`` (no mmap, no trim).

    python benchmarks/bench_batch_scaling.py [--threads 1] [--repeats 2] [--seconds 6]

Prints a markdown table.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = ("default", "trim 2 GiB - 1", "retain")
#: Run in a fresh process: ``STEP setting threads repeats seconds batches``; prints JSON.
STEP = """
import ctypes, ctypes.util, json, resource, sys, torch
from speechbrain_ssdctx.utils.allocator import retain_freed_memory
from speechbrain_ssdctx.models import LCNN
setting, threads, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
seconds = float(sys.argv[4])
batches = [int(b) for b in sys.argv[5].split(",")]
torch.set_num_threads(threads)
if setting == "retain":
    assert retain_freed_memory()
elif setting != "default":
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    assert libc.mallopt(-4, 0) and libc.mallopt(-1, 2**31 - 1)  # M_MMAP_MAX, M_TRIM_THRESHOLD
torch.manual_seed(0)
model = LCNN().train()
inputs = {b: 0.1 * torch.randn(b, int(16000 * seconds)) for b in batches}
def usage():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime, r.ru_stime, r.ru_minflt
def step(wavs):
    model.zero_grad(set_to_none=True)
    embedding, logits = model(wavs, torch.ones(len(wavs)))
    (logits.sum() + embedding.sum()).backward()
for b in batches:  # warm-up
    step(inputs[b])
runs = {b: [] for b in batches}
for _ in range(repeats):
    for b in batches:
        before = usage()
        step(inputs[b])
        runs[b].append([after - first for after, first in zip(usage(), before)])
print(json.dumps({b: min(runs[b], key=lambda r: r[0] + r[1]) for b in batches}))
"""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--batches", type=int, nargs=2, default=[64, 128])
    args = parser.parse_args(argv)
    small, large = args.batches
    print(f"LCNN forward + backward, {args.seconds:g} s inputs, {args.threads} thread(s), "
          f"best of {args.repeats}\n")
    print("| allocator | batch | user s | system s | page faults | user ratio "
          "| (user + system) ratio |")
    print("|---|---|---|---|---|---|---|")
    for setting in SETTINGS:
        done = subprocess.run(
            [sys.executable, "-c", STEP, setting, str(args.threads), str(args.repeats),
             str(args.seconds), f"{small},{large}"],
            cwd=ROOT, capture_output=True, text=True, check=True,
        )
        rows = {int(b): r for b, r in json.loads(done.stdout.splitlines()[-1]).items()}
        for batch in (small, large):
            user, system, faults = rows[batch]
            ratios = "| | |"
            if batch == large:
                base = rows[small]
                ratios = (f"| {user / base[0]:.2f} | "
                          f"{(user + system) / (base[0] + base[1]):.2f} |")
            print(f"| {setting} | {batch} | {user:.2f} | {system:.2f} | {faults:,.0f} "
                  + ratios, flush=True)


if __name__ == "__main__":
    main()
