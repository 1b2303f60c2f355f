#!/usr/bin/env python3
"""Benchmarks the metrics and the manifest preparation; prints a markdown table.

- EER + min t-DCF (legacy and revised) on 611,829 scores (the size of ASVspoof 2021 DF
  eval), this project's vectorised port; optionally SpeechBrain's ``EER`` on a subset
  (``--speechbrain N``: it is O(N^2), so the full size takes minutes);
- the ASVspoof 5 Track 1 metrics (minDCF, actDCF, Cllr, Cllr-min) on the same scores, and
  Track 2 (a-DCF, min t-DCF, t-EER) on 680,774 SASV trials (the size of ASVspoof 5 eval);
- bootstrap intervals (EER, minDCF, min t-DCF) with 1,000 resamples of 181,566 trials
  (ASVspoof 2021 LA eval), for continuous and for tied (3-decimal) scores, and a paired
  comparison of two systems (200 resamples);
- reading a score file of that size;
- manifest preparation for the three official 2019 LA protocols (121,461 trials) with
  empty placeholder audio files (existence check), and the cost per file of the
  optional header check (``soundfile.info``) measured on the demo corpus.

Run from the repository root: ``python benchmarks/bench_metrics.py``.
"""

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from speechbrain_ssdctx.data import demo_corpus_folder, prepare_asvspoof2019_la  # noqa: E402
from speechbrain_ssdctx.evaluation.bootstrap import bootstrap_metrics, paired_bootstrap  # noqa: E402
from speechbrain_ssdctx.evaluation.dcf import act_dcf, cllr, min_cllr, min_dcf  # noqa: E402
from speechbrain_ssdctx.evaluation.eer import compute_eer  # noqa: E402
from speechbrain_ssdctx.evaluation.sasv import evaluate_sasv  # noqa: E402
from speechbrain_ssdctx.evaluation.scores import read_score_file, write_score_file  # noqa: E402
from speechbrain_ssdctx.evaluation.tdcf import AsvOperatingPoint, min_tdcf  # noqa: E402

N_DF = 611829
N_LA21 = 181566
N_ASV5 = 680774
LA2019 = ROOT / "tests" / "fixtures" / "asvspoof2019_la" / "LA"


def timed(function, repeats=3):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def bench_metrics(rows, speechbrain_n):
    rng = np.random.default_rng(0)
    n_bonafide = 22617
    bonafide = rng.normal(2.0, 1.5, n_bonafide).round(3)  # rounded: ties, as real systems
    spoof = rng.normal(-2.0, 1.5, N_DF - n_bonafide).round(3)
    asv = AsvOperatingPoint(0.02, 0.0, pfa=0.02, pmiss=0.02, pmiss_spoof=0.6, pfa_spoof=0.4)

    def all_metrics():
        return (
            compute_eer(bonafide, spoof),
            min_tdcf(bonafide, spoof, asv=asv, form="legacy"),
            min_tdcf(bonafide, spoof, asv=asv, form="revised"),
        )

    seconds, _ = timed(all_metrics)
    rows.append((f"EER + min t-DCF (legacy + revised), {N_DF:,} scores", f"{seconds:.3f} s"))

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scores.txt"
        ids = [f"DF_E_{i:07d}" for i in range(N_DF)]
        values = np.concatenate((bonafide, spoof))
        seconds, _ = timed(lambda: write_score_file(path, ids, values), 1)
        rows.append((f"write_score_file (atomic), {N_DF:,} scores", f"{seconds:.3f} s"))
        seconds, _ = timed(lambda: read_score_file(path), 1)
        rows.append((f"read_score_file, {N_DF:,} scores", f"{seconds:.3f} s"))

    if speechbrain_n:
        import torch
        from speechbrain.utils.metric_stats import EER

        b = torch.from_numpy(bonafide[: speechbrain_n // 27])
        s = torch.from_numpy(spoof[: speechbrain_n - b.numel()])
        seconds, _ = timed(lambda: EER(b, s), 1)
        ours, _ = timed(lambda: compute_eer(b.numpy(), s.numpy()), 1)
        rows.append(
            (f"speechbrain.utils.metric_stats.EER, {speechbrain_n:,} scores", f"{seconds:.3f} s")
        )
        rows.append((f"compute_eer (ours), {speechbrain_n:,} scores", f"{ours:.4f} s"))


def bench_asvspoof5(rows):
    rng = np.random.default_rng(1)
    n_bonafide = 22617
    bonafide = rng.normal(2.0, 1.5, n_bonafide)
    spoof = rng.normal(-2.0, 1.5, N_DF - n_bonafide)

    def track1():
        return (min_dcf(bonafide, spoof), act_dcf(bonafide, spoof),
                cllr(bonafide, spoof))

    seconds, _ = timed(track1)
    rows.append((f"minDCF + actDCF + Cllr, {N_DF:,} scores", f"{seconds:.3f} s"))
    seconds, _ = timed(lambda: min_cllr(bonafide, spoof))
    rows.append((f"Cllr-min (PAV), {N_DF:,} scores", f"{seconds:.3f} s"))

    sizes = {"target": 67_000, "nontarget": 400_000}
    sizes["spoof"] = N_ASV5 - sum(sizes.values())
    labels = np.repeat(["target", "nontarget", "spoof"], list(sizes.values()))
    asv = np.concatenate((rng.normal(3, 1.5, sizes["target"]), rng.normal(-3, 1.5,
                          sizes["nontarget"]), rng.normal(1, 2, sizes["spoof"])))
    cm = np.where(labels == "spoof", rng.normal(-2, 1.5, N_ASV5), rng.normal(2, 1.5, N_ASV5))
    seconds, _ = timed(lambda: evaluate_sasv(0.5 * cm + asv, labels, cm, asv), 1)
    rows.append((f"a-DCF + min t-DCF + t-EER (exact), {N_ASV5:,} SASV trials",
                 f"{seconds:.3f} s"))


def bench_bootstrap(rows):
    rng = np.random.default_rng(2)
    n_bonafide = 14816  # the 2021 LA eval proportion
    labels = np.arange(N_LA21) < n_bonafide
    scores = np.where(labels, rng.normal(2.0, 1.5, N_LA21), rng.normal(-2.0, 1.5, N_LA21))
    coefficients = {"C0": 0.08, "C1": 0.9, "C2": 0.4}
    for what, values in (("continuous", scores), ("3 decimals", scores.round(3))):
        seconds, _ = timed(lambda v=values: bootstrap_metrics(
            v, labels, 1000, coefficients=coefficients), 1)
        rows.append((f"bootstrap EER + minDCF + min t-DCF, 1,000 resamples of {N_LA21:,} "
                     f"trials ({what} scores)", f"{seconds:.2f} s"))
    other = scores + rng.normal(0, 0.5, N_LA21)
    seconds, _ = timed(lambda: paired_bootstrap(scores, other, labels, 200), 1)
    rows.append((f"paired bootstrap (EER difference), 200 resamples of {N_LA21:,} trials",
                 f"{seconds:.2f} s"))


def bench_prepare(rows):
    with tempfile.TemporaryDirectory() as tmp:
        la = Path(tmp) / "LA"
        shutil.copytree(
            LA2019 / "ASVspoof2019_LA_cm_protocols", la / "ASVspoof2019_LA_cm_protocols"
        )
        total = 0
        for split, suffix in (("train", "train.trn"), ("dev", "dev.trl"), ("eval", "eval.trl")):
            flac = la / f"ASVspoof2019_LA_{split}" / "flac"
            flac.mkdir(parents=True)
            protocol = la / "ASVspoof2019_LA_cm_protocols" / f"ASVspoof2019.LA.cm.{suffix}.txt"
            for line in protocol.read_text().splitlines():
                (flac / f"{line.split()[1]}.flac").touch()
                total += 1
        out = Path(tmp) / "out"
        start = time.perf_counter()
        prepare_asvspoof2019_la(la, out)
        first = time.perf_counter() - start
        start = time.perf_counter()
        prepare_asvspoof2019_la(la, out)
        again = time.perf_counter() - start
    rows.append(
        (f"prepare 2019 LA manifests, {total:,} trials (existence check)", f"{first:.2f} s")
    )
    rows.append(("prepare again (up to date: skipped)", f"{again:.3f} s"))

    files = sorted(demo_corpus_folder().rglob("*.flac"))
    seconds, _ = timed(lambda: [soundfile.info(str(f)) for f in files])
    per_file = seconds / len(files)
    rows.append(
        (
            "header check (soundfile.info) per file, demo corpus",
            f"{1e6 * per_file:.0f} us (~{per_file * total:.0f} s for 2019 LA, page cache warm)",
        )
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--speechbrain", type=int, default=20000, help="SpeechBrain EER size")
    args = parser.parse_args(argv)
    rows = []
    bench_metrics(rows, args.speechbrain)
    bench_asvspoof5(rows)
    bench_bootstrap(rows)
    bench_prepare(rows)
    print("| benchmark | time |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
