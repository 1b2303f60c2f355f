"""Throughput of CodecAugment per data-loader worker (one CPU thread), and the cost of a
robustness table.

Prints two markdown tables: utterances per second per worker for each codec (4 s
utterances of demo speech at 16 kHz, each codec at its default quality range), and the
seconds per 100 utterances of one robustness condition (degradation + scoring with a
bundled model on CPU).

    python benchmarks/bench_codecs.py [--utterances 20] [--model aasist-l]
"""

import argparse
import time
from pathlib import Path

import numpy as np
import soundfile
import torch

import speechbrain_ssdctx.data
from speechbrain_ssdctx.augment.codec import CODECS, CodecAugment
from speechbrain_ssdctx.evaluation.robustness import degrade

FS = 16000
DEMO = Path(speechbrain_ssdctx.data.__file__).parent / "demo/LA/ASVspoof2019_LA_dev/flac"


def speech_batch(count: int, seconds: float = 4.0) -> torch.Tensor:
    """``count`` 4 s utterances cut from the demo corpus's speech (tiled)."""
    audio = np.concatenate([soundfile.read(path)[0] for path in sorted(DEMO.glob("*.flac"))])
    size = int(seconds * FS)
    starts = np.linspace(0, len(audio) - size, count).astype(int)
    return torch.from_numpy(np.stack([audio[s:s + size] for s in starts])).float()


def codec_throughput(utterances: int) -> list[tuple[str, float]]:
    batch = speech_batch(utterances)
    rows = []
    for name in CODECS:
        augment = CodecAugment([name], seed=0)
        augment(batch[:1])  # warm-up (resampling filters)
        start = time.perf_counter()
        for row in batch:
            augment(row.unsqueeze(0))
        rows.append((name, utterances / (time.perf_counter() - start)))
    return rows


def condition_cost(model: str, utterances: int, conditions: list[str]) -> list[tuple]:
    from speechbrain_ssdctx.inference.spoof_detector import SpoofDetector

    detector = SpoofDetector.from_hparams(model)
    batch = speech_batch(utterances)
    rows = []
    for condition in conditions:
        start = time.perf_counter()
        for index, wav in enumerate(batch):
            detector.score_batch(degrade(wav, FS, str(index), condition).unsqueeze(0))
        rows.append((condition, 100 * (time.perf_counter() - start) / utterances))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--utterances", type=int, default=20)
    parser.add_argument("--model", default="aasist-l")
    parser.add_argument("--conditions", default="clean,mp3:32,opus:12,telephone")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print("| codec | utterances/s per worker (4 s, 1 thread) |\n|---|---|")
    for name, rate in codec_throughput(args.utterances):
        print(f"| {name} | {rate:.1f} |")
    print("\n| condition | s per 100 utterances (4 s, CPU, 1 thread) |\n|---|---|")
    for condition, seconds in condition_cost(args.model, args.utterances,
                                             args.conditions.split(",")):
        print(f"| {condition} | {seconds:.1f} |")


if __name__ == "__main__":
    main()
