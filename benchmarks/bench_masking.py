"""Cost of the InF masking and of a full ContextLoss step, on this machine.

Prints markdown tables:

1. BandPassMasking throughput (utterances per second) for batches of ``--batch-size``
   utterances of ``--seconds`` s: with the filter cache warm (the steady state of a
   training run) and cold (every filter designed with Remez in the call), plus the time
   to design the whole 1 Hz bank.
2. One LCNN training step (forward, backward, Adam step) on the same batch: the
   baseline, +InF (joint and separate views), +InI and +InF+InI, with the share of the
   masking in each step.

Usage: ``python benchmarks/bench_masking.py [--batch-size 64] [--seconds 6] [--repeats 3]``
"""

import argparse
import statistics
import time

import torch

from speechbrain_ssdctx.method.context import ContextLoss
from speechbrain_ssdctx.method.masking import BandPassMasking
from speechbrain_ssdctx.models import LCNN


def timed(function, repeats: int) -> float:
    """Median wall time of ``function()`` over ``repeats`` calls, after one warm-up."""
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def masking_rows(wavs: torch.Tensor, lengths: torch.Tensor, repeats: int) -> list[str]:
    batch = wavs.shape[0]
    warm = BandPassMasking(seed=0)
    warm.filters(torch.arange(warm.low_min, warm.low_max + 1))  # the whole 1 Hz bank
    t_warm = timed(lambda: warm(wavs, lengths), repeats)

    def cold_call():
        BandPassMasking(seed=0)(wavs, lengths)

    t_cold = timed(cold_call, repeats)
    start = time.perf_counter()
    BandPassMasking().filters(torch.arange(160.0, 5841.0))
    t_bank = time.perf_counter() - start
    return [
        "| masking | seconds per batch | utterances / s |",
        "|---|---|---|",
        f"| warm cache (steady state) | {t_warm:.3f} | {batch / t_warm:.0f} |",
        f"| cold cache ({batch} Remez designs) | {t_cold:.3f} | {batch / t_cold:.0f} |",
        f"| design of the full 1 Hz bank (5681 filters) | {t_bank:.1f} | - |",
    ], t_warm


def step_time(context, detector, wavs, lengths, labels, repeats: int) -> float:
    optimizer = torch.optim.Adam(detector.parameters(), lr=3e-4)
    if hasattr(context, "masking"):  # warm the filter cache, as in a long run
        context.masking.filters(torch.arange(160.0, 5841.0))

    def step():
        optimizer.zero_grad()
        total, _ = context(detector, wavs, lengths, labels)
        total.backward()
        optimizer.step()
        context.after_step(detector)

    return timed(step, repeats)


def step_rows(wavs, lengths, labels, t_mask: float, repeats: int) -> list[str]:
    configurations = {
        "baseline": {"use_inf": False, "use_ini": False},
        "+InF (joint views)": {"use_inf": True, "use_ini": False},
        "+InF (separate views)": {"use_inf": True, "use_ini": False, "joint_views": False},
        "+InI": {"use_inf": False, "use_ini": True},
        "+InF+InI (joint views)": {"use_inf": True, "use_ini": True},
    }
    rows = [
        "| LCNN training step | seconds | x baseline | masking share |",
        "|---|---|---|---|",
    ]
    baseline = None
    for name, options in configurations.items():
        torch.manual_seed(0)
        detector = LCNN()
        context = ContextLoss(detector, **options)
        seconds = step_time(context, detector, wavs, lengths, labels, repeats)
        baseline = baseline or seconds
        share = f"{100 * t_mask / seconds:.1f} %" if options["use_inf"] else "-"
        rows.append(f"| {name} | {seconds:.2f} | {seconds / baseline:.2f} | {share} |")
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--skip-steps", action="store_true", help="masking table only")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(0)
    wavs = torch.randn(args.batch_size, int(args.seconds * 16000), generator=generator)
    lengths = torch.ones(args.batch_size)
    labels = torch.arange(args.batch_size) % 2
    print(f"batch {args.batch_size} x {args.seconds} s, {args.threads} threads, CPU\n")
    rows, t_mask = masking_rows(wavs, lengths, args.repeats)
    print("\n".join(rows))
    if not args.skip_steps:
        print()
        print("\n".join(step_rows(wavs, lengths, labels, t_mask, args.repeats)))


if __name__ == "__main__":
    main()
