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
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from speechbrain_ssdctx import metrics
from speechbrain_ssdctx.data.asvspoof import (
    BONAFIDE,
    UNKNOWN,
    read_asv_scores,
    read_manifest,
    read_protocol_2019,
    read_trial_metadata_2021,
)

__all__ = ["evaluate_scores", "format_report", "main", "official_c012"]

_C012_FOLDER = Path(__file__).resolve().parents[1] / "data" / "asvspoof2021"
#: Breakdowns per corpus: spoof-only groups and conditions shared by both classes.
_GROUPS = ("attack", "vocoder")
_CONDITIONS = ("codec", "compression")


def official_c012(subset: str = "eval") -> dict:
    """Loads the official ASVspoof 2021 LA C012 table of a subset (bundled JSON).

    Arguments
    ---------
    subset : str
        ``"eval"``, ``"progress"`` or ``"hidden"``.

    Returns
    -------
    dict
        ``table[attack][codec] = {"C0": .., "C1": .., "C2": ..}``, with ``"Pooled"`` entries.

    Example
    -------
    >>> round(official_c012()["Pooled"]["Pooled"]["C0"], 6)
    0.078891
    """
    path = _C012_FOLDER / f"LA-C012-{subset}.json"
    if not path.is_file():
        raise FileNotFoundError(f"No official 2021 LA C012 table for subset {subset!r} ({path}).")
    return json.loads(path.read_text(encoding="utf-8"))


def evaluate_scores(
    scores: Mapping[str, float],
    rows: Sequence[Mapping[str, str]],
    asv: metrics.AsvOperatingPoint | None = None,
    c012: Mapping | None = None,
    subset: str | None = "eval",
    score_name: str = "score file",
    key_name: str = "key",
) -> dict:
    """Evaluates scores against key rows (from a protocol, a 2021 key or a manifest).

    Arguments
    ---------
    scores : mapping
        Utterance id to score.
    rows : sequence of mapping
        Key rows with ``ID``, ``label`` and optional ``attack``, ``codec``,
        ``compression``, ``vocoder``, ``subset`` columns.
    asv : AsvOperatingPoint, optional
        ASV operating point (legacy and revised min t-DCF).
    c012 : mapping, optional
        A 2021 C012 table ``[attack][codec]`` (revised min t-DCF, pooled, per attack and
        per codec, as the official 2021 package).
    subset : str, optional
        Keep only rows of this ``subset`` when the key has one (official 2021 results use
        ``eval``); scores of the other subsets are ignored.
    score_name, key_name : str
        Names of both sides for error messages.

    Returns
    -------
    dict
        See ``metrics.evaluate_trials``; with ``c012`` also ``per_attack_min_tdcf`` and
        ``per_codec_min_tdcf``.

    Example
    -------
    >>> rows = [{"ID": "a", "label": "bonafide"}, {"ID": "b", "label": "spoof"}]
    >>> evaluate_scores({"a": 1.0, "b": 0.0}, rows)["eer_percent"]
    0.0
    """
    known_ids = [row["ID"] for row in rows]
    if subset is not None and rows and "subset" in rows[0]:
        rows = [row for row in rows if row["subset"] == subset]
        if not rows:
            raise ValueError(f"{key_name} has no trial of subset {subset!r}.")
    unlabelled = sum(row["label"] == UNKNOWN for row in rows)
    if unlabelled:
        raise ValueError(
            f"{key_name}: {unlabelled} trials have no label (built from a trial list "
            "without keys): metrics need the ASVspoof keys package."
        )
    ids = [row["ID"] for row in rows]
    values = metrics.align_scores(scores, ids, known_ids, score_name, key_name)
    is_bonafide = np.array([row["label"] == BONAFIDE for row in rows])
    columns = {name: [row.get(name, "-") for row in rows] for name in rows[0]}
    groups = {name: columns[name] for name in _GROUPS if name in columns}
    conditions = {name: columns[name] for name in _CONDITIONS if name in columns}
    coefficients = None if c012 is None else c012["Pooled"]["Pooled"]
    report = metrics.evaluate_trials(values, is_bonafide, asv, coefficients, groups, conditions)
    if c012 is not None:
        report.update(_c012_breakdowns(values, is_bonafide, columns, c012))
    return report


def _c012_breakdowns(values, is_bonafide, columns, c012) -> dict:
    """Revised min t-DCF per attack and per codec with their official coefficients."""
    bonafide, spoof = values[is_bonafide], values[~is_bonafide]
    attacks = np.asarray(columns.get("attack", ["-"] * values.size))[~is_bonafide]
    per_attack = {
        attack: metrics.min_tdcf(bonafide, spoof[attacks == attack], c012[attack]["Pooled"])[0]
        for attack in sorted(set(attacks.tolist()))
        if attack in c012
    }
    per_codec = {}
    codecs = np.asarray(columns.get("codec", ["-"] * values.size))
    for codec in sorted(set(codecs.tolist()) & set(c012["Pooled"]) - {"Pooled"}):
        mask = codecs == codec
        per_codec[codec] = metrics.min_tdcf(
            values[mask & is_bonafide], values[mask & ~is_bonafide], c012["Pooled"][codec]
        )[0]
    return {"per_attack_min_tdcf": per_attack, "per_codec_min_tdcf": per_codec}


def format_report(report: Mapping) -> str:
    """A plain-text table of a report (EER in %, min t-DCF, breakdowns).

    Example
    -------
    >>> print(format_report({"trials": 2, "bonafide": 1, "spoof": 1, "eer_percent": 0.0,
    ...     "eer_threshold": 0.5}))
    trials            2 (1 bona fide, 1 spoof)
    EER               0.0000 %  (threshold 0.5)
    min t-DCF         n/a (needs ASV scores or C012 coefficients)
    """
    lines = [
        f"{'trials':<17} {report['trials']} ({report['bonafide']} bona fide, "
        f"{report['spoof']} spoof)",
        f"{'EER':<17} {report['eer_percent']:.4f} %  (threshold {report['eer_threshold']:.6g})",
    ]
    for key, label in (
        ("min_tdcf_legacy", "min t-DCF legacy"),
        ("min_tdcf_revised", "min t-DCF revised"),
    ):
        if key in report:
            lines.append(f"{label:<17} {report[key]:.4f}")
    if "asv_eer_percent" in report:
        lines.append(
            f"{'ASV EER':<17} {report['asv_eer_percent']:.4f} %  "
            f"(threshold {report['asv_threshold']:.6g})"
        )
    if "min_tdcf_legacy" not in report and "min_tdcf_revised" not in report:
        lines.append("min t-DCF         n/a (needs ASV scores or C012 coefficients)")
    for key, table in report.items():
        if key.startswith("per_") and isinstance(table, Mapping) and table:
            name = key[len("per_") :].replace("_eer_percent", "").replace("_", " ")
            unit = " (EER %)" if key.endswith("_eer_percent") else ""
            lines.append(f"\n{name}{unit}")
            lines += [f"  {condition:<30} {value:.4f}" for condition, value in table.items()]
    return "\n".join(lines)


def _load_key(args) -> tuple[list[dict[str, str]], str]:
    if args.protocol:
        return read_protocol_2019(args.protocol), os.fspath(args.protocol)
    if args.manifest:
        return read_manifest(args.manifest), os.fspath(args.manifest)
    track = args.track or _guess_track(args.key)
    return read_trial_metadata_2021(args.key, track), os.fspath(args.key)


def _guess_track(path: Path) -> str:
    """LA keys have 8 fields per line, DF keys 13."""
    with open(path, encoding="utf-8") as stream:
        first = next((line.split() for line in stream if line.strip()), [])
    return "LA" if len(first) == 8 else "DF"


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
        rows, key_name = _load_key(args)
        asv = None
        if args.asv_scores:
            asv_scores = read_asv_scores(args.asv_scores)
            asv = metrics.asv_operating_point(
                asv_scores.target, asv_scores.nontarget, asv_scores.spoof
            )
        c012 = None
        if args.c012:
            c012 = json.loads(args.c012.read_text(encoding="utf-8"))
        elif args.key and (args.track or _guess_track(args.key)) == "LA":
            c012 = official_c012(args.subset)
        report = evaluate_scores(
            scores, rows, asv, c012, args.subset, os.fspath(args.scores), key_name
        )
    except (OSError, ValueError, KeyError) as error:
        print(f"ssdctx-eval: error: {error}", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
