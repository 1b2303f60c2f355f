"""How much the quick start's demo numbers move with the seed and the number of threads.

The demo (``python recipes/train.py hparams/lcnn_inf_ini.yaml``) trains on a few dozen
utterances, so its EERs are decided by a handful of trials: another seed, or another
thread count (which changes the order of floating-point sums, hence the weights after a
few steps), gives other numbers. This runs the demo for each seed and thread count and
prints a table of the demo dev / demo eval EERs and their spread, with a plot.

Usage::

    python benchmarks/demo_spread.py --seeds 1 2 3 4 5 --threads 1 2 [--plot spread.png]
"""

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

from tqdm import tqdm

ROOT = pathlib.Path(__file__).resolve().parents[1]


def run_demo(seed: int, threads: int, out: pathlib.Path) -> dict:
    """One demo run; its ``results.json`` (demo dev / demo eval reports) and wall time."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
           "PYTHONPATH": str(ROOT)}
    started = time.monotonic()
    subprocess.run(
        [sys.executable, str(ROOT / "recipes" / "train.py"), str(ROOT / "hparams" /
         "lcnn_inf_ini.yaml"), f"--seed={seed}", f"--output_folder={out}", "--noprogressbar"],
        env=env, cwd=out.parent, check=True, capture_output=True, text=True,
    )
    results = json.loads((out / "results.json").read_text())
    return {"seed": seed, "threads": threads, "seconds": time.monotonic() - started,
            **{name: report["eer"] for name, report in results.items()}}


def summary_rows(rows: list[dict], sets: list[str]) -> list[str]:
    lines = []
    for name in sets:
        values = [row[name] for row in rows]
        lines.append(f"| {name} | {min(values):.1f} | {statistics.median(values):.1f} | "
                     f"{max(values):.1f} |")
    return lines


def plot(rows: list[dict], sets: list[str], path: pathlib.Path) -> None:
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 3.5))
    for index, name in enumerate(sets):
        for row in rows:
            axes.scatter(index + 0.08 * (row["threads"] - 1.5), row[name],
                         color=f"C{row['threads']}", label=f"{row['threads']} thread(s)")
    handles, labels = axes.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    axes.legend(unique.values(), unique.keys())
    axes.set_xticks(range(len(sets)), sets)
    axes.set_ylabel("EER (%)")
    axes.set_title("Demo EERs over seeds and thread counts")
    figure.savefig(path, dpi=120, bbox_inches="tight")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--plot", type=pathlib.Path)
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        runs = [(s, t) for t in args.threads for s in args.seeds]
        for seed, threads in tqdm(runs, desc="demo runs"):
            rows.append(run_demo(seed, threads, pathlib.Path(scratch) / f"s{seed}_t{threads}"))
    sets = [key for key in rows[0] if key not in ("seed", "threads", "seconds")]
    print("| seed | threads | " + " | ".join(f"{s} EER (%)" for s in sets) + " | wall (s) |")
    print("|---|---|" + "---|" * (len(sets) + 1))
    for row in rows:
        print(f"| {row['seed']} | {row['threads']} | " +
              " | ".join(f"{row[s]:.1f}" for s in sets) + f" | {row['seconds']:.0f} |")
    print("\n| set | min | median | max |\n|---|---|---|---|")
    print("\n".join(summary_rows(rows, sets)))
    if args.plot:
        plot(rows, sets, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
