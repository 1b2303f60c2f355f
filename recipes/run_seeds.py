#!/usr/bin/env python3
"""Runs one system with several seeds and summarises them like the paper's Table 1.

The paper reports the mean over seeds 1, 100 and 1000. Each seed runs
``recipes/train.py`` (or the launcher you give, e.g. ``torchrun --nproc_per_node=4``);
seeds whose output folder already holds ``results.json`` are skipped, so an interrupted
sweep resumes where it stopped (an unfinished seed resumes from its own checkpoint).

Usage:
    python recipes/run_seeds.py hparams/lcnn_inf_ini.yaml --seeds 1 100 1000 \
        [--launcher "torchrun --nproc_per_node=4"] [train.py overrides, e.g. --data_folder=...]

Writes ``seeds.md`` (mean ± standard deviation, the pooled 95% interval and the best of
every metric) and ``seeds.json`` next to the per-seed folders. The pooled interval
(``speechbrain_ssdctx.evaluation.bootstrap.pooled_seed_interval``) resamples both the seeds and the
test trials, so it covers what a new set of runs would give on a new draw of test data:
the honest error bar of a seed-averaged EER.

Authors
 * speechbrain-ssdctx contributors
"""

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np

from speechbrain_ssdctx.data.preparation import read_manifest
from speechbrain_ssdctx.evaluation.bootstrap import pooled_seed_interval
from speechbrain_ssdctx.evaluation.report import seeds_markdown
from speechbrain_ssdctx.evaluation.scores import read_score_file
from speechbrain_ssdctx.training.startup import run_value
from speechbrain_ssdctx.utils.atomic import atomic_open

TRAIN = Path(__file__).resolve().parent / "train.py"


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("hparams", help="the system's hyperparameter file")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 100, 1000])
    parser.add_argument("--bootstrap", type=int, default=1000,
                        help="resamples of the pooled interval (0: none)")
    parser.add_argument(
        "--launcher",
        default=f"{shlex.quote(sys.executable)}",
        help="command that runs train.py (default: this Python), "
        "e.g. 'torchrun --nproc_per_node=4'",
    )
    return parser.parse_known_args(argv)


def pooled_intervals(folders: dict[int, Path], runs: dict, num_resamples: int) -> dict:
    """The pooled interval of every set that all seeds evaluated (same trials)."""
    pooled = {}
    names = set.intersection(*(set(run) for run in runs.values()))
    for name in sorted(names):
        keys = {runs[seed][name].get("key") for seed in runs}
        if None in keys:
            continue  # results of an older version: no key recorded
        scores = {seed: read_score_file(folder / "scores" / f"{name}.txt")
                  for seed, folder in folders.items()}
        common = set.intersection(*(set(s) for s in scores.values()))
        rows = [row for row in read_manifest(sorted(keys)[0]) if row["ID"] in common]
        ids = [row["ID"] for row in rows]
        labels = np.array([row["label"] == "bonafide" for row in rows])
        per_seed = [np.array([scores[seed][utt] for utt in ids]) for seed in sorted(scores)]
        intervals = pooled_seed_interval(per_seed, labels, num_resamples)
        pooled[name] = {metric: ci.to_dict() for metric, ci in intervals.items()}
    return pooled


def main(argv=None):
    args, overrides = parse_args(argv)
    runs, folders = {}, {}
    for seed in args.seeds:
        seed_overrides = [*overrides, f"--seed={seed}"]
        folder = Path(run_value(args.hparams, "output_folder", seed_overrides))
        results = folder / "results.json"
        if results.is_file():
            print(f"seed {seed}: finished earlier ({results}), skipped", flush=True)
        else:
            print(f"seed {seed}: training into {folder}", flush=True)
            command = [*shlex.split(args.launcher), str(TRAIN), args.hparams, *seed_overrides]
            subprocess.run(command, check=True)
        runs[seed] = json.loads(results.read_text(encoding="utf-8"))
        folders[seed] = folder
    summary_folder = folder.parent
    pooled = pooled_intervals(folders, runs, args.bootstrap) if args.bootstrap else {}
    demo = all(run_value(args.hparams, key, overrides) is None
               for key in ("data_folder", "asvspoof5_folder"))
    table = seeds_markdown(runs, pooled, demo=demo)
    with atomic_open(summary_folder / "seeds.md") as stream:
        stream.write(table + "\n")
    with atomic_open(summary_folder / "seeds.json") as stream:
        json.dump({"runs": runs, "pooled": pooled}, stream, indent=1, sort_keys=True)
    print(table)
    return runs


if __name__ == "__main__":
    main()
