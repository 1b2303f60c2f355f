"""``ssdctx-calibrate``: turn the scores of any detector into log-likelihood ratios.

Examples
--------
::

    # fit llr = a * score + b on development scores (any key ssdctx-eval reads)
    ssdctx-calibrate fit dev_scores.txt --key ASVspoof2019.LA.cm.dev.trl.txt \\
        --out calibration.json
    # apply it to other scores of the same detector (a score file of LLRs)
    ssdctx-calibrate apply calibration.json eval_scores.txt --out eval_llrs.txt
    # then: ssdctx-eval eval_scores.txt --key ... --calibration calibration.json

``fit`` prints the map and the dev actDCF and Cllr before and after calibration (on the
same scores: an optimistic view; judge it on another set with ``ssdctx-eval``).

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
from speechbrain_ssdctx.cli.inputs import check_one_stdin
from speechbrain_ssdctx.cli.outputs import check_not_inputs
from speechbrain_ssdctx.data.preparation import BONAFIDE
from speechbrain_ssdctx.evaluation.calibration import Calibration
from speechbrain_ssdctx.evaluation.dcf import DetectionCosts, act_dcf, cllr
from speechbrain_ssdctx.evaluation.evaluate import read_key
from speechbrain_ssdctx.evaluation.scores import align_scores, read_score_file, write_score_file

__all__ = ["main"]


def fit(args: argparse.Namespace) -> None:
    """``ssdctx-calibrate fit``."""
    rows, _ = read_key(args.key)
    rows = [row for row in rows if "subset" not in row or row["subset"] == args.subset]
    scores = read_score_file(args.scores)
    values = align_scores(
        scores, [row["ID"] for row in rows], None, os.fspath(args.scores), os.fspath(args.key)
    )
    labels = np.array([row["label"] == BONAFIDE for row in rows])
    calibration = Calibration.fit(values[labels], values[~labels], prior=args.prior, l2=args.l2)
    calibration.save(args.out)
    llrs = calibration(values)
    print(f"llr = {calibration.slope:.6g} * score + {calibration.offset:.6g} "
          f"(prior {calibration.prior:.4g}); wrote {args.out}")
    costs = DetectionCosts()
    for name, x in (("raw scores", values), ("calibrated", llrs)):
        print(f"{name:<11} actDCF {act_dcf(x[labels], x[~labels], costs)[0]:.4f}  "
              f"Cllr {cllr(x[labels], x[~labels]):.4f} bits")
    if calibration.slope <= 0:
        print("warning: the slope is not positive: these scores rank spoofs above bona fide "
              "trials.", file=sys.stderr)


def apply(args: argparse.Namespace) -> None:
    """``ssdctx-calibrate apply``."""
    calibration = Calibration.load(args.calibration)
    scores = read_score_file(args.scores)
    write_score_file(args.out, list(scores), calibration(list(scores.values())), args.format)
    print(f"wrote {len(scores)} LLRs to {args.out}")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command line of ``ssdctx-calibrate``."""
    parser = argparse.ArgumentParser(prog="ssdctx-calibrate", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    fit_parser = commands.add_parser("fit", help="fit a calibration on labelled scores")
    fit_parser.add_argument("scores", type=Path, help="development score file")
    fit_parser.add_argument("--key", type=Path, required=True,
                            help="its key (any key ssdctx-eval reads)")
    fit_parser.add_argument("--out", type=Path, required=True, help="calibration JSON to write")
    fit_parser.add_argument("--prior", type=float,
                            help="bona fide prior of the fit (default: the effective prior of "
                            "the ASVspoof 5 Track 1 costs, about 0.655)")
    fit_parser.add_argument("--l2", type=float, default=1e-6, help="ridge on the slope")
    fit_parser.add_argument("--subset", default="eval", help="2021 keys: subset to use")
    fit_parser.set_defaults(run=fit)
    apply_parser = commands.add_parser("apply", help="map scores to LLRs")
    apply_parser.add_argument("calibration", type=Path, help="calibration JSON (from fit)")
    apply_parser.add_argument("scores", type=Path, help="score file to calibrate")
    apply_parser.add_argument("--out", type=Path, required=True, help="LLR score file to write")
    apply_parser.add_argument("--format", choices=("txt", "asvspoof5"), default="txt",
                              help="txt: 'utt_id llr' lines; asvspoof5: filename<TAB>cm-score")
    apply_parser.set_defaults(run=apply)
    args = parser.parse_args(argv)
    if getattr(args, "prior", None) is not None and not 0 < args.prior < 1:
        parser.error(f"--prior must be in (0, 1), got {args.prior}")
    return args


@quiet_on_closed_reader
def main(argv: Sequence[str] | None = None) -> int:
    """Runs ``ssdctx-calibrate``; returns the exit status."""
    args = parse_args(argv)
    inputs = [getattr(args, name, None) for name in ("scores", "key", "calibration")]
    try:
        check_not_inputs({"--out": args.out}, inputs)
        check_one_stdin(dict(zip(("scores", "--key", "calibration"), inputs, strict=True)))
        args.run(args)
    except BrokenPipeError:
        raise
    except (OSError, ValueError) as error:
        print(f"ssdctx-calibrate: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
