#!/usr/bin/env python3
"""Time and peak memory per training step: baseline vs +InF, +InI and +InF+InI (joint and
sequential views), for LCNN, AASIST and an SSL detector.

Each system is built from its recipe YAML (the paper's batches: 64 for LCNN, 8 for
AASIST, 14 for the SSL detector; 6-second inputs, 4 s for the SSL detector) and timed on
``DetectorBrain.fit_batch`` (forward, backward, optimiser step, momentum update and
enqueue) with the memory bank full (4096 entries, the worst case for L_InI). The SSL
detector is ``ssl_aasist_inf_ini.yaml`` on a small randomly initialised SSL model of the
XLS-R architecture (``--ssl-hidden-size``, ``--ssl-layers``; RawBoost off; with
``--ssl-full-size`` the released models' feature encoder, heads and feed-forward width,
so ``--ssl-hidden-size 1024 --ssl-layers 24 --ssl-full-size`` is XLS-R 300M's shape). The
``sequential`` variants set ``ContextLoss.inf_views = "sequential"`` (the views' forward
and backward passes one after the other, at one view's activation memory). Ratios are
to the baseline of the same run; ``/ joint`` compares a sequential variant with its joint
one. The floor for +InF+InI is about 2.3x: two forward / backward passes plus one
momentum forward.

Each variant runs in a fresh process (built, warmed up by one step, timed, ended), so its
peak is its own: "peak RSS" is the process's resident peak (VmHWM) from the end of the
build to the end of the steps, "+ step" its increase over the memory held after building
(detector, optimiser, bank); on a GPU both are ``torch.cuda.max_memory_allocated``.
Unless ``--allocator retain`` (or the recipe's ``cpu_retain_freed_memory``, LCNN) keeps
freed memory, the workers run with glibc's mmap threshold fixed at 64 KiB
(``MALLOC_MMAP_THRESHOLD_``), so that freed tensors leave the resident set at once and its
peak follows the live tensors. ``--interleave`` builds the variants side by side in one
process and alternates their steps (robust to a changing machine load; the peak column is
then the process's peak so far). Also per variant: the median CPU time of the process
(user + system, all threads: on a machine shared with other jobs it is steadier than the
wall time) and the page faults per step. ``--profile`` adds a table of the operators'
self times (``torch.profiler``) of one step of each variant, with the excess of +InF+InI
over twice the baseline per operator.

    python benchmarks/bench_training.py [--steps 3] [--models lcnn aasist ssl] [--threads 2]
    python benchmarks/bench_training.py --models lcnn --batch 16 --steps 2
    python benchmarks/bench_training.py --models lcnn --profile
    python benchmarks/bench_training.py --device cuda --precision bf16
    python benchmarks/bench_training.py --device cuda --models ssl --ssl-hidden-size 1024 \
        --ssl-layers 24 --ssl-full-size --batch 14    # the CUDA peaks at the paper's batch

Prints markdown tables.
"""

import argparse
import concurrent.futures
import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import speechbrain as sb
import torch
from hyperpyyaml import load_hyperpyyaml

from speechbrain_ssdctx.training.brain import DetectorBrain
from speechbrain_ssdctx.utils.allocator import retain_freed_memory
from speechbrain_ssdctx.utils.hparams_blocks import open_hparams

HPARAMS = Path(__file__).resolve().parents[1] / "hparams"
SYSTEMS = {"lcnn": "lcnn_inf_ini.yaml", "aasist": "aasist_inf_ini.yaml",
           "ssl": "ssl_aasist_inf_ini.yaml"}
#: Variant: (YAML overrides, ContextLoss.inf_views).
VARIANTS = {
    "baseline": ({"use_inf": False, "use_ini": False}, "joint"),
    "+InF": ({"use_ini": False}, "joint"),
    "+InF sequential": ({"use_ini": False}, "sequential"),
    "+InI": ({"use_inf": False}, "joint"),
    "+InF+InI": ({}, "joint"),
    "+InF+InI sequential": ({}, "sequential"),
}
PROFILED_OPS = 15
MMAP_THRESHOLD = "65536"


def build_brain(hparams_file: Path, overrides: dict, device: str, precision: str,
                inf_views: str = "joint"):
    """A ``DetectorBrain`` of the recipe, ready for ``fit_batch``, with a full bank."""
    hparams = load_hyperpyyaml(
        open_hparams(hparams_file), {"output_folder": tempfile.mkdtemp(), **overrides}
    )
    hparams["context"].inf_views = inf_views
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


def measure(model: str, args, ssl_folder: str | None) -> dict:
    """Medians of the steps of every variant of ``model`` (and the profiles if asked),
    each variant in a fresh process (all of them in one with ``--interleave``)."""
    options = vars(args)
    if args.interleave:
        results = in_fresh_process(run_interleaved, model, options, ssl_folder)
    else:
        results = {"profile": {}}
        for name in options["variants"]:
            row = in_fresh_process(run_variant, model, name, options, ssl_folder)
            results["profile"][name] = row.pop("profile")
            results["batch"] = row.pop("batch")
            results[name] = row
    return results


def in_fresh_process(function, *arguments):
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        return pool.submit(function, *arguments).result()


def set_up_process(model: str, options: dict) -> None:
    """Threads, allocator setting and seed of a worker."""
    torch.set_num_threads(options["threads"])
    if options["device"] == "cpu" and retains_memory(model, options["allocator"]):
        retain_freed_memory()
    torch.manual_seed(0)


def build(model: str, name: str, options: dict, ssl_folder: str | None):
    sizes = {"batch_size": options["batch"], "train_seconds": options["seconds"]}
    overrides = {key: value for key, value in sizes.items() if value is not None}
    if model == "ssl":
        overrides.update(ssl_hub=ssl_folder, rawboost_algorithm=0)
    yaml_overrides, inf_views = VARIANTS[name]
    return build_brain(HPARAMS / SYSTEMS[model], {**yaml_overrides, **overrides},
                       options["device"], options["precision"], inf_views)


def run_variant(model: str, name: str, options: dict, ssl_folder: str | None) -> dict:
    """In a fresh process: builds one variant, warms it up, times its steps."""
    set_up_process(model, options)
    device = options["device"]
    brain, hparams = build(model, name, options, ssl_folder)
    batch = make_batch(hparams)
    built = reset_peak(device)
    brain.fit_batch(batch)  # warm-up
    runs = [timed_step(brain, batch, device) for _ in range(options["steps"])]
    peak = read_peak(device)
    row = summary(runs, peak, peak - built)
    row["profile"] = profile_step(brain, batch) if options["profile"] else None
    row["batch"] = len(batch.id)
    return row


def run_interleaved(model: str, options: dict, ssl_folder: str | None) -> dict:
    """In a fresh process: all variants built side by side, their steps alternated."""
    set_up_process(model, options)
    device = options["device"]
    systems = {name: build(model, name, options, ssl_folder) for name in options["variants"]}
    batch = make_batch(next(iter(systems.values()))[1])
    for brain, _ in systems.values():
        brain.fit_batch(batch)  # warm-up
    runs = {name: [] for name in systems}
    for _ in range(options["steps"]):
        for name, (brain, _) in systems.items():
            runs[name].append(timed_step(brain, batch, device))
    results = {"profile": {}, "batch": len(batch.id)}
    for name, (brain, _) in systems.items():
        results[name] = summary(runs[name], read_peak(device), None)
        if options["profile"]:
            results["profile"][name] = profile_step(brain, batch)
    return results


def memory_gb(field: str) -> float:
    """A field of /proc/self/status in GB (VmRSS: now, VmHWM: peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024 / 1e9
    raise RuntimeError(f"no {field} in /proc/self/status")


def reset_peak(device: str) -> float:
    """Starts the peak count from now; returns the memory held now (GB)."""
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
        return torch.cuda.memory_allocated() / 1e9
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    return memory_gb("VmRSS")


def read_peak(device: str) -> float:
    """The peak memory since :func:`reset_peak` (GB; on a GPU the CUDA allocator's)."""
    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 1e9
    return memory_gb("VmHWM")


def summary(runs: list[dict], peak: float, step_peak: float | None) -> dict:
    """Medians of the timed steps, the peak and its increase over the built state."""
    row = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    row["peak_gb"] = peak
    row["step_gb"] = step_peak
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


def print_step_table(model: str, results: dict, device: str, interleaved: bool) -> None:
    base = results["baseline"]
    memory = "GPU peak" if device.startswith("cuda") else "peak RSS"
    print(f"\n### {model}, batch {results['batch']}\n")
    if interleaved:
        print(f"| variant | s / step | ratio | CPU s / step | CPU ratio | page faults / step "
              f"| process {memory} so far (GB) |")
        print("|---|---|---|---|---|---|---|")
    else:
        print(f"| variant | s / step | ratio | / joint | CPU s / step | CPU ratio "
              f"| page faults / step | {memory} (GB) | peak ratio | + step (GB) "
              "| + step ratio |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name in (name for name in VARIANTS if name in results):
        row = results[name]
        cells = [name, f"{row['wall']:.2f}", f"{row['wall'] / base['wall']:.2f}"]
        if not interleaved:
            joint = results.get(name.replace(" sequential", ""))
            cells.append(f"{row['wall'] / joint['wall']:.2f}" if "sequential" in name
                         and joint else "")
        cells += [f"{row['cpu']:.2f}", f"{row['cpu'] / base['cpu']:.2f}",
                  f"{row['faults']:,.0f}", f"{row['peak_gb']:.2f}"]
        if not interleaved:
            cells += [f"{row['peak_gb'] / base['peak_gb']:.2f}", f"{row['step_gb']:.2f}",
                      f"{row['step_gb'] / base['step_gb']:.2f}"]
        print("| " + " | ".join(cells) + " |")


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
    parser.add_argument("--seconds", type=float, default=None, help="instead of the recipe's")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16"])
    parser.add_argument("--allocator", default="recipe", choices=["recipe", "retain", "default"],
                        help="CPU: the recipe's cpu_retain_freed_memory (LCNN: keep freed "
                             "memory, AASIST and SSL: glibc's default), or force one")
    parser.add_argument("--interleave", action="store_true",
                        help="alternate the variants' steps in one process (for a loaded "
                             "machine; the peak is then the process's)")
    parser.add_argument("--profile", action="store_true",
                        help="also print the operators' self times of one step per variant")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS),
                        help="a subset of the variants (the baseline always runs)")
    parser.add_argument("--ssl-hidden-size", type=int, default=128)
    parser.add_argument("--ssl-layers", type=int, default=4)
    parser.add_argument("--ssl-full-size", action="store_true",
                        help="the released models' feature encoder, heads and feed-forward "
                             "width (with --ssl-hidden-size 1024 --ssl-layers 24: XLS-R 300M)")
    args = parser.parse_args(argv)
    args.variants = ["baseline"] + [name for name in args.variants if name != "baseline"]
    # Inherited by the spawned workers (glibc reads it at start): see the module docstring.
    os.environ.setdefault("MALLOC_MMAP_THRESHOLD_", MMAP_THRESHOLD)
    ssl_folder = None
    if "ssl" in args.models:
        sys.path.insert(0, str(HPARAMS.parent / "tests"))  # the tests' tiny SSL model builder
        from ssl_utils import build_tiny_ssl_model

        ssl_folder = str(build_tiny_ssl_model(
            tempfile.mkdtemp(), hidden_size=args.ssl_hidden_size, num_layers=args.ssl_layers,
            full_size=args.ssl_full_size,
        ))
    if args.device == "cpu":
        machine = f"{args.threads} threads"
    else:
        machine = torch.cuda.get_device_name(torch.device(args.device))
    order = "interleaved in one process" if args.interleave else "each variant in its own process"
    print(f"torch {torch.__version__}, {args.device} ({machine}), {args.precision}, "
          f"median of {args.steps} steps per variant ({order}); SSL model "
          f"{args.ssl_layers} layers x {args.ssl_hidden_size}"
          f"{' (full-size feature encoder, heads, feed-forward)' if args.ssl_full_size else ''}")
    for model in args.models:
        allocator = ("malloc keeps freed memory" if retains_memory(model, args.allocator)
                     else f"default malloc, mmap threshold {os.environ['MALLOC_MMAP_THRESHOLD_']}")
        results = measure(model, args, ssl_folder)
        print(f"\n{model}: {allocator}")
        print_step_table(model, results, args.device, args.interleave)
        if args.profile and "+InF+InI" in args.variants:
            print_profile(model, results["profile"])


def retains_memory(model: str, allocator: str) -> bool:
    """Whether the workers of ``model`` keep freed memory (``--allocator``, or the recipe's
    ``cpu_retain_freed_memory`` read without building the objects)."""
    if allocator != "recipe":
        return allocator == "retain"
    text = (HPARAMS / SYSTEMS[model]).read_text()
    return "\ncpu_retain_freed_memory: True" in text


if __name__ == "__main__":
    main()
