#!/usr/bin/env python3
"""Step time and peak memory of an SSL detector: baseline, +InF, +InI, +InF+InI, and the
memory options of InF + InI with a large front end.

The system is ``hparams/ssl_aasist_inf_ini.yaml`` (SSL front end + AASIST back end, Tak
et al.'s batch of 14 inputs of 64,600 samples) on a small randomly initialised SSL model
of the XLS-R architecture (``--hidden-size``, ``--layers``; XLS-R 300M is 1024 x 24), timed
on ``DetectorBrain.fit_batch`` (forward, backward, Adam step, momentum update and enqueue)
with a full memory bank. RawBoost is off in the tables (it is the same for every row) and
timed alone. Each configuration runs in a fresh process; "peak" is the process's peak
resident memory (VmHWM) during the steps and "+ step" its increase over the memory held
after building the detector and optimiser; "momentum copy" is the size of the momentum
encoder's state. Ratios are to the baseline of the same run. On the CPU the workers run
with glibc's mmap threshold fixed at 64 KiB (``MALLOC_MMAP_THRESHOLD_``), so that freed
tensors leave the resident set at once and its peak follows the live tensors (glibc's
adaptive threshold otherwise keeps freed blocks at random, making peaks incomparable); this
slows CPU steps a little, the same for every row.

Memory options (+InF+InI): a frozen SSL model with a momentum copy of the whole detector
or of the head only (``momentum_share_frozen``), gradient checkpointing of the
transformer, bf16 autocast (``--precision=bf16``).

On a GPU (``--device cuda``), "peak" is ``torch.cuda.max_memory_allocated`` during the
steps and "+ step" its increase over the memory allocated after building; the XLS-R 300M
size is ``--hidden-size 1024 --layers 24`` (random weights: the cost is the same).

    python benchmarks/bench_ssl.py [--steps 3] [--batch-size 14] [--hidden-size 128]
                                   [--layers 4] [--threads 2] [--device cpu]

Prints two markdown tables.
"""

import argparse
import concurrent.futures
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HPARAMS = ROOT / "hparams" / "ssl_aasist_inf_ini.yaml"

VARIANTS = {
    "baseline": {"use_inf": False, "use_ini": False},
    "+InF": {"use_ini": False},
    "+InI": {"use_inf": False},
    "+InF+InI": {},
}
MEMORY_OPTIONS = {
    "fine-tuned, fp32": ({}, "fp32"),
    "frozen SSL, full momentum copy": (
        {"freeze_ssl": True, "context": {"momentum_share_frozen": False}}, "fp32",
    ),
    "frozen SSL, head-only momentum copy": ({"freeze_ssl": True}, "fp32"),
    "fine-tuned, gradient checkpointing": ({"gradient_checkpointing": True}, "fp32"),
    "fine-tuned, bf16 autocast": ({}, "bf16"),
}


def _memory_kib(field: str) -> int:
    """A field of /proc/self/status in KiB (VmRSS: now, VmHWM: peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def measure(ssl_folder: str, overrides: dict, precision: str, args: dict) -> dict:
    """Builds the brain in this (fresh) process and times ``fit_batch``."""
    import speechbrain as sb
    import torch
    from hyperpyyaml import load_hyperpyyaml

    from speechbrain_ssdctx.training.brain import DetectorBrain

    torch.set_num_threads(args["threads"])
    torch.manual_seed(0)
    base = {
        "ssl_hub": ssl_folder, "output_folder": tempfile.mkdtemp(),
        "batch_size": args["batch_size"], "rawboost_algorithm": 0,
    }
    with open(HPARAMS) as stream:
        hparams = load_hyperpyyaml(stream, {**base, **overrides})
    brain = DetectorBrain(
        modules=hparams["modules"], opt_class=hparams["opt_class"], hparams=hparams,
        run_opts={"noprogressbar": True, "precision": precision, "device": args["device"]},
    )
    brain.init_optimizers()
    brain.modules.train()
    brain.on_stage_start(sb.Stage.TRAIN)
    context = brain.modules.context
    if context.use_ini:  # a full bank: the largest L_InI cost
        size, dim = context.memory.size, context.memory.dim
        context.memory.enqueue(torch.randn(size, dim), torch.randint(0, 2, (size,)))
    cuda = args["device"].startswith("cuda")
    samples = int(round(hparams["train_seconds"] * hparams["sample_rate"]))
    batch = sb.dataio.batch.PaddedBatch([
        {"id": str(i), "sig": 0.1 * torch.randn(samples), "label_id": i % 2}
        for i in range(hparams["batch_size"])
    ])
    if cuda:
        built = torch.cuda.memory_allocated() // 1024
        torch.cuda.reset_peak_memory_stats()
    else:
        built = _memory_kib("VmRSS")
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM (the peak) to now
    brain.fit_batch(batch)  # warm-up
    times = []
    for _ in range(args["steps"]):
        start = time.perf_counter()
        brain.fit_batch(batch)
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    peak = torch.cuda.max_memory_allocated() // 1024 if cuda else _memory_kib("VmHWM")
    trainable = sum(p.numel() for p in brain.modules.detector.parameters() if p.requires_grad)
    copy_bytes = 0
    if context.use_ini:  # what the momentum encoder holds (shared modules are not in it)
        state = context.momentum_encoder.state_dict().values()
        copy_bytes = sum(t.numel() * t.element_size() for t in state)
    return {
        "seconds": statistics.median(times), "peak_mib": peak / 1024,
        "step_mib": (peak - built) / 1024, "trainable": trainable,
        "copy_mib": copy_bytes / 2**20,
    }


def time_rawboost(batch_size: int, algorithm: int, steps: int) -> float:
    import torch

    from speechbrain_ssdctx.augment import RawBoost

    rawboost = RawBoost(algorithm=algorithm, seed=0)
    waveforms = 0.1 * torch.randn(batch_size, 64600)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        rawboost(waveforms)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def in_fresh_process(function, *arguments):
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        return pool.submit(function, *arguments).result()


def main(argv=None):
    # Inherited by the spawned workers (glibc reads it at start): see the module docstring.
    os.environ.setdefault("MALLOC_MMAP_THRESHOLD_", "65536")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=14)
    parser.add_argument("--hidden-size", type=int, default=128)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    args = parser.parse_args(argv)
    import torch

    sys.path.insert(0, str(ROOT / "tests"))  # the tiny SSL model builder of the tests
    from ssl_utils import build_tiny_ssl_model

    options = {"steps": args.steps, "batch_size": args.batch_size, "threads": args.threads,
               "device": args.device}
    folder = str(build_tiny_ssl_model(tempfile.mkdtemp(), hidden_size=args.hidden_size,
                                      num_layers=args.layers))
    print(f"torch {torch.__version__}, {args.threads} threads, median of {args.steps} steps, "
          f"batch {args.batch_size} x 64,600 samples, SSL model {args.layers} layers x "
          f"{args.hidden_size} (XLS-R architecture, random weights), {args.device}\n")
    print("| variant | s / step | ratio | peak (MiB) | + step (MiB) | ratio |")
    print("|---|---|---|---|---|---|")
    baseline = None
    for variant, overrides in VARIANTS.items():
        result = in_fresh_process(measure, folder, overrides, "fp32", options)
        baseline = baseline or result
        print(f"| {variant} | {result['seconds']:.2f} "
              f"| {result['seconds'] / baseline['seconds']:.2f} | {result['peak_mib']:.0f} "
              f"| {result['step_mib']:.0f} | {result['step_mib'] / baseline['step_mib']:.2f} |",
              flush=True)
    print("\n+InF+InI, memory options:\n")
    print("| option | trainable params | momentum copy (MiB) | s / step | peak (MiB) "
          "| + step (MiB) |")
    print("|---|---|---|---|---|---|")
    for option, (overrides, precision) in MEMORY_OPTIONS.items():
        result = in_fresh_process(measure, folder, overrides, precision, options)
        print(f"| {option} | {result['trainable']:,} | {result['copy_mib']:.1f} "
              f"| {result['seconds']:.2f} | {result['peak_mib']:.0f} | {result['step_mib']:.0f} |",
              flush=True)
    for algorithm in (3, 5):
        seconds = in_fresh_process(time_rawboost, args.batch_size, algorithm, args.steps)
        print(f"\nRawBoost algorithm {algorithm}, batch {args.batch_size} x 64,600 samples, "
              f"one process: {seconds:.2f} s")


if __name__ == "__main__":
    main()
