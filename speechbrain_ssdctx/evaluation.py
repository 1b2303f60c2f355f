"""Evaluating scores against ASVspoof keys, as the official ASVspoof code does.

``read_key`` reads any key the project knows (a 2019 CM protocol, a 2021 LA or DF
``trial_metadata.txt``, a manifest from ``prepare_asvspoof``), ``evaluate_scores`` gives
EER, min t-DCF and the breakdowns of a set of scores against it (through
``speechbrain_ssdctx.metrics``), and ``format_report`` prints the result. The recipes,
``ssdctx-eval`` and ``ssdctx-score`` all evaluate through here.

Authors
 * speechbrain-ssdctx contributors
"""

from __future__ import annotations

import json
import os
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

__all__ = [
    "asv_operating_point_of",
    "evaluate_scores",
    "format_report",
    "official_c012",
    "read_key",
]

_C012_FOLDER = Path(__file__).resolve().parent / "data" / "asvspoof2021"
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


def read_key(path: str | os.PathLike, track: str | None = None) -> tuple[list[dict], str]:
    """Reads a key and says what it is: ``"2019"``, ``"2021LA"``, ``"2021DF"`` or ``"manifest"``.

    A ``.csv`` file is a manifest; otherwise the number of fields of the first line tells
    the format (5: a 2019 CM protocol, 8: a 2021 LA key, 9 or more: a 2021 DF key), unless
    ``track`` (``"LA"`` or ``"DF"``) names the 2021 track.

    Arguments
    ---------
    path : str or path-like
        The protocol, key or manifest.
    track : str, optional
        The 2021 track, when the key is a 2021 one.

    Returns
    -------
    rows : list of dict
        One row per trial (``ID``, ``label``, ``attack`` and the key's conditions).
    kind : str
        The format read.

    Example
    -------
    >>> rows, kind = read_key("tests/fixtures/asvspoof2019_la/LA/"
    ...                       "ASVspoof2019_LA_cm_protocols/ASVspoof2019.LA.cm.dev.trl.txt")
    >>> kind, len(rows)
    ('2019', 24844)
    """
    if os.fspath(path).endswith(".csv"):
        return read_manifest(path), "manifest"
    with open(path, encoding="utf-8") as stream:
        first = next((line.split() for line in stream if line.strip()), [])
    if track is None and len(first) == 5:
        return read_protocol_2019(path), "2019"
    if track is None and len(first) >= 8:
        track = "LA" if len(first) == 8 else "DF"
    if track is None:
        raise ValueError(
            f"'{path}': not an ASVspoof key (a 2019 CM protocol has 5 fields per line, a "
            f"2021 trial_metadata 8 or more), its first line has {len(first)}"
        )
    return read_trial_metadata_2021(path, track), f"2021{track}"


def asv_operating_point_of(path: str | os.PathLike) -> metrics.AsvOperatingPoint:
    """The ASV operating point (at the ASV EER) of an ASVspoof 2019 ASV score file."""
    asv = read_asv_scores(path)
    return metrics.asv_operating_point(asv.target, asv.nontarget, asv.spoof)
