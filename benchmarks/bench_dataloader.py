#!/usr/bin/env python3
"""Throughput of the training data pipeline, and the loader workers a training step needs.

The recipe's training pipeline (read the file, random crop or repeat padding to 6 s,
label, SpeechBrain's ``PaddedBatch``) is run through SpeechBrain's data loader with 0
(the main process), 1, 2, ... worker processes, over the ASVspoof 2019 LA training set
(``--data_folder``) or the bundled demo corpus (52 FLAC files of about 3 s, cycled).
Each configuration reads ``--batches`` batches after a first one (worker start-up,
reported apart). The second table turns the one-worker throughput into the number of
workers that keep a training step of a given duration fed: ``ceil(batch / step /
rate)``, with ``rate`` the utterances per second of one worker.

    python benchmarks/bench_dataloader.py [--batch 64] [--workers 0 1 2 4]
    python benchmarks/bench_dataloader.py --data_folder /data/LA --pin-memory
    python benchmarks/bench_dataloader.py --step-times 0.05 0.1 0.25 3.3

Prints markdown tables.
"""

import argparse
import itertools
import math
import tempfile
import time

import speechbrain as sb
import torch

from speechbrain_ssdctx.data import demo_corpus_folder, prepare_asvspoof2019_la
from speechbrain_ssdctx.data.dataio import load_datasets

#: Step times (s) of the second table: GPU-like steps, and the CPU steps measured by
#: bench_training.py (LCNN baseline at batch 64, AASIST baseline at batch 8).
STEP_TIMES = (0.05, 0.1, 0.25, 0.5, 3.3, 16.0)


def train_dataset(data_folder, seconds: float, sample_rate: int = 16000):
    """The recipe's training dataset (random crops of ``seconds``) of a 2019 LA folder."""
    folder = data_folder or demo_corpus_folder()
    manifests = prepare_asvspoof2019_la(folder, tempfile.mkdtemp())
    datasets = load_datasets({"train": manifests["train"]},
                             train_num_samples=int(round(seconds * sample_rate)),
                             sample_rate=sample_rate)
    return datasets["train"]


def throughput(dataset, batch: int, workers: int, batches: int, pin_memory: bool) -> dict:
    """Utterances per second over ``batches`` batches after the first one."""
    loader = sb.dataio.dataloader.make_dataloader(
        dataset, batch_size=batch, shuffle=True, num_workers=workers, pin_memory=pin_memory,
        persistent_workers=workers > 0,
    )
    start = time.perf_counter()
    stream = itertools.chain.from_iterable(itertools.repeat(loader))  # epochs, cycled
    next(stream)
    first = time.perf_counter() - start
    start = time.perf_counter()
    count = sum(len(next(stream).id) for _ in range(batches))
    seconds = time.perf_counter() - start
    return {"first": first, "rate": count / seconds}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data_folder", default=None,
                        help="ASVspoof 2019 LA folder (default: the bundled demo corpus)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=6.0, help="training crop length")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--batches", type=int, default=20, help="timed batches per setting")
    parser.add_argument("--pin-memory", action="store_true", help="page-locked batches (GPU)")
    parser.add_argument("--step-times", type=float, nargs="+", default=list(STEP_TIMES))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # as in a loader worker
    dataset = train_dataset(args.data_folder, args.seconds)
    print(f"torch {torch.__version__}, {len(dataset)} training utterances "
          f"({args.data_folder or 'demo corpus'}), batch {args.batch} x {args.seconds:g} s, "
          f"pin_memory={args.pin_memory}\n")
    print("| loader workers | utterances / s | per worker | ms / utterance (per worker) "
          "| first batch (s) |")
    print("|---|---|---|---|---|")
    rates = {}
    for workers in args.workers:
        result = throughput(dataset, args.batch, workers, args.batches, args.pin_memory)
        rates[workers] = result["rate"]
        per_worker = result["rate"] / max(workers, 1)
        label = f"{workers} (main process)" if workers == 0 else str(workers)
        print(f"| {label} | {result['rate']:,.0f} | {per_worker:,.0f} "
              f"| {1000 / per_worker:.2f} | {result['first']:.2f} |", flush=True)
    rate = rates.get(1, rates[min(rates)])  # one worker's throughput
    print(f"\nWorkers needed for a training step (one worker: {rate:,.0f} utterances / s):\n")
    print("| step (s) | batch | utterances / s needed | workers needed |")
    print("|---|---|---|---|")
    for step in args.step_times:
        needed = args.batch / step
        print(f"| {step:g} | {args.batch} | {needed:,.0f} | {math.ceil(needed / rate)} |")


if __name__ == "__main__":
    main()
