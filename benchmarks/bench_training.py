#!/usr/bin/env python3
"""Time per training step: baseline vs +InF, +InI and +InF+InI, for LCNN and AASIST.

Each system is built from its recipe YAML (the paper's batch sizes: 64 for LCNN, 8 for
AASIST; 6-second inputs) and timed on ``DetectorBrain.fit_batch`` (forward, backward,
optimiser step, momentum update and enqueue) with the memory bank full (4096 entries,
the worst case for L_InI). Ratios are to the baseline measured in the same run. The
floor for +InF+InI is about 2.3x: two forward/backward passes plus one momentum forward.

    python benchmarks/bench_training.py [--steps 3] [--models lcnn aasist] [--threads 2]

Prints a markdown table.
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import speechbrain as sb
import torch
from hyperpyyaml import load_hyperpyyaml

from speechbrain_ssdctx.allocator import retain_freed_memory
from speechbrain_ssdctx.brain import DetectorBrain

HPARAMS = Path(__file__).resolve().parents[1] / "hparams"
SYSTEMS = {"lcnn": "lcnn_inf_ini.yaml", "aasist": "aasist_inf_ini.yaml"}
VARIANTS = {
    "baseline": {"use_inf": False, "use_ini": False},
    "+InF": {"use_ini": False},
    "+InI": {"use_inf": False},
    "+InF+InI": {},
}


def build_brain(hparams_file: Path, overrides: dict) -> tuple[DetectorBrain, dict]:
    with open(hparams_file) as stream:
        hparams = load_hyperpyyaml(
            stream, {"output_folder": tempfile.mkdtemp(), **overrides}
        )
    brain = DetectorBrain(
        modules=hparams["modules"], opt_class=hparams["opt_class"], hparams=hparams,
        run_opts={"noprogressbar": True},
    )
    brain.init_optimizers()
    brain.modules.train()
    brain.on_stage_start(sb.Stage.TRAIN)
    context = brain.modules.context
    if context.use_ini:  # a full bank: the largest L_InI cost
        size, dim = context.memory.size, context.memory.dim
        context.memory.enqueue(torch.randn(size, dim), torch.randint(0, 2, (size,)))
    return brain, hparams


def time_steps(brain: DetectorBrain, hparams: dict, steps: int) -> float:
    samples = int(hparams["train_seconds"] * hparams["sample_rate"])
    batch_size = hparams["batch_size"]
    batch = sb.dataio.batch.PaddedBatch([
        {"id": str(i), "sig": 0.1 * torch.randn(samples), "label_id": i % 2}
        for i in range(batch_size)
    ])
    brain.fit_batch(batch)  # warm-up
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        brain.fit_batch(batch)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--models", nargs="+", default=list(SYSTEMS), choices=list(SYSTEMS))
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--default-allocator", action="store_true",
                        help="leave glibc's malloc as it is (the recipes keep freed memory)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if not args.default_allocator:
        retain_freed_memory()
    torch.manual_seed(0)
    allocator = "default malloc" if args.default_allocator else "malloc keeps freed memory"
    print(f"torch {torch.__version__}, {args.threads} threads, median of {args.steps} steps, "
          f"{allocator}\n")
    print("| model | batch | variant | s / step | ratio to baseline |")
    print("|---|---|---|---|---|")
    for model in args.models:
        baseline = None
        for variant, overrides in VARIANTS.items():
            brain, hparams = build_brain(HPARAMS / SYSTEMS[model], overrides)
            seconds = time_steps(brain, hparams, args.steps)
            baseline = baseline or seconds
            print(f"| {model} | {hparams['batch_size']} | {variant} | {seconds:.2f} "
                  f"| {seconds / baseline:.2f} |", flush=True)


if __name__ == "__main__":
    main()
