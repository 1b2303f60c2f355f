"""ssdctx-eval: the official ASVspoof metrics of a score file, with intervals and calibration.

Usage::

    # ASVspoof 2019 LA (legacy and revised min t-DCF need the organisers' ASV scores)
    ssdctx-eval scores.txt \\
        --protocol LA/ASVspoof2019_LA_cm_protocols/ASVspoof2019.LA.cm.eval.trl.txt \\
        --asv-scores LA/ASVspoof2019_LA_asv_scores/ASVspoof2019.LA.asv.eval.gi.trl.scores.txt
    # ASVspoof 2021 LA or DF (the track is read from the key; LA min t-DCF uses the
    # official C012 coefficients, bundled, unless --c012 gives others)
    ssdctx-eval scores.txt --key keys/LA/CM/trial_metadata.txt --subset eval
    # ASVspoof 5 Track 1 (score file "filename<TAB>cm-score"; key: the protocol or the
    # evaluation-package key) and Track 2 (an SASV score file and key, told by the header)
    ssdctx-eval scores.tsv --key ASVspoof5_protocols/ASVspoof5.eval.track_1.tsv --json
    ssdctx-eval sasv_scores.tsv --key sasv_key.tsv
    # In-the-Wild, or any labelled CSV (path,label), or a manifest of a preparer
    ssdctx-eval scores.txt --key release_in_the_wild/meta.csv --bootstrap 1000 --group-by speaker
    # calibrated actDCF / Cllr, and a paired comparison with another system
    ssdctx-eval scores.txt --key meta.csv --calibration calibration.json --compare other.txt

Score files hold ``utt_id score`` per line (higher = more bona fide) or the ASVspoof 5
tables with their header. Score files and keys may be pipes, FIFOs, process substitutions
or ``-`` (stdin, for one of them), each read once::

    zcat DF_scores.txt.gz | ssdctx-eval - --key <(zcat DF_trial_metadata.txt.gz)

Authors
 * speechbrain-ssdctx contributors 2025
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from speechbrain_ssdctx.cli.broken_pipe import quiet_on_closed_reader
from speechbrain_ssdctx.cli.inputs import read_streams
from speechbrain_ssdctx.evaluation.bootstrap import paired_bootstrap
from speechbrain_ssdctx.evaluation.calibration import Calibration
from speechbrain_ssdctx.evaluation.evaluate import (
    KEY_KINDS,
    asv_operating_point_of,
    evaluate_sasv_scores,
    evaluate_scores,
    key_formats,
    official_c012,
    read_key,
)
from speechbrain_ssdctx.evaluation.report import results_markdown
from speechbrain_ssdctx.evaluation.scores import (
    align_scores,
    read_sasv_score_file,
    read_score_file,
    score_file_kind,
)

__all__ = ["main"]


#: The text inputs (attribute: option), each a file, a pipe, a FIFO or ``-`` (stdin).
_TEXT_INPUTS = {"scores": "scores", "protocol": "--protocol", "key": "--key",
                "manifest": "--manifest", "asv_scores": "--asv-scores", "compare": "--compare"}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command line of ``ssdctx-eval``."""
    corpora = dict.fromkeys(corpus.title for corpus, _ in key_formats())
    parser = argparse.ArgumentParser(
        prog="ssdctx-eval",
        description=f"The official ASVspoof metrics of a score file ({', '.join(corpora)}, "
        "any manifest), with bootstrap intervals.",
    )
    parser.add_argument("scores", type=Path,
                        help="score file ('utt_id score' lines or a TSV; '-' for stdin)")
    key = parser.add_mutually_exclusive_group(required=True)
    key.add_argument("--protocol", type=Path, help="ASVspoof 2019 CM protocol")
    key.add_argument("--key", type=Path, help=f"any key: {', '.join(KEY_KINDS.values())}")
    key.add_argument("--manifest", type=Path, help="CSV manifest of a preparer")
    parser.add_argument("--asv-scores", type=Path, help="ASVspoof 2019 ASV score file")
    parser.add_argument("--c012", type=Path, help="2021 C012 table (JSON [attack][codec])")
    parser.add_argument("--track", choices=("LA", "DF"), help="2021 track (default: guessed)")
    parser.add_argument("--subset", default="eval", help="2021 subset to report (eval)")
    parser.add_argument("--calibration", type=Path,
                        help="calibration JSON (ssdctx-calibrate fit): adds calibrated "
                        "actDCF and Cllr")
    parser.add_argument("--bootstrap", type=int, default=0, metavar="N",
                        help="bootstrap resamples for confidence intervals (e.g. 1000)")
    parser.add_argument("--group-by", help="key column whose groups are resampled whole "
                        "(e.g. speaker)")
    parser.add_argument("--confidence", type=float, default=0.95, help="interval level")
    parser.add_argument("--seed", type=int, default=0, help="seed of the resampling")
    parser.add_argument("--compare", type=Path, metavar="OTHER_SCORES",
                        help="a second score file of the same trials: paired comparison")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    args = parser.parse_args(argv)
    if args.bootstrap < 0:
        parser.error(f"--bootstrap must be >= 0, got {args.bootstrap}")
    if not 0 < args.confidence < 1:
        parser.error(f"--confidence must be in (0, 1), got {args.confidence}")
    return args


def _read_rows(args) -> tuple[list[dict], str, Path]:
    key = args.protocol or args.key or args.manifest
    if args.protocol:
        rows, kind = read_key(key)
        if kind != "2019":
            raise ValueError(f"{key} is an {KEY_KINDS[kind]}, not a 2019 CM protocol: use --key.")
    else:
        rows, kind = read_key(key, args.track)
    return rows, kind, key


def _track2(args, rows, kind, key) -> dict:
    if kind != "sasv":
        raise ValueError(
            f"{args.scores} is a Track 2 (SASV) score file but {key} is an {KEY_KINDS[kind]}: "
            "give the Track 2 key (spk filename cm-label asv-label)."
        )
    if args.bootstrap or args.compare or args.calibration:
        raise ValueError("--bootstrap, --compare and --calibration are for CM score files.")
    return evaluate_sasv_scores(
        read_sasv_score_file(args.scores), rows, str(args.scores), str(key)
    )


def _comparison(args, rows, scores) -> dict:
    """Paired bootstrap of the EER difference between the two score files."""
    subset = args.subset if rows and "subset" in rows[0] else None
    rows = [row for row in rows if subset is None or row["subset"] == subset]
    ids = [row["ID"] for row in rows]
    other = read_score_file(args.compare)
    a = align_scores(scores, ids, None, str(args.scores), "the key")
    b = align_scores(other, ids, None, str(args.compare), "the key")
    labels = np.array([row["label"] == "bonafide" for row in rows])
    groups = None if args.group_by is None else [row[args.group_by] for row in rows]
    result = paired_bootstrap(
        a, b, labels, args.bootstrap or 1000, args.confidence, groups, args.seed
    )
    result["eer_difference"] = result["eer_difference"].to_dict()
    return {"other": str(args.compare), **result}


def evaluate(args: argparse.Namespace) -> dict:
    """The report of parsed ``ssdctx-eval`` arguments."""
    read_streams(args, _TEXT_INPUTS)
    rows, kind, key = _read_rows(args)
    if score_file_kind(args.scores) == "sasv":
        return _track2(args, rows, kind, key)
    scores = read_score_file(args.scores)
    asv = asv_operating_point_of(args.asv_scores) if args.asv_scores else None
    c012 = None
    if args.c012:
        c012 = json.loads(args.c012.read_text(encoding="utf-8"))
    elif any(corpus.official_c012 for corpus, key in key_formats() if key.kind == kind):
        c012 = official_c012(args.subset)
    calibration = Calibration.load(args.calibration) if args.calibration else None
    if args.group_by is not None and rows and args.group_by not in rows[0]:
        raise ValueError(f"{key} has no {args.group_by!r} column (--group-by).")
    report = evaluate_scores(
        scores, rows, asv, c012, args.subset, str(args.scores), str(key),
        calibration=calibration, bootstrap=args.bootstrap, group_by=args.group_by,
        confidence=args.confidence, seed=args.seed,
    )
    if args.compare:
        report["comparison"] = _comparison(args, rows, scores)
    return report


@quiet_on_closed_reader
def main(argv: Sequence[str] | None = None) -> int:
    """Runs ssdctx-eval; returns 0, or 1 after printing an error."""
    args = parse_args(argv)
    try:
        report = evaluate(args)
    except BrokenPipeError:
        raise
    except (OSError, ValueError, KeyError) as error:
        print(f"ssdctx-eval: error: {error}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(results_markdown({Path(str(args.scores)).name: report}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
