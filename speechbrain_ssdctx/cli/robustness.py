"""``ssdctx-robustness``: a test set scored clean and under codecs and channels, in a table.

::

    ssdctx-robustness --model aasist-l --set my_test.csv \\
        --conditions mp3:32,mp3:128,opus:12,gsm,mulaw,telephone robustness/
    ssdctx-robustness --model aasist-l --set 2019LA=/data/LA robustness-2019/

``--set`` names a test set as ``ssdctx-bench --test`` does
(:func:`~speechbrain_ssdctx.evaluation.sets.resolve_test_sets`): a corpus of the registry
with its data (``CORPUS=PATH``), a bundled corpus (``demo``), a labelled CSV
(``path,label``; relative paths are read from the CSV's folder) or a folder with
``bonafide/`` and ``spoof/`` subfolders; its manifest is written to
``OUT_DIR/manifests/``. Every utterance is scored under every condition (degraded
deterministically per utterance: :mod:`speechbrain_ssdctx.evaluation.robustness`), and
``OUT_DIR`` receives ``scores/<condition>.txt`` (``id score``), ``robustness.md``,
``robustness.json`` (EER % and minDCF with bootstrap intervals per condition) and
``robustness.png``. A condition whose score file is complete is not rescored: a rerun after
an interruption scores only the missing conditions.

Authors
 * speechbrain-ssdctx contributors 2026
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from speechbrain_ssdctx.cli.broken_pipe import quiet_on_closed_reader
from speechbrain_ssdctx.cli.score import positive_int
from speechbrain_ssdctx.data.preparation import BONAFIDE
from speechbrain_ssdctx.evaluation.plots import save_figure
from speechbrain_ssdctx.evaluation.robustness import (
    condition_metrics,
    degrade,
    parse_conditions,
    plot_robustness,
    robustness_markdown,
)
from speechbrain_ssdctx.evaluation.sets import TestSet, resolve_test_sets
from speechbrain_ssdctx.utils.atomic import atomic_open

PROG = "ssdctx-robustness"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Scores a labelled test set clean and under codec and channel conditions; "
        "writes a table and a plot of EER / minDCF with bootstrap intervals.",
    )
    parser.add_argument("out_dir", help="Folder for the scores, table and plot.")
    parser.add_argument("--model", required=True, help="Model folder, hub id or bundled name.")
    parser.add_argument("--set", required=True, dest="test_set", metavar="SET",
                        help="CORPUS=PATH, a bundled corpus (demo), a labelled CSV "
                        "(path,label[,id]) or a folder with bonafide/ and spoof/.")
    parser.add_argument("--conditions",
                        default="mp3:32,mp3:128,vorbis,opus:12,gsm,mulaw,telephone",
                        help="Comma-separated conditions: codec[:quality|:low-high] or telephone "
                        "(clean is always scored). Default: %(default)s")
    parser.add_argument("--resamples", type=positive_int, default=1000,
                        help="Bootstrap replicates (default %(default)s).")
    parser.add_argument("--device", default="cpu", help="Torch device (default cpu).")
    parser.add_argument("--savedir", default=None, help="Where a hub model is fetched to.")
    parser.add_argument("--trust-remote-code", action="store_true", help="Build whatever the "
                        "model's hyperparams.yaml names (only for models you trust).")
    return parser.parse_args(argv)


def condition_file(out_dir: Path, condition: str) -> Path:
    """``OUT_DIR/scores/<condition>.txt`` (``:`` written ``_``)."""
    return out_dir / "scores" / f"{condition.replace(':', '_')}.txt"


def read_done(path: Path, ids: Sequence[str]) -> dict[str, float] | None:
    """The scores of a condition file when it has every id, else None."""
    if not path.is_file():
        return None
    scores = {}
    for line in path.read_text().splitlines():
        fields = line.split()
        if len(fields) == 2:
            scores[fields[0]] = float(fields[1])
    return scores if set(ids) <= set(scores) else None


def score_condition(detector, rows, audio, condition: str, progress) -> dict[str, float]:
    """Scores every utterance under one condition."""
    rate = detector.hparams.sample_rate
    scores = {}
    for row in rows:
        wav = degrade(audio[row["ID"]], rate, row["ID"], condition)
        scores[row["ID"]] = float(detector.score_batch(wav.unsqueeze(0))[0])
        progress.update()
    return scores


def write_text(path: Path, text: str) -> None:
    """Writes a whole file atomically (creating its folder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path) as stream:
        stream.write(text)


def one_test_set(spec: str, manifest_folder: Path) -> TestSet:
    """The one test set ``spec`` names (a corpus with several is refused)."""
    sets = resolve_test_sets(spec, manifest_folder)
    if len(sets) != 1:
        raise ValueError(f"--set {spec!r} holds {len(sets)} test sets "
                         f"({', '.join(s.title for s in sets)}); give one")
    return sets[0]


def run(args: argparse.Namespace) -> dict:
    """Scores every condition (reusing complete score files) and writes the outputs."""
    conditions = parse_conditions(args.conditions)
    out_dir = Path(args.out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"OUT_DIR '{out_dir}' is a file; give a folder")
    test_set = one_test_set(args.test_set, out_dir / "manifests")
    rows = test_set.rows()
    ids = [row["ID"] for row in rows]
    labels = {row["ID"]: row["label"] == BONAFIDE for row in rows}
    from speechbrain_ssdctx.inference.spoof_detector import SpoofDetector  # slow import

    detector = SpoofDetector.from_hparams(args.model, savedir=args.savedir,
                                          run_opts={"device": args.device},
                                          trust_remote_code=args.trust_remote_code)
    audio = {row["ID"]: detector.load_audio(row["wav"]) for row in rows}
    results = {}
    with tqdm(total=len(conditions) * len(rows), desc=PROG, unit="utt",
              disable=not sys.stderr.isatty()) as progress:
        for condition in conditions:
            path = condition_file(out_dir, condition)
            scores = read_done(path, ids)
            if scores is None:
                scores = score_condition(detector, rows, audio, condition, progress)
                write_text(path, "".join(f"{i} {scores[i]!r}\n" for i in ids))
            else:
                progress.update(len(rows))
            results[condition] = condition_metrics(scores, labels, args.resamples)
    write_text(out_dir / "robustness.md", robustness_markdown(results))
    table = {name: {metric: value.to_dict() for metric, value in metrics.items()}
             for name, metrics in results.items()}
    write_text(out_dir / "robustness.json", json.dumps(table, indent=2) + "\n")
    save_figure(plot_robustness(results, f"{args.model} on {test_set.title}"),
                out_dir / "robustness.png")
    return table


@quiet_on_closed_reader
def main(argv: Sequence[str] | None = None) -> int:
    """Runs ``ssdctx-robustness``; returns the exit status."""
    args = parse_args(argv)
    try:
        run(args)
    except BrokenPipeError:
        raise
    except (OSError, ValueError) as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1
    sys.stdout.write((Path(args.out_dir) / "robustness.md").read_text())
    print(f"{PROG}: wrote {os.path.join(args.out_dir, 'robustness.{md,json,png}')}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
