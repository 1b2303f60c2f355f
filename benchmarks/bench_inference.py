#!/usr/bin/env python3
"""Benchmarks scoring files with the bundled AASIST; prints a markdown table.

Three ways of scoring the same files on this CPU, best of ``--repeats`` rounds (the
methods take turns in each round):

- **plain loop**: soundfile read, the official window (first 64,600 samples, tiled when
  shorter) in numpy, the model called directly under ``torch.no_grad`` (the model is
  loaded once, outside the timing);
- **SpoofDetector.score_file**: the inference interface (audio checks, resampling,
  mixdown, window policy), model loaded once outside the timing;
- **ssdctx-score**: the whole command line (``main``), including loading the model from
  its YAML, collecting files, the progress bar and writing the score file.

Files per second, the real-time factor (processing time / audio duration; the model
sees at most 4.04 s of each file under the official window) and the overhead over the
plain loop. Run from the repository root: ``python benchmarks/bench_inference.py``.
"""

import argparse
import contextlib
import io
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from speechbrain_ssdctx.cli.score import main as score_main  # noqa: E402
from speechbrain_ssdctx.data.audio_files import find_audio  # noqa: E402
from speechbrain_ssdctx.inference.spoof_detector import SpoofDetector  # noqa: E402
from speechbrain_ssdctx.models import AASIST  # noqa: E402
from speechbrain_ssdctx.pretrained import bundled_checkpoint  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
DEFAULT_INPUTS = [FIXTURES / "asvspoof2019_la", FIXTURES / "speech"]
OFFICIAL_SAMPLES = 64600


def best_times(functions: dict, repeats: int) -> dict[str, float]:
    """The shortest of ``repeats`` runs of each function, in seconds. The functions take
    turns in every round, so that a change of machine load affects them alike."""
    best = dict.fromkeys(functions, float("inf"))
    for _ in range(repeats):
        for name, function in functions.items():
            start = time.perf_counter()
            function()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def plain_loop(model: torch.nn.Module, files: list[str]) -> list[float]:
    """Read, window and call the model directly."""
    scores = []
    for path in files:
        wav, _ = soundfile.read(path, dtype="float32")
        wav = np.tile(wav, OFFICIAL_SAMPLES // len(wav) + 1)[:OFFICIAL_SAMPLES]
        with torch.no_grad():
            scores.append(float(model(torch.from_numpy(wav)[None])[1][0, 1]))
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("inputs", nargs="*", default=DEFAULT_INPUTS, help="files / folders")
    parser.add_argument("--model", default="aasist", choices=("aasist", "aasist-l"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    files = find_audio(args.inputs)
    seconds = sum(soundfile.info(path).duration for path in files)

    model = AASIST.from_official_checkpoint(bundled_checkpoint(args.model))
    detector = SpoofDetector.from_hparams(args.model)
    reference = plain_loop(model, files)
    interface = [detector.score_file(path) for path in files]
    assert np.allclose(reference, interface, atol=1e-4), "interface and plain loop disagree"

    with tempfile.TemporaryDirectory() as tmp:
        argv = ["--model", args.model, *map(str, args.inputs), "--out", f"{tmp}/scores.txt"]
        quiet = contextlib.redirect_stderr(io.StringIO())

        def cli() -> None:
            with quiet:
                score_main(argv)

        functions = {
            "plain loop (model called directly)": lambda: plain_loop(model, files),
            "SpoofDetector.score_file": lambda: [detector.score_file(path) for path in files],
            "ssdctx-score (incl. model loading)": cli,
        }
        timings = best_times(functions, args.repeats)

    base = timings["plain loop (model called directly)"]
    print(
        f"{len(files)} files, {seconds:.1f} s of audio, model {args.model}, "
        f"{args.threads} thread(s), best of {args.repeats}\n"
    )
    print("| method | files/s | real-time factor | overhead vs plain loop |")
    print("|---|---|---|---|")
    for name, elapsed in timings.items():
        overhead = f"{100 * (elapsed / base - 1):+.1f}%" if elapsed != base else "-"
        print(f"| {name} | {len(files) / elapsed:.2f} | {elapsed / seconds:.3f} | {overhead} |")


if __name__ == "__main__":
    main()
