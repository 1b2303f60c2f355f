#!/usr/bin/env python3
"""Time per training step: baseline vs +InF, +InI and +InF+InI, for LCNN and AASIST.

Each system is built from its recipe YAML (the paper's batches: 64 for LCNN, 8 for
AASIST; 6-second inputs) and timed on ``DetectorBrain.fit_batch`` (forward, backward,
optimiser step, momentum update and enqueue) with the memory bank full (4096 entries,
the worst case for L_InI), one variant after the other (``--interleave``: built side by
side, their steps alternated, so that a change of machine load hits all of them alike);
ratios are to the baseline of the same run. The floor for +InF+InI is about 2.3x: two
forward / backward passes plus one momentum forward.

Per variant: the median wall time of a step, the median CPU time of the process (user +
system, all threads: on a machine shared with other jobs it is steadier than the wall
time), the page faults per step (memory the kernel had to map and zero again), the
process's resident peak so far and, on a GPU, the peak GPU memory. ``--profile`` adds a
table of the operators' self times (``torch.profiler``) of one step of each variant, with
the excess of +InF+InI over twice the baseline per operator.

    python benchmarks/bench_training.py [--steps 3] [--models lcnn aasist] [--threads 2]
    python benchmarks/bench_training.py --models lcnn --profile
    python benchmarks/bench_training.py --device cuda --precision bf16

Prints markdown tables.
"""

import argparse
import gc
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import speechbrain as sb
import torch
from hyperpyyaml import load_hyperpyyaml

from speechbrain_ssdctx.training.brain import DetectorBrain
from speechbrain_ssdctx.utils.allocator import retain_freed_memory

HPARAMS = Path(__file__).resolve().parents[1] / "hparams"
SYSTEMS = {"lcnn": "lcnn_inf_ini.yaml", "aasist": "aasist_inf_ini.yaml"}
VARIANTS = {
    "baseline": {"use_inf": False, "use_ini": False},
    "+InF": {"use_ini": False},
    "+InI": {"use_inf": False},
    "+InF+InI": {},
}
PROFILED_OPS = 15


def build_brain(hparams_file: Path, overrides: dict, device: str, precision: str):
    """A ``DetectorBrain`` of the recipe, ready for ``fit_batch``, with a full bank."""
    with open(hparams_file) as stream:
        hparams = load_hyperpyyaml(stream, {"output_folder": tempfile.mkdtemp(), **overrides})
    brain = DetectorBrain(
        modules=hparams["modules"], opt_class=hparams["opt_class"], hparams=hparams,
        run_opts={"noprogressbar": True, "device": device, "precision": precision},
    )
    brain.init_optimizers()
    brain.modules.train()
    brain.on_stage_start(sb.Stage.TRAIN)
    context = brain.modules.context
    if context.use_ini:  # a full bank: the largest L_InI cost
        size, dim = context.memory.size, context.memory.dim
        context.memory.enqueue(torch.randn(size, dim), torch.randint(0, 2, (size,)))
    return brain, hparams


def make_batch(hparams: dict):
    samples = int(hparams["train_seconds"] * hparams["sample_rate"])
    return sb.dataio.batch.PaddedBatch([
        {"id": str(i), "sig": 0.1 * torch.randn(samples), "label_id": i % 2}
        for i in range(hparams["batch_size"])
    ])


def usage() -> tuple[float, int]:
    """CPU seconds (user + system, all threads) and minor page faults of this process."""
    now = resource.getrusage(resource.RUSAGE_SELF)
    return now.ru_utime + now.ru_stime, now.ru_minflt


def timed_step(brain: DetectorBrain, batch, device: str) -> dict:
    """One ``fit_batch``: wall seconds, CPU seconds and page faults."""
    synchronize(device)
    cpu, faults = usage()
    start = time.perf_counter()
    brain.fit_batch(batch)
    synchronize(device)
    wall = time.perf_counter() - start
    cpu_after, faults_after = usage()
    return {"wall": wall, "cpu": cpu_after - cpu, "faults": faults_after - faults}


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def measure(model: str, args) -> dict:
    """Medians of the steps of every variant of ``model`` (and the profiles if asked).

    By default the variants run one after the other, each built, warmed up (one step),
    timed and freed before the next, so that the process holds one variant's memory at a
    time (as a recipe does). ``--interleave`` builds the four side by side and alternates
    their steps (robust to a changing machine load, but the heap then holds the
    fragments of four allocation patterns: more resident memory).
    """
    sizes = {"batch_size": args.batch, "train_seconds": args.seconds}
    sizes = {key: value for key, value in sizes.items() if value is not None}

    def build(overrides):
        return build_brain(HPARAMS / SYSTEMS[model], {**overrides, **sizes}, args.device,
                           args.precision)

    results = {"profile": {}}
    if args.interleave:
        systems = {name: build(overrides) for name, overrides in VARIANTS.items()}
        batch = make_batch(next(iter(systems.values()))[1])
        peaks = {name: warm_up(brain, batch, args.device) for name, (brain, _) in
                 systems.items()}
        runs = {name: [] for name in systems}
        for _ in range(args.steps):
            for name, (brain, _) in systems.items():
                runs[name].append(timed_step(brain, batch, args.device))
        for name, (brain, _) in systems.items():
            results[name] = summary(runs[name], peaks[name])
            if args.profile:
                results["profile"][name] = profile_step(brain, batch)
    else:
        for name, overrides in VARIANTS.items():
            brain, hparams = build(overrides)
            batch = make_batch(hparams)
            peak = warm_up(brain, batch, args.device)
            runs = [timed_step(brain, batch, args.device) for _ in range(args.steps)]
            results[name] = summary(runs, peak)
            if args.profile:
                results["profile"][name] = profile_step(brain, batch)
            del brain
            gc.collect()
    results["batch"] = len(batch.id)
    return results


def warm_up(brain: DetectorBrain, batch, device: str) -> float | None:
    """One untimed step; returns its peak GPU memory (GiB) on a GPU."""
    if not device.startswith("cuda"):
        brain.fit_batch(batch)
        return None
    torch.cuda.reset_peak_memory_stats()
    brain.fit_batch(batch)
    return torch.cuda.max_memory_allocated() / 2**30


def summary(runs: list[dict], gpu_peak: float | None) -> dict:
    """Medians of the timed steps, the GPU peak, and the process's resident peak so far."""
    row = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    row["peak_gib"] = gpu_peak
    row["rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    return row


def profile_step(brain: DetectorBrain, batch) -> dict[str, float]:
    """Self time (ms) of every operator in one step, from ``torch.profiler``."""
    activities = [torch.profiler.ProfilerActivity.CPU]
    if torch.cuda.is_available():
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    with torch.profiler.profile(activities=activities) as profiler:
        brain.fit_batch(batch)
    return {event.key: event.self_cpu_time_total / 1e3 + _device_time(event) / 1e3
            for event in profiler.key_averages()}


def _device_time(event) -> float:
    return getattr(event, "self_device_time_total", 0.0) or 0.0


def print_step_table(model: str, results: dict, device: str) -> None:
    base = results["baseline"]
    gpu = device.startswith("cuda")
    print(f"\n### {model}, batch {results['batch']}\n")
    print("| variant | s / step | ratio | CPU s / step | CPU ratio | page faults / step "
          "| process peak RSS (GB) |" + (" peak GPU GiB |" if gpu else ""))
    print("|---|---|---|---|---|---|---|" + ("---|" if gpu else ""))
    for name in VARIANTS:
        row = results[name]
        print(f"| {name} | {row['wall']:.2f} | {row['wall'] / base['wall']:.2f} "
              f"| {row['cpu']:.2f} | {row['cpu'] / base['cpu']:.2f} | {row['faults']:,.0f} "
              f"| {row['rss_gb']:.1f} |" + (f" {row['peak_gib']:.2f} |" if gpu else ""))


def print_profile(model: str, profile: dict) -> None:
    """Operators by self time in +InF+InI, with each variant's time and the excess."""
    base, full = profile["baseline"], profile["+InF+InI"]
    total = {name: sum(ops.values()) for name, ops in profile.items()}
    print(f"\n### {model}: operator self time per step (ms, torch.profiler)\n")
    print("| operator | " + " | ".join(VARIANTS) + " | +InF+InI / baseline "
          "| excess over 2x baseline |")
    print("|---|" + "---|" * len(VARIANTS) + "---|---|")
    for op in sorted(full, key=full.get, reverse=True)[:PROFILED_OPS]:
        times = [profile[name].get(op, 0.0) for name in VARIANTS]
        ratio = f"{full[op] / base[op]:.2f}" if base.get(op) else "-"
        print(f"| `{op}` | " + " | ".join(f"{t:,.0f}" for t in times)
              + f" | {ratio} | {full[op] - 2 * base.get(op, 0.0):+,.0f} |")
    times = [total[name] for name in VARIANTS]
    print("| **all operators** | " + " | ".join(f"{t:,.0f}" for t in times)
          + f" | {total['+InF+InI'] / total['baseline']:.2f} "
          f"| {total['+InF+InI'] - 2 * total['baseline']:+,.0f} |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=3, help="timed steps per variant")
    parser.add_argument("--models", nargs="+", default=list(SYSTEMS), choices=list(SYSTEMS))
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--batch", type=int, default=None, help="instead of the recipe's")
    parser.add_argument("--seconds", type=float, default=None, help="instead of 6 s")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16"])
    parser.add_argument("--allocator", default="recipe", choices=["recipe", "retain", "default"],
                        help="CPU: the recipe's cpu_retain_freed_memory (LCNN: keep freed "
                             "memory, AASIST: glibc's default), or force one")
    parser.add_argument("--interleave", action="store_true",
                        help="alternate the variants' steps (for a loaded machine; more memory)")
    parser.add_argument("--profile", action="store_true",
                        help="also print the operators' self times of one step per variant")
    args = parser.parse_args(argv)
    if len(args.models) > 1:  # one process per model: the allocator setting is process-wide
        rest = strip_models(sys.argv[1:] if argv is None else argv)
        for model in args.models:
            subprocess.run([sys.executable, __file__, *rest, "--models", model], check=True)
        return
    model = args.models[0]
    torch.set_num_threads(args.threads)
    cpu = args.device == "cpu"
    retain = args.allocator == "retain" or (
        args.allocator == "recipe" and recipe_retains_memory(model)
    )
    if cpu and retain:
        retain_freed_memory()
    torch.manual_seed(0)
    if cpu:
        allocator = "malloc keeps freed memory" if retain else "default malloc"
        machine = f"{args.threads} threads, {allocator}"
    else:
        machine = torch.cuda.get_device_name(torch.device(args.device))
    order = "interleaved" if args.interleave else "one variant after the other"
    print(f"torch {torch.__version__}, {args.device} ({machine}), {args.precision}, "
          f"median of {args.steps} steps per variant ({order})")
    results = measure(model, args)
    print_step_table(model, results, args.device)
    if args.profile:
        print_profile(model, results["profile"])


def strip_models(argv: list[str]) -> list[str]:
    """The arguments without ``--models`` and its values."""
    kept, skipping = [], False
    for arg in argv:
        if arg.startswith("--models"):
            skipping = "=" not in arg
            continue
        if skipping and not arg.startswith("--"):
            continue
        skipping = False
        kept.append(arg)
    return kept


def recipe_retains_memory(model: str) -> bool:
    """The recipe's ``cpu_retain_freed_memory`` (read without building the objects)."""
    text = (HPARAMS / SYSTEMS[model]).read_text()
    return "\ncpu_retain_freed_memory: True" in text


if __name__ == "__main__":
    main()
