"""ssdctx-eval: EER, min t-DCF and breakdowns of a score file, as the official ASVspoof code.

Usage::

    # ASVspoof 2019 LA (legacy and revised min t-DCF need the organisers' ASV scores)
    ssdctx-eval scores.txt \\
        --protocol LA/ASVspoof2019_LA_cm_protocols/ASVspoof2019.LA.cm.eval.trl.txt \\
        --asv-scores LA/ASVspoof2019_LA_asv_scores/ASVspoof2019.LA.asv.eval.gi.trl.scores.txt
    # ASVspoof 2021 LA or DF (the track is read from the key; LA min t-DCF uses the
    # official C012 coefficients, bundled, unless --c012 gives others)
    ssdctx-eval scores.txt --key keys/LA/CM/trial_metadata.txt --subset eval
    # a manifest written by prepare_asvspoof (e.g. the demo corpus): EER only
    ssdctx-eval scores.txt --manifest results/asvspoof2019_la_eval.csv --json

The score file holds ``utt_id score`` per line (higher = more bona fide).

Authors
 * speechbrain-ssdctx contributors 2025
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from speechbrain_ssdctx import metrics
from speechbrain_ssdctx.data.asvspoof import read_manifest, read_protocol_2019
from speechbrain_ssdctx.evaluation import (
    asv_operating_point_of,
    evaluate_scores,
    format_report,
    official_c012,
    read_key,
)

__all__ = ["main"]


def _parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="ssdctx-eval",
        description="EER and min t-DCF of a score file, as the official ASVspoof code.",
    )
    parser.add_argument("scores", type=Path, help="score file: 'utt_id score' per line")
    key = parser.add_mutually_exclusive_group(required=True)
    key.add_argument("--protocol", type=Path, help="ASVspoof 2019 CM protocol")
    key.add_argument("--key", type=Path, help="ASVspoof 2021 trial_metadata.txt (LA or DF)")
    key.add_argument("--manifest", type=Path, help="CSV manifest from prepare_asvspoof")
    parser.add_argument("--asv-scores", type=Path, help="ASVspoof 2019 ASV score file")
    parser.add_argument("--c012", type=Path, help="2021 C012 table (JSON [attack][codec])")
    parser.add_argument("--track", choices=("LA", "DF"), help="2021 track (default: guessed)")
    parser.add_argument("--subset", default="eval", help="2021 subset to report (eval)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Runs ssdctx-eval; returns 0, or 1 after printing an error."""
    args = _parse_args(argv)
    try:
        scores = metrics.read_score_file(args.scores)
        key = args.protocol or args.key or args.manifest
        if args.protocol:
            rows, kind = read_protocol_2019(key), "2019"
        elif args.manifest:
            rows, kind = read_manifest(key), "manifest"
        else:
            rows, kind = read_key(key, args.track)
        asv = asv_operating_point_of(args.asv_scores) if args.asv_scores else None
        c012 = None
        if args.c012:
            c012 = json.loads(args.c012.read_text(encoding="utf-8"))
        elif kind == "2021LA":
            c012 = official_c012(args.subset)
        report = evaluate_scores(
            scores, rows, asv, c012, args.subset, os.fspath(args.scores), os.fspath(key)
        )
    except (OSError, ValueError, KeyError) as error:
        print(f"ssdctx-eval: error: {error}", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
