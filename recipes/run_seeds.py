#!/usr/bin/env python3
"""Runs one system with several seeds and summarises them like the paper's Table 1.

The paper reports the mean over seeds 1, 100 and 1000. Each seed runs
``recipes/train.py`` (or the launcher you give, e.g. ``torchrun --nproc_per_node=4``);
seeds whose output folder already holds ``results.json`` are skipped, so an interrupted
sweep resumes where it stopped (an unfinished seed resumes from its own checkpoint).

Usage:
    python recipes/run_seeds.py hparams/lcnn_inf_ini.yaml --seeds 1 100 1000 \
        [--launcher "torchrun --nproc_per_node=4"] [train.py overrides, e.g. --data_folder=...]

Writes ``seeds.md`` (mean, standard deviation and best of every metric) and
``seeds.json`` next to the per-seed folders.

Authors
 * speechbrain-ssdctx contributors
"""

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path

from speechbrain_ssdctx.atomic import atomic_open
from speechbrain_ssdctx.report import seeds_markdown
from speechbrain_ssdctx.startup import run_value

TRAIN = Path(__file__).resolve().parent / "train.py"


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("hparams", help="the system's hyperparameter file")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 100, 1000])
    parser.add_argument(
        "--launcher",
        default=f"{shlex.quote(sys.executable)}",
        help="command that runs train.py (default: this Python), "
        "e.g. 'torchrun --nproc_per_node=4'",
    )
    return parser.parse_known_args(argv)


def main(argv=None):
    args, overrides = parse_args(argv)
    runs = {}
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
    summary_folder = folder.parent
    table = seeds_markdown(runs)
    with atomic_open(summary_folder / "seeds.md") as stream:
        stream.write(table + "\n")
    with atomic_open(summary_folder / "seeds.json") as stream:
        json.dump(runs, stream, indent=1, sort_keys=True)
    print(table)
    return runs


if __name__ == "__main__":
    main()
