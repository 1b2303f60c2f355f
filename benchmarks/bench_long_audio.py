#!/usr/bin/env python3
"""Benchmarks scoring one long file (30 minutes by default); prints a markdown table.

For each bundled model (official AASIST and AASIST-L) and each recipe's detector (random
weights: memory and time do not depend on them), ``SpoofDetector.score_each`` scores a
synthetic 16 kHz file under the default window policy: the bundled models keep their
official window (the first 64,600 samples); a recipe model is exported as the recipes do
(``first``: the first ``eval_seconds``) and with the ``full`` policy, which is now scored
with sliding windows (``window_seconds`` 6 s, hop 3 s, logits averaged) in bounded memory.
``--whole-file`` adds the explicit ``full`` policy (the whole file in one pass: memory
grows with the file's length; try it with ``--minutes 1``).

Each row runs in a fresh process: peak resident memory (``ru_maxrss``, includes Python,
torch and the model) and the wall time of scoring (model loading excluded). Target: under
2 GB at any length. Run from the repository root:
``python benchmarks/bench_long_audio.py [--minutes 30] [--threads 2] [--models lcnn ...]``.
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import ruamel.yaml
import soundfile
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from speechbrain_ssdctx.training.startup import run_hparams  # noqa: E402

BUNDLED = ("aasist", "aasist-l", "aasist-asvspoof5")
RECIPES = {
    "lcnn": "lcnn_inf_ini.yaml",
    "lcnn_specaug": "lcnn_specaug.yaml",
    "aasist (recipe)": "aasist_inf_ini.yaml",
    "ecapa": "ecapa_inf_ini.yaml",
}

EXPORT_BLOCK = """
threshold: 0.0
modules:
    detector: !ref <detector>
pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer
    loadables:
        detector: !ref <detector>
    custom_hooks:
        detector: !name:speechbrain_ssdctx.inference.load_weights
"""


def write_long_file(path: Path, minutes: float) -> Path:
    """Speech-like noise (amplitude-modulated), 16 kHz 16-bit, written in pieces."""
    rng = np.random.default_rng(0)
    with soundfile.SoundFile(path, "w", 16000, 1, subtype="PCM_16") as out:
        for _ in range(int(minutes * 60)):
            envelope = 0.2 * (1 + np.sin(np.linspace(0, 8 * np.pi, 16000)))
            out.write((rng.standard_normal(16000) * envelope * 0.3).clip(-1, 1))
    return path


def export_recipe_model(hparams: str, folder: Path, policy: str) -> Path:
    """A model folder with the recipe's detector (random weights) and a window policy."""
    from hyperpyyaml import load_hyperpyyaml

    tree = run_hparams(  # the paper's schedule: the demo one crops shorter
        ROOT / "hparams" / hparams, ["--demo_schedule=null", f"--output_folder={folder}"]
    )
    detector, rate = tree["detector"], tree["sample_rate"]
    if "init_from" in detector:
        detector["init_from"] = None
    inference = {
        "sample_rate": rate,
        "window_policy": policy,
        "window_samples": int(tree["eval_seconds"] * rate) if policy == "first" else None,
        "detector": detector,
    }
    stream = io.StringIO()
    ruamel.yaml.YAML().dump(inference, stream)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "hyperparams.yaml").write_text(stream.getvalue() + EXPORT_BLOCK)
    with open(folder / "hyperparams.yaml") as yaml:
        built = load_hyperpyyaml(yaml)
    torch.save(built["detector"].state_dict(), folder / "detector.ckpt")
    return folder


def child(args) -> None:
    """Loads one model, scores the file once, prints a JSON line."""
    from speechbrain_ssdctx.inference.spoof_detector import SpoofDetector

    torch.set_num_threads(args.threads)
    folder = Path(args.child)
    savedir = folder / "load" if folder.is_dir() and args.child not in BUNDLED else None
    detector = SpoofDetector.from_hparams(args.child, savedir=savedir)
    if args.policy:
        detector.set_window(args.policy)
    rss_loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    (result,) = detector.score_each([args.wav], batch_size=args.batch_size, window_scores=True)
    elapsed = time.perf_counter() - start
    print(json.dumps({
        "policy": detector.window_policy,
        "windows": len(result.windows or []),
        "score": result.score,
        "error": result.error,
        "seconds": elapsed,
        "rss_loaded_mb": rss_loaded,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


def run_child(source: str, wav: Path, args, policy: str | None = None) -> dict:
    command = [sys.executable, __file__, "--child", source, "--wav", str(wav),
               "--threads", str(args.threads), "--batch-size", str(args.batch_size)]
    if policy:
        command += ["--policy", policy]
    process = subprocess.run(command, capture_output=True, text=True, check=False)
    if process.returncode != 0:
        return {"error": process.stderr.strip().splitlines()[-1] if process.stderr else "failed"}
    return json.loads(process.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--batch-size", type=int, default=1, help="windows per pass (ssdctx-score's default)"
    )
    parser.add_argument("--models", nargs="*", default=[*BUNDLED, *RECIPES])
    parser.add_argument("--whole-file", action="store_true", help="also the explicit 'full'")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--wav", help=argparse.SUPPRESS)
    parser.add_argument("--policy", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        wav = write_long_file(tmp / "long.wav", args.minutes)
        audio = soundfile.info(wav).duration
        print(f"One {audio / 60:.1f}-minute 16 kHz file, {args.threads} thread(s), "
              f"{args.batch_size} windows per pass\n")
        print("| model | stored policy | scored with | windows | peak RSS (MB) | "
              "after loading (MB) | time (s) | real-time factor |")
        print("|---|---|---|---|---|---|---|---|")
        for name in args.models:
            runs = []
            if name in BUNDLED:
                runs.append(("official", name, None))
            else:
                for stored in ("first", "full"):
                    folder = export_recipe_model(RECIPES[name], tmp / f"{name}-{stored}", stored)
                    runs.append((stored, str(folder), None))
                if args.whole_file:
                    runs.append(("full", str(tmp / f"{name}-full"), "full"))
            for stored, source, policy in runs:
                row = run_child(source, wav, args, policy)
                if "seconds" not in row:
                    print(f"| {name} | {stored} | failed: {row['error']} | | | | | |")
                    continue
                shown = "full (whole file, explicit)" if policy else row["policy"]
                print(f"| {name} | {stored} | {shown} | {row['windows']} | "
                      f"{row['peak_rss_mb']:.0f} | {row['rss_loaded_mb']:.0f} | "
                      f"{row['seconds']:.1f} | {row['seconds'] / audio:.4f} |", flush=True)


if __name__ == "__main__":
    main()
