#!/usr/bin/env python3
"""Benchmarks the detectors on CPU; prints a markdown table.

For LCNN (batch 64), AASIST and AASIST-L (batch 8), the paper's batch sizes, on 6-second
16 kHz utterances: forward time (eval mode, no gradients) per batch and per utterance,
the real-time factor of inference (seconds of compute per second of audio), forward +
backward time (train mode, cross-entropy loss) per batch and per utterance, and the peak
extra resident memory of each measurement (max RSS during it minus RSS before it). Each
(model, mode) runs in a fresh process so that peaks do not mix; times are the median of
``--repeats`` runs after one warm-up run.

Then AASIST against the official network's code (``aasist_official_forward.py``: the
official forward re-written over the same weights, the bundled official AASIST weights),
same input and threads, the two runs interleaved in one process (``--official-repeats``
pairs after one warm-up each): forward in eval mode without gradients and a training step
(train mode, forward, cross-entropy, backward, Adam step), median times, the ratio ours /
official and the largest difference of the eval-mode logits (``--official-batch`` x
64,600 samples, the official input). ``--official-only`` prints that table alone.

Run from the repository root: ``python benchmarks/bench_models.py [--threads 2]``.
"""

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(ROOT / "benchmarks"))

from aasist_official_forward import official_forward  # noqa: E402

from speechbrain_ssdctx.models import AASIST, LCNN  # noqa: E402

CONFIGS = {"LCNN": 64, "AASIST": 8, "AASIST-L": 8}  # model -> the paper's batch size
SAMPLE_RATE = 16000


def build(name: str) -> torch.nn.Module:
    return LCNN() if name == "LCNN" else AASIST(name)


def current_rss_mib() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize() / 2**20


def measure(name: str, mode: str, batch: int, seconds: float, repeats: int) -> dict:
    """Median time of one step and peak extra memory, in this process."""
    torch.manual_seed(0)
    model = build(name)
    wavs = torch.randn(batch, int(seconds * SAMPLE_RATE))
    labels = torch.arange(batch) % 2

    def step():
        if mode == "forward":
            model.eval()
            with torch.no_grad():
                model(wavs)
        else:
            model.train()
            model.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(model(wavs)[1], labels).backward()

    before = current_rss_mib()
    step()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB on Linux
    return {"seconds": statistics.median(times), "peak_mib": peak - before}


def run_isolated(name: str, mode: str, batch: int, args: argparse.Namespace) -> dict:
    command = [sys.executable, __file__, "--single", name, mode, str(batch)]
    command += ["--seconds", str(args.seconds), "--repeats", str(args.repeats)]
    command += ["--threads", str(args.threads)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.splitlines()[-1])


OFFICIAL_WEIGHTS = ROOT / "speechbrain_ssdctx" / "pretrained" / "AASIST.pth"
OFFICIAL_SAMPLES = 64600


def compare_with_official(batch: int, repeats: int) -> dict:
    """Ours and the official forward on the same model and input, interleaved."""
    torch.manual_seed(0)
    model = AASIST.from_official_checkpoint(OFFICIAL_WEIGHTS)
    wavs = 0.1 * torch.randn(batch, OFFICIAL_SAMPLES)
    labels = torch.arange(batch) % 2
    forwards = {"ours": lambda: model(wavs)[1], "official": lambda: official_forward(model, wavs)}
    with torch.no_grad():
        model.eval()
        difference = float((forwards["ours"]() - forwards["official"]()).abs().max())
        forward_times = interleaved(forwards, repeats)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-6)

    def train_step(forward):
        def step():
            optimizer.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(forward(), labels).backward()
            optimizer.step()
        return step

    train_times = interleaved({name: train_step(f) for name, f in forwards.items()}, repeats)
    return {"forward": forward_times, "train": train_times, "difference": difference}


def interleaved(steps: dict, repeats: int) -> dict[str, float]:
    """Median seconds of each step, the steps alternated (one warm-up each first)."""
    for step in steps.values():
        step()
    times = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def print_official_table(args) -> None:
    result = compare_with_official(args.official_batch, args.official_repeats)
    print(f"\nAASIST (official weights) against the official forward, batch "
          f"{args.official_batch} x {OFFICIAL_SAMPLES:,} samples, {args.threads} threads, "
          f"median of {args.official_repeats} interleaved runs; largest logit difference "
          f"(eval): {result['difference']:.1e}\n")
    print("| measurement | ours (s) | official code (s) | ours / official |")
    print("|---|---:|---:|---:|")
    for mode, label in (("forward", "forward, eval mode, no gradient"),
                        ("train", "training step (forward, CE, backward, Adam)")):
        ours, official = result[mode]["ours"], result[mode]["official"]
        print(f"| {label} | {ours:.2f} | {official:.2f} | {ours / official:.3f} |")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--seconds", type=float, default=6.0, help="utterance length")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--official-batch", type=int, default=8)
    parser.add_argument("--official-repeats", type=int, default=5)
    parser.add_argument("--official-only", action="store_true",
                        help="only the comparison with the official forward")
    parser.add_argument(
        "--single", nargs=3, metavar=("MODEL", "MODE", "BATCH"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.single:
        name, mode, batch = args.single
        print(json.dumps(measure(name, mode, int(batch), args.seconds, args.repeats)))
        return
    if args.official_only:
        print_official_table(args)
        return

    print(
        f"CPU, {args.threads} threads, {args.seconds:g}-s utterances, torch {torch.__version__}\n"
    )
    print(
        "| model | params | batch | forward / batch | forward / utt. | RTF (inference) "
        "| peak mem. fwd | fwd+bwd / batch | fwd+bwd / utt. | peak mem. fwd+bwd |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in args.models:
        batch = CONFIGS[name]
        params = sum(p.numel() for p in build(name).parameters())
        fwd = run_isolated(name, "forward", batch, args)
        train = run_isolated(name, "train", batch, args)
        per_utt, per_utt_train = fwd["seconds"] / batch, train["seconds"] / batch
        print(
            f"| {name} | {params:,} | {batch} | {fwd['seconds']:.2f} s | {per_utt:.3f} s "
            f"| {per_utt / args.seconds:.3f} | {fwd['peak_mib']:,.0f} MiB "
            f"| {train['seconds']:.2f} s | {per_utt_train:.3f} s | {train['peak_mib']:,.0f} MiB |"
        )
    print_official_table(args)


if __name__ == "__main__":
    main()
