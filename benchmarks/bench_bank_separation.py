#!/usr/bin/env python3
"""Class separation of the memory bank's keys next to the online model's, over training.

A small task: the real ``LCNN(n_mels=32)`` learns to tell low-pass filtered noise (class 1)
from white noise (class 0), one-second inputs of equal loudness, fresh batches of 8 (4 + 4),
Adam at 3e-4, trained with ``ContextLoss(use_inf=False)`` (classification + InI) at
momentum 0.999. Two momentum encoders follow the same online model:

- ``batch``: the default, MoCo's key forward (BatchNorm on the key batch's statistics,
  dropout off); its keys fill the bank the InI loss uses;
- ``running``: the behaviour before 0.2 (eval mode, BatchNorm with the running
  statistics copied from the online model); its keys fill a second bank, for comparison.

Class separation = mean cosine similarity of same-class pairs minus that of
different-class pairs, on a fixed probe set of 32 utterances (online model in eval mode,
as at inference; each momentum encoder in its key forward) and on the keys each bank
received during the last 25 steps (200 keys).

    python benchmarks/bench_bank_separation.py [--steps 300] [--every 50] [--threads 2]
        [--plot separation.png]

Prints a markdown table.
"""

import argparse
import math

import scipy.signal
import torch
from tqdm import tqdm

from speechbrain_ssdctx.method.context import ContextLoss
from speechbrain_ssdctx.method.memory import MomentumEncoder
from speechbrain_ssdctx.models import LCNN

SAMPLE_RATE = 16000
RECENT_KEYS = 200


def make_batch(per_class: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``per_class`` white-noise (label 0) and low-pass noise (label 1) utterances, 1 s,
    each scaled to unit RMS."""
    noise = torch.randn(2 * per_class, SAMPLE_RATE, generator=generator, dtype=torch.float64)
    low_pass = scipy.signal.butter(8, 2000, fs=SAMPLE_RATE, output="sos")
    filtered = torch.from_numpy(scipy.signal.sosfilt(low_pass, noise[per_class:].numpy()))
    wavs = torch.cat([noise[:per_class], filtered])
    wavs = wavs / wavs.pow(2).mean(dim=1, keepdim=True).sqrt()
    labels = torch.cat([torch.zeros(per_class), torch.ones(per_class)]).long()
    return wavs.float(), labels


def separation(embeddings: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean same-class cosine minus mean different-class cosine (self-pairs excluded)."""
    unit = torch.nn.functional.normalize(embeddings.float(), dim=1)
    cosine = unit @ unit.T
    same = labels[:, None] == labels[None, :]
    off_diagonal = ~torch.eye(len(labels), dtype=torch.bool)
    return float(cosine[same & off_diagonal].mean() - cosine[~same].mean())


class RecentKeys:
    """The keys a bank received during the last steps (a sliding window)."""

    def __init__(self, size: int):
        self.size = size
        self.embeddings, self.labels = torch.zeros(0, 1), torch.zeros(0).long()

    def add(self, embeddings: torch.Tensor, labels: torch.Tensor) -> None:
        if self.embeddings.shape[1] != embeddings.shape[1]:
            self.embeddings = torch.zeros(0, embeddings.shape[1])
        self.embeddings = torch.cat([self.embeddings, embeddings.detach()])[-self.size :]
        self.labels = torch.cat([self.labels, labels])[-self.size :]

    def separation(self) -> float:
        return separation(self.embeddings, self.labels) if len(self.labels) else math.nan


def run(steps: int, every: int, momentum: float, seed: int) -> list[dict]:
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    detector = LCNN(n_mels=32)
    context = ContextLoss(detector, use_inf=False, momentum=momentum, key_batchnorm="batch")
    old = MomentumEncoder(detector, momentum=momentum, key_batchnorm="running")
    optimizer = torch.optim.Adam(detector.parameters(), lr=3e-4)
    probe, probe_labels = make_batch(16, torch.Generator().manual_seed(seed + 1))
    recent = {"batch": RecentKeys(RECENT_KEYS), "running": RecentKeys(RECENT_KEYS)}
    rows = []
    for step in tqdm(range(steps + 1), desc="steps"):
        if step % every == 0:
            rows.append(measure(step, detector, context, old, probe, probe_labels, recent))
        if step == steps:
            break
        wavs, labels = make_batch(4, generator)
        detector.train(), context.train(), old.train()
        optimizer.zero_grad()
        total, _ = context(detector, wavs, None, labels)
        if step == 0:
            old.sync(detector)  # both encoders start from the detector at the first step
        with torch.no_grad():
            old_keys = old(wavs)[0]
        total.backward()
        optimizer.step()
        context.after_step(detector)
        old.update(detector)
        recent["batch"].add(context.memory.embeddings[-len(labels):], labels)
        recent["running"].add(old_keys, labels)
    return rows


@torch.no_grad()
def measure(step, detector, context, old, probe, labels, recent) -> dict:
    detector.eval()
    return {
        "step": step,
        "online": separation(detector(probe)[0], labels),
        "batch": separation(context.momentum_encoder(probe)[0], labels),
        "batch bank": recent["batch"].separation(),
        "running": separation(old(probe)[0], labels),
        "running bank": recent["running"].separation(),
    }


def table(rows: list[dict]) -> str:
    lines = [
        "| step | online model | momentum encoder, BatchNorm on the key batch (default) "
        "| its bank, last 200 keys | momentum encoder, running statistics (before 0.2) "
        "| its bank, last 200 keys |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        cells = [f"{row[key]:.3f}" for key in ("online", "batch", "batch bank", "running",
                                                "running bank")]
        lines.append(f"| {row['step']} | " + " | ".join(cells) + " |")
    last = rows[-1]
    lines.append("")
    lines.append(
        f"At step {last['step']}: the default momentum encoder reaches "
        f"{last['batch'] / last['online']:.0%} of the online separation, the running-"
        f"statistics one {last['running'] / last['online']:.0%}."
    )
    return "\n".join(lines)


def plot(rows: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 3.5))
    steps = [row["step"] for row in rows]
    for key, label in (("online", "online model"), ("batch", "momentum, key-batch BatchNorm"),
                       ("running", "momentum, running statistics")):
        axis.plot(steps, [row[key] for row in rows], marker="o", label=label)
    axis.set_xlabel("training step")
    axis.set_ylabel("class separation (cosine)")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--every", type=int, default=50)
    parser.add_argument("--momentum", type=float, default=0.999)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--plot", help="also save the curves to this PNG file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = run(args.steps, args.every, args.momentum, args.seed)
    print(table(rows))
    if args.plot:
        plot(rows, args.plot)


if __name__ == "__main__":
    main()
