"""Evaluating scores against keys, as the official ASVspoof code does.

``read_key`` reads any key the project knows and says what it is: a manifest written by a
preparer, or a key format of a corpus of the registry (``speechbrain_ssdctx.data.corpora``:
an ASVspoof 2019 CM protocol, a 2021 LA or DF ``trial_metadata.txt``, an ASVspoof 5
protocol or evaluation-package key (Track 1 or Track 2), an In-the-Wild ``meta.csv``, a
``path,label`` CSV, and the keys of corpora you register). ``evaluate_scores`` gives the
countermeasure metrics of a score set against a key (EER, min t-DCF, the ASVspoof 5
Track 1 metrics, breakdowns; optionally after calibration and with bootstrap
intervals), ``evaluate_sasv_scores`` the Track 2 metrics. The recipes, ``ssdctx-eval``
and ``ssdctx-score`` all evaluate through here; ``speechbrain_ssdctx.evaluation.report`` renders
the reports.

Authors
 * speechbrain-ssdctx contributors
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from speechbrain_ssdctx.data.asvspoof import read_asv_scores
from speechbrain_ssdctx.data.corpora import CORPORA, Corpus, KeyFormat
from speechbrain_ssdctx.data.preparation import (
    BONAFIDE,
    UNKNOWN,
    ProtocolError,
    read_manifest,
)
from speechbrain_ssdctx.evaluation.bootstrap import bootstrap_metrics
from speechbrain_ssdctx.evaluation.calibration import Calibration
from speechbrain_ssdctx.evaluation.dcf import DetectionCosts, act_dcf, cllr
from speechbrain_ssdctx.evaluation.sasv import evaluate_sasv
from speechbrain_ssdctx.evaluation.scores import SasvScore, align, align_scores
from speechbrain_ssdctx.evaluation.tdcf import (
    AsvOperatingPoint,
    asv_operating_point,
    min_tdcf,
    tdcf_coefficients,
)
from speechbrain_ssdctx.evaluation.trials import evaluate_trials
from speechbrain_ssdctx.utils.textio import TextInput, is_readable, read_input, read_lines

__all__ = [
    "KEY_KINDS",
    "MANIFEST_KIND",
    "asv_operating_point_of",
    "evaluate_sasv_scores",
    "evaluate_scores",
    "key_formats",
    "official_c012",
    "read_key",
]

_C012_FOLDER = Path(__file__).resolve().parents[1] / "data" / "asvspoof2021"
#: Breakdowns per corpus: spoof-only groups and conditions shared by both classes.
_GROUPS = ("attack", "vocoder")
_CONDITIONS = ("codec", "compression")
#: ``read_key``'s kind of a manifest written by a preparer, and what a CSV one needs.
MANIFEST_KIND, _MANIFEST_HINT = "manifest", "of a manifest (ID,...,label)"


def key_formats() -> Iterator[tuple[Corpus, KeyFormat]]:
    """Every key format of the registry's corpora, with its corpus, in registry order."""
    for corpus in CORPORA.values():
        for key_format in corpus.key_formats:
            yield corpus, key_format


class _KeyKinds(Mapping):
    """``kind -> description`` of what ``read_key`` can return, read from the registry."""

    def _kinds(self) -> dict[str, str]:
        kinds = {key.kind: key.description for _, key in key_formats()}
        return {**kinds, MANIFEST_KIND: "manifest"}

    def __getitem__(self, kind: str) -> str:
        return self._kinds()[kind]

    def __iter__(self):
        return iter(self._kinds())

    def __len__(self) -> int:
        return len(self._kinds())


#: What ``read_key`` can return, in words (the registry's key formats and ``manifest``).
KEY_KINDS: Mapping[str, str] = _KeyKinds()


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


def _key_rows(rows, subset, key_name) -> tuple[list[dict], list[str]]:
    """The rows to evaluate (one subset, all labelled) and all ids of the key."""
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
    return rows, known_ids


def evaluate_scores(
    scores: Mapping[str, float],
    rows: Sequence[Mapping[str, str]],
    asv: AsvOperatingPoint | None = None,
    c012: Mapping | None = None,
    subset: str | None = "eval",
    score_name: str = "score file",
    key_name: str = "key",
    calibration: Calibration | None = None,
    bootstrap: int = 0,
    group_by: str | None = None,
    confidence: float = 0.95,
    seed: int = 0,
    costs: DetectionCosts | None = None,
) -> dict:
    """Evaluates CM scores against key rows (from a protocol, a key or a manifest).

    Arguments
    ---------
    scores : mapping
        Utterance id to score.
    rows : sequence of mapping
        Key rows with ``ID``, ``label`` and optional ``attack``, ``codec``,
        ``compression``, ``vocoder``, ``subset``, ``speaker`` columns.
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
    calibration : Calibration, optional
        Also report actDCF and Cllr of the calibrated scores (``act_dcf_calibrated``,
        ``cllr_calibrated``), next to those of the raw scores.
    bootstrap : int
        Number of bootstrap replicates of the intervals of EER, minDCF and min t-DCF
        (``"bootstrap"`` entry); 0 for none.
    group_by : str, optional
        A key column (e.g. ``"speaker"``) whose groups the bootstrap resamples whole.
    confidence : float
        Nominal coverage of the bootstrap intervals.
    seed : int
        Seed of the bootstrap.
    costs : DetectionCosts, optional
        Prior and costs of minDCF and actDCF (ASVspoof 5 Track 1 by default).

    Returns
    -------
    dict
        See ``trials.evaluate_trials``; with ``c012`` also ``min_tdcf_revised`` in the
        per-attack and per-codec tables.

    Example
    -------
    >>> rows = [{"ID": "a", "label": "bonafide"}, {"ID": "b", "label": "spoof"}]
    >>> evaluate_scores({"a": 1.0, "b": 0.0}, rows)["eer"]
    0.0
    """
    rows, known_ids = _key_rows(rows, subset, key_name)
    ids = [row["ID"] for row in rows]
    values = align_scores(scores, ids, known_ids, score_name, key_name)
    is_bonafide = np.array([row["label"] == BONAFIDE for row in rows])
    columns = {name: [row.get(name, "-") for row in rows] for name in rows[0]}
    groups = {name: columns[name] for name in _GROUPS if name in columns}
    conditions = {name: columns[name] for name in _CONDITIONS if name in columns}
    coefficients = None if c012 is None else c012["Pooled"]["Pooled"]
    report = evaluate_trials(
        values, is_bonafide, asv, coefficients, groups, conditions, costs=costs
    )
    if c012 is not None:
        _add_c012_breakdowns(report, values, is_bonafide, columns, c012)
    if calibration is not None:
        llrs = calibration(values)
        report["act_dcf_calibrated"] = act_dcf(
            llrs[is_bonafide], llrs[~is_bonafide], costs
        )[0]
        report["cllr_calibrated"] = cllr(llrs[is_bonafide], llrs[~is_bonafide])
    if bootstrap:
        if group_by is not None and group_by not in columns:
            raise ValueError(f"{key_name} has no {group_by!r} column to group the bootstrap by.")
        form = None if coefficients is None else "revised"
        if asv is not None:  # the 2019 primary form
            coefficients, form = tdcf_coefficients(asv, form="legacy"), "legacy"
        intervals = bootstrap_metrics(
            values, is_bonafide, bootstrap, confidence, groups=columns.get(group_by),
            costs=costs, coefficients=coefficients, seed=seed,
        )
        report["bootstrap"] = {
            "resamples": bootstrap,
            "group_by": group_by,
            "min_tdcf_form": form,
            **{name: interval.to_dict() for name, interval in intervals.items()},
        }
    return report


def _add_c012_breakdowns(report, values, is_bonafide, columns, c012) -> None:
    """Revised min t-DCF per attack and per codec with their official coefficients."""
    bonafide, spoof = values[is_bonafide], values[~is_bonafide]
    attacks = np.asarray(columns.get("attack", ["-"] * values.size))[~is_bonafide]
    for attack, row in report.get("per_attack", {}).items():
        if attack in c012:
            coefficients = c012[attack]["Pooled"]
            row["min_tdcf_revised"] = min_tdcf(
                bonafide, spoof[attacks == attack], coefficients
            )[0]
    codecs = np.asarray(columns.get("codec", ["-"] * values.size))
    for codec, row in report.get("per_codec", {}).items():
        if codec in c012["Pooled"] and codec != "Pooled":
            mask = codecs == codec
            row["min_tdcf_revised"] = min_tdcf(
                values[mask & is_bonafide], values[mask & ~is_bonafide], c012["Pooled"][codec]
            )[0]


def evaluate_sasv_scores(
    scores: Mapping[tuple[str, str], SasvScore],
    rows: Sequence[Mapping[str, str]],
    score_name: str = "score file",
    key_name: str = "key",
) -> dict:
    """ASVspoof 5 Track 2 metrics of SASV scores against a Track 2 key.

    a-DCF always; min t-DCF and t-EER when every trial has CM and ASV scores; the same
    per attack (all target and nontarget trials with that attack's spoofs) and per codec
    (the trials of that codec), as the official ``evaluation_full.py``.

    Arguments
    ---------
    scores : mapping
        ``(speaker, filename)`` to ``SasvScore`` (``scores.read_sasv_score_file``).
    rows : sequence of mapping
        Key rows with ``speaker``, ``ID``, ``asv_label`` and optional ``attack``, ``codec``.
    score_name, key_name : str
        Names of both sides for error messages.

    Returns
    -------
    dict
        See ``sasv.evaluate_sasv``; ``per_attack`` and ``per_codec`` tables when the
        key has those columns.

    Example
    -------
    >>> rows = [{"speaker": "s", "ID": f, "asv_label": l}
    ...         for f, l in (("a", "target"), ("b", "nontarget"), ("c", "spoof"))]
    >>> scores = {("s", "a"): SasvScore(None, None, 3.0), ("s", "b"): SasvScore(None, None, -1.0),
    ...           ("s", "c"): SasvScore(None, None, 0.5)}
    >>> evaluate_sasv_scores(scores, rows)["a_dcf"]
    0.0
    """
    trials = [(row["speaker"], row["ID"]) for row in rows]
    values = align(scores, trials, score_name=score_name, key_name=key_name)
    labels = np.array([row["asv_label"] for row in rows])
    missing = sum(score.cm is None or score.asv is None for score in values)
    if missing not in (0, len(values)):
        raise ValueError(
            f"{score_name}: {missing} of {len(values)} trials lack a CM or ASV score ('-'): "
            "give them for every trial (min t-DCF, t-EER) or for none (a-DCF only)."
        )
    sasv = np.array([score.sasv for score in values])
    cm = None if missing else np.array([score.cm for score in values])
    asv = None if missing else np.array([score.asv for score in values])

    def subset(mask):
        return evaluate_sasv(
            sasv[mask], labels[mask], None if cm is None else cm[mask],
            None if asv is None else asv[mask],
        )

    report = subset(np.ones(labels.size, dtype=bool))
    bonafide = labels != "spoof"
    for column in ("attack", "codec"):
        if column not in rows[0]:
            continue
        values_of = np.array([row.get(column, "-") for row in rows])
        table = {}
        for group in sorted(set(values_of[~bonafide].tolist())):
            if column == "attack":
                mask = bonafide | (values_of == group)
            else:
                mask = values_of == group
            if len(set(labels[mask].tolist())) == 3:
                table[group] = {
                    k: v for k, v in subset(mask).items() if k in ("a_dcf", "min_tdcf", "t_eer")
                }
        report[f"per_{column}"] = table
    return report


def read_key(
    path: str | os.PathLike | TextInput, track: str | None = None
) -> tuple[list[dict], str]:
    """Reads a key and says what it is (a ``KEY_KINDS`` name).

    A CSV file with ``ID`` and ``label`` columns is a manifest. Other keys are read by the
    first key format of the registry of corpora that matches the first line (formats with a
    header first): CSV files by their header (In-the-Wild ``file,speaker,label``, a
    labelled CSV ``path,label``), other files by a header with ``cm-label`` (ASVspoof 5
    evaluation-package keys: Track 2 when it also has ``asv-label``), else by the number of
    fields (5: a 2019 CM protocol; 8: a 2021 LA key; 9 or 10 with the key in field 9: an
    ASVspoof 5 protocol; 9 or more, with the key in field 6 if 9 or 10: a 2021 DF key),
    unless ``track`` (``"LA"`` or ``"DF"``) names the 2021 track. The key is read once
    (a pipe, a FIFO or ``-`` for stdin are keys too); a key without a file name (a pipe,
    stdin) is a CSV key when its first line holds commas.

    Arguments
    ---------
    path : str, path-like or TextInput
        The protocol, key or manifest (a file, a pipe, a FIFO, ``-``).
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
    if not is_readable(path):
        raise ProtocolError(f"Key file not found: {path}")
    given, path = path, read_input(path)
    first = next((line for _, line in read_lines(path, ProtocolError) if line.strip()), "")
    is_csv = path.suffix == ".csv" or (path.stream and not path.suffix and "," in first)
    if not path.stream:
        path = given  # a file: the readers of registered corpora may take its path
    if is_csv:
        fields = [name.strip().lower() for name in first.split(",")]
        if "id" in fields and "label" in fields:
            return read_manifest(path), MANIFEST_KIND
    else:
        fields = first.split()
    formats = sorted((key for _, key in key_formats() if key.csv == is_csv),
                     key=lambda key: not key.header)
    for key in formats:
        if key.matches(fields, track):
            return key.reader(path), key.kind
    if is_csv:
        hints = [_MANIFEST_HINT] + [key.hint for key in formats]
        either = " or ".join(filter(None, [", ".join(hints[:-1]), hints[-1]]))
        raise ProtocolError(f"{path}: a CSV key needs the header {either}; got {fields}.")
    raise ProtocolError(
        f"{path}: not an ASVspoof key (a 2019 CM protocol has 5 fields per line, a 2021 "
        f"trial_metadata 8 or more, an ASVspoof 5 protocol 10); its first line has "
        f"{len(fields)}."
    )


def asv_operating_point_of(path: str | os.PathLike) -> AsvOperatingPoint:
    """The ASV operating point (at the ASV EER) of an ASVspoof 2019 ASV score file."""
    asv = read_asv_scores(path)
    return asv_operating_point(asv.target, asv.nontarget, asv.spoof)
