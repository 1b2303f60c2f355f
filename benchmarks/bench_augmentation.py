#!/usr/bin/env python3
"""Cost of waveform augmentation per utterance, and a training step with it in or out of the step.

1. Each RawBoost algorithm (and any other augmentation given with ``--extra``, e.g. a
   codec) applied by ``AugmentationChain`` to ``--utterances`` crops of the bundled demo
   corpus (speech, repeat-padded to ``--seconds``), one thread as in a loader worker:
   median milliseconds per utterance.
2. The loader workers that keep a training step fed: ``ceil(batch * cost / step)`` for
   the step times of ``--step-times`` (each worker augments one utterance at a time).
3. The wall time per batch of a training loop over the demo corpus with RawBoost
   (``--algorithm``) off, in the step (``DetectorBrain``'s ``wav_augment``: the batch to the
   CPU and back, utterance by utterance) and in the loader's workers
   (``wav_augment_chain``, ``--workers``). The step is ``--step``: ``sleep:S`` stands for a
   device step of S seconds (a GPU step leaves the CPU free: the loader's workers run
   meanwhile), ``lcnn`` is a real LCNN + InF step on the CPU (which shares its cores with
   the workers).

    python benchmarks/bench_augmentation.py
    python benchmarks/bench_augmentation.py --step lcnn --batch 8 --seconds 2
    python benchmarks/bench_augmentation.py --extra codec=mypackage.codecs.CodecAugment

Prints markdown tables.
"""

import argparse
import importlib
import itertools
import math
import statistics
import tempfile
import time

import speechbrain as sb
import torch

from speechbrain_ssdctx.augment import AugmentationChain, RawBoost
from speechbrain_ssdctx.data import demo_corpus_folder, prepare_asvspoof2019_la
from speechbrain_ssdctx.data.dataio import load_datasets

#: Step times (s) of the workers table: GPU steps of an SSL detector (XLS-R + AASIST at
#: batch 14 on a current GPU: a few tenths of a second).
STEP_TIMES = (0.2, 0.5, 1.0)
ALGORITHMS = (1, 2, 3, 4, 5, 6, 7, 8)


def training_manifest() -> dict:
    """The demo corpus's training manifest (52 files of about 3 s)."""
    manifests = prepare_asvspoof2019_la(demo_corpus_folder(), tempfile.mkdtemp())
    return {"train": manifests["train"]}


def crops(manifest: dict, num_samples: int, count: int) -> list[tuple[str, torch.Tensor]]:
    """``count`` training crops ``(id, waveform)`` (files cycled if fewer)."""
    dataset = load_datasets(manifest, train_num_samples=num_samples)["train"]
    items = [(item["id"], item["sig"]) for item in dataset]
    return list(itertools.islice(itertools.cycle(items), count))


def utterance_cost(augmentation, utterances: list[tuple[str, torch.Tensor]]) -> float:
    """Median seconds of the chain with ``augmentation`` alone, per utterance."""
    chain = AugmentationChain({"augmentation": augmentation}, seed=0)
    chain.set_epoch(1)
    first_utt, first_signal = utterances[0]
    chain(first_signal, first_utt)  # first call: imports, caches
    times = []
    for index, (utt, signal) in enumerate(utterances):
        start = time.perf_counter()
        chain(signal, f"{utt}-{index}")
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def extra_augmentation(spec: str):
    """``name=module.Class`` (built without arguments) -> (name, instance)."""
    name, _, path = spec.partition("=")
    module, _, attribute = path.rpartition(".")
    return name, getattr(importlib.import_module(module), attribute)()


def workers_needed(cost: float, batch: int, step: float) -> int:
    """Loader workers that augment ``batch`` utterances within one ``step``."""
    return max(1, math.ceil(batch * cost / step))


class SleepStep:
    """A device step of fixed duration (the CPU is free meanwhile), RawBoost optionally first."""

    def __init__(self, seconds: float, in_step: RawBoost | None):
        self.seconds, self.in_step = seconds, in_step

    def __call__(self, batch) -> None:
        wavs, lens = batch.sig
        if self.in_step is not None:
            self.in_step(wavs, lens)
        time.sleep(self.seconds)


def lcnn_step(in_step: RawBoost | None):
    """A real training step: LCNN + InF with ``DetectorBrain`` (RawBoost as ``wav_augment``)."""
    from speechbrain.utils.epoch_loop import EpochCounter

    from speechbrain_ssdctx.method.context import ContextLoss
    from speechbrain_ssdctx.models import LCNN
    from speechbrain_ssdctx.training.brain import DetectorBrain

    detector = LCNN()
    hparams = {"epoch_counter": EpochCounter(1)}
    if in_step is not None:
        hparams["wav_augment"] = in_step
    brain = DetectorBrain(
        modules={"detector": detector,
                 "context": ContextLoss(detector, embedding_dim=detector.embedding_dim,
                                        use_ini=False)},
        opt_class=lambda params: torch.optim.Adam(params, lr=3e-4),
        hparams=hparams, run_opts={"noprogressbar": True},
    )
    brain.init_optimizers()
    brain.on_stage_start(sb.Stage.TRAIN)
    return brain.fit_batch


def seconds_per_batch(manifest, mode: str, args) -> float:
    """Median wall time per batch (loader wait + step) over ``args.batches`` batches."""
    num_samples = int(round(args.seconds * 16000))
    chain = None
    if mode == "in the loader's workers":
        chain = AugmentationChain({"rawboost": RawBoost(algorithm=args.algorithm)}, seed=0)
        chain.set_epoch(1)
    in_step = RawBoost(algorithm=args.algorithm, seed=0) if mode == "in the step" else None
    step = (lcnn_step(in_step) if args.step == "lcnn"
            else SleepStep(float(args.step.split(":")[1]), in_step))
    dataset = load_datasets(manifest, train_num_samples=num_samples, augmentation=chain)["train"]
    loader = sb.dataio.dataloader.make_dataloader(
        dataset, batch_size=args.batch, shuffle=True, num_workers=args.workers,
        persistent_workers=args.workers > 0,
    )
    stream = itertools.chain.from_iterable(itertools.repeat(loader))
    step(next(stream))  # worker start-up, first step
    times = []
    for _ in range(args.batches):
        start = time.perf_counter()
        step(next(stream))
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0375, help="crop length (64,600)")
    parser.add_argument("--utterances", type=int, default=14, help="timed per augmentation")
    parser.add_argument("--algorithms", type=int, nargs="+", default=list(ALGORITHMS))
    parser.add_argument("--extra", action="append", default=[],
                        help="name=module.Class: another augmentation to time (no arguments)")
    parser.add_argument("--batch", type=int, default=14)
    parser.add_argument("--step-times", type=float, nargs="+", default=list(STEP_TIMES))
    parser.add_argument("--algorithm", type=int, default=5, help="RawBoost in the loop")
    parser.add_argument("--step", default="sleep:1.0", help="sleep:SECONDS | lcnn")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batches", type=int, default=4, help="timed batches per mode")
    args = parser.parse_args(argv)
    manifest = training_manifest()
    num_samples = int(round(args.seconds * 16000))

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in a loader worker
    utterances = crops(manifest, num_samples, args.utterances + 1)
    augmentations = {f"RawBoost {a}": RawBoost(algorithm=a) for a in args.algorithms}
    augmentations.update(extra_augmentation(spec) for spec in args.extra)
    print(f"torch {torch.__version__}, one thread, {num_samples:,}-sample crops of the demo "
          f"corpus, median of {args.utterances} utterances; workers for a batch of "
          f"{args.batch}\n")
    steps = " | ".join(f"workers, {s:g} s step" for s in args.step_times)
    print(f"| augmentation | ms / utterance | s / batch of {args.batch} | {steps} |")
    print("|---|---|---|" + "---|" * len(args.step_times))
    for name, augmentation in augmentations.items():
        cost = utterance_cost(augmentation, utterances)
        needed = " | ".join(str(workers_needed(cost, args.batch, s)) for s in args.step_times)
        print(f"| {name} | {1000 * cost:.0f} | {args.batch * cost:.2f} | {needed} |",
              flush=True)

    torch.set_num_threads(threads)
    print(f"\nTraining loop, batch {args.batch} x {num_samples:,} samples, RawBoost "
          f"{args.algorithm}, step {args.step}, {args.workers} loader workers, median of "
          f"{args.batches} batches:\n")
    print("| RawBoost | s / batch |")
    print("|---|---|")
    for mode in ("off", "in the step", "in the loader's workers"):
        print(f"| {mode} | {seconds_per_batch(manifest, mode, args):.2f} |", flush=True)


if __name__ == "__main__":
    main()
