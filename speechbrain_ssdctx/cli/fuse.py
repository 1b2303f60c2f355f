"""``ssdctx-fuse``: fuse several systems' scores into one calibrated LLR per trial.

Example
-------
::

    # fit on the dev scores of three systems, apply to their eval scores, compare
    ssdctx-fuse --dev a_dev.txt b_dev.txt c_dev.txt --key dev_key.txt \\
        --eval a_eval.txt b_eval.txt c_eval.txt --eval-key eval_key.txt \\
        --out fused_eval.txt --save fusion.json

The fusion (``speechbrain_ssdctx.evaluation.fusion.LogisticFusion``) is a prior-weighted
logistic regression on the dev scores, as ``ssdctx-calibrate fit`` (``--prior``, ``--l2``):
its output is a log-likelihood ratio. With ``--eval-key`` the table compares each system
(calibrated on dev on its own, so that actDCF and Cllr compare) with the fusion on eval:
EER, minDCF, actDCF, Cllr, and the paired bootstrap interval of EER(fusion) - EER(system)
with how often the fusion wins. Without it, the table is on dev (optimistic).
Scores and keys are any file ``ssdctx-eval`` reads.

Authors
 * speechbrain-ssdctx contributors 2025
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from speechbrain_ssdctx.cli.broken_pipe import quiet_on_closed_reader
from speechbrain_ssdctx.cli.inputs import read_streams
from speechbrain_ssdctx.cli.outputs import check_not_inputs
from speechbrain_ssdctx.cli.score import positive_int
from speechbrain_ssdctx.data.preparation import BONAFIDE
from speechbrain_ssdctx.evaluation.bootstrap import paired_bootstrap
from speechbrain_ssdctx.evaluation.calibration import Calibration
from speechbrain_ssdctx.evaluation.dcf import act_dcf, cllr, min_dcf
from speechbrain_ssdctx.evaluation.eer import compute_eer
from speechbrain_ssdctx.evaluation.evaluate import read_key
from speechbrain_ssdctx.evaluation.fusion import LogisticFusion
from speechbrain_ssdctx.evaluation.scores import align_scores, read_score_file, write_score_file

__all__ = ["main"]


def _trials(score_files, key, subset: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The key's trial ids, their ``[trials, systems]`` scores and bona fide labels."""
    rows, _ = read_key(key)
    rows = [row for row in rows if "subset" not in row or row["subset"] == subset]
    ids = [row["ID"] for row in rows]
    columns = [align_scores(read_score_file(path), ids, None, os.fspath(path), os.fspath(key))
               for path in score_files]
    return ids, np.stack(columns, axis=1), np.array([row["label"] == BONAFIDE for row in rows])


def _metrics(scores: np.ndarray, labels: np.ndarray) -> list[str]:
    bona, spoof = scores[labels], scores[~labels]
    return [f"{100 * compute_eer(bona, spoof)[0]:.3f}", f"{min_dcf(bona, spoof)[0]:.4f}",
            f"{act_dcf(bona, spoof)[0]:.4f}", f"{cllr(bona, spoof):.4f}"]


def comparison_table(names, llrs: np.ndarray, fused: np.ndarray, labels: np.ndarray,
                     resamples: int, seed: int) -> str:
    """Markdown: each system's (calibrated) metrics and the fusion's, with the paired
    bootstrap interval of EER(fusion) - EER(system)."""
    header = ["System", "EER (%)", "minDCF", "actDCF", "Cllr", "EER(fusion) - EER(system)",
              "P(fusion better)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for index, name in enumerate(names):
        paired = paired_bootstrap(fused, llrs[:, index], labels, resamples, seed=seed)
        lines.append("| " + " | ".join([
            name, *_metrics(llrs[:, index], labels), str(paired["eer_difference"]),
            f"{paired['a_better']:.3f}"]) + " |")
    lines.append("| " + " | ".join(["**fusion**", *_metrics(fused, labels), "", ""]) + " |")
    return "\n".join(lines) + "\n"


def fuse(args: argparse.Namespace) -> None:
    """Fits the fusion on dev, writes the fused scores, prints the comparison."""
    names = args.names or [Path(os.fspath(path)).stem for path in args.dev]
    if len(names) != len(args.dev):
        raise ValueError(f"--names gives {len(names)} names for {len(args.dev)} systems")
    _, dev, dev_labels = _trials(args.dev, args.key, args.subset)
    fusion = LogisticFusion.fit(dev, dev_labels, names, prior=args.prior, l2=args.l2)
    if args.save:
        fusion.save(args.save)
    print("llr = " + " + ".join(f"{w:.6g} * {n}" for w, n in zip(fusion.weights, names,
                                                                  strict=True))
          + f" + {fusion.offset:.6g} (prior {fusion.prior:.4g})")
    if args.eval:
        scores = [read_score_file(path) for path in args.eval]
        ids = list(scores[0])
        matrix = np.stack([align_scores(s, ids, None, os.fspath(path), os.fspath(args.eval[0]))
                           for s, path in zip(scores, args.eval, strict=True)], axis=1)
        write_score_file(args.out, ids, fusion(matrix), args.format)
        print(f"wrote {len(ids)} fused LLRs to {args.out}")
    if args.eval_key:
        _, test, labels = _trials(args.eval, args.eval_key, args.subset)
        where = "eval"
    else:
        test, labels, where = dev, dev_labels, "dev (the fusion's own training data: optimistic)"
    calibrations = [Calibration.fit(dev[dev_labels, k], dev[~dev_labels, k], prior=fusion.prior,
                                    l2=args.l2) for k in range(len(names))]
    llrs = np.stack([c(test[:, k]) for k, c in enumerate(calibrations)], axis=1)
    print(f"\non {where}; each system calibrated on dev; {args.bootstrap} paired resamples\n")
    print(comparison_table(names, llrs, fusion(test), labels, args.bootstrap, args.seed), end="")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command line of ``ssdctx-fuse``."""
    parser = argparse.ArgumentParser(prog="ssdctx-fuse", description=__doc__.split("\n")[0])
    parser.add_argument("--dev", nargs="+", required=True, metavar="SCORES",
                        help="each system's development score file")
    parser.add_argument("--key", required=True, help="the development key")
    parser.add_argument("--eval", nargs="+", metavar="SCORES",
                        help="each system's evaluation score file (same order as --dev)")
    parser.add_argument("--eval-key", help="the evaluation key: compare the systems on eval")
    parser.add_argument("--out", help="fused eval score file to write (LLRs; with --eval)")
    parser.add_argument("--format", choices=("txt", "asvspoof5"), default="txt",
                        help="txt: 'utt_id llr' lines; asvspoof5: filename<TAB>cm-score")
    parser.add_argument("--save", help="fusion JSON to write (weights, offset, prior)")
    parser.add_argument("--names", nargs="+", help="the systems' names (default: file names)")
    parser.add_argument("--prior", type=float, help="bona fide prior of the fit (default: the "
                        "effective prior of the ASVspoof 5 Track 1 costs, about 0.655)")
    parser.add_argument("--l2", type=float, default=1e-6, help="ridge on the weights")
    parser.add_argument("--bootstrap", type=positive_int, default=1000,
                        help="paired bootstrap resamples (default: 1000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap")
    parser.add_argument("--subset", default="eval", help="2021 keys: subset to use")
    args = parser.parse_args(argv)
    if args.prior is not None and not 0 < args.prior < 1:
        parser.error(f"--prior must be in (0, 1), got {args.prior}")
    if args.eval and len(args.eval) != len(args.dev):
        parser.error(f"--eval gives {len(args.eval)} score files for {len(args.dev)} systems")
    if bool(args.eval) != bool(args.out):
        parser.error("--eval and --out go together")
    if args.eval_key and not args.eval:
        parser.error("--eval-key needs --eval")
    return args


@quiet_on_closed_reader
def main(argv: Sequence[str] | None = None) -> int:
    """Runs ``ssdctx-fuse``; returns the exit status."""
    args = parse_args(argv)
    inputs = [*args.dev, args.key, *(args.eval or []), args.eval_key]
    try:
        check_not_inputs({"--out": args.out, "--save": args.save}, inputs)
        read_streams(args, {"key": "--key", "eval_key": "--eval-key"})
        fuse(args)
    except BrokenPipeError:
        raise
    except (OSError, ValueError) as error:
        print(f"ssdctx-fuse: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
