"""ASVspoof evaluation metrics: EER, min t-DCF (legacy 2019 and revised forms), breakdowns.

A vectorised port of the definitions in the official ASVspoof evaluation code
(``tDCF_python_v2/eval_metrics.py`` and the ASVspoof 2021 ``eval-package``): the same
detection error trade-off (DET) curve, the same EER operating point and threshold (ties
included), the same ASV operating point and the same t-DCF coefficients. Every function
sorts the scores once (``O(N log N)``): 611,829 trials take well under a second, whereas
``speechbrain.utils.metric_stats.EER`` is ``O(N^2)`` and resolves ties differently.

Conventions: higher scores mean "more bona fide"; error rates and the EER are fractions
(multiply by 100 for %), as the official code returns them.

Score files hold one ``utt_id score`` pair per line, the format every ASVspoof tool reads.

Authors
 * speechbrain-ssdctx contributors 2025
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from speechbrain_ssdctx.atomic import atomic_open

__all__ = [
    "AsvOperatingPoint",
    "CostModel",
    "ScoreFileError",
    "TDCFCoefficients",
    "align_scores",
    "asv_operating_point",
    "compute_det_curve",
    "compute_eer",
    "eer_per_group",
    "eer_per_condition",
    "evaluate_trials",
    "min_tdcf",
    "min_tdcf_legacy",
    "min_tdcf_revised",
    "read_score_file",
    "tdcf_coefficients",
    "write_score_file",
]


class ScoreFileError(ValueError):
    """A score file that cannot be parsed (the message names the file and the line)."""


def _as_scores(scores: Iterable[float], name: str) -> np.ndarray:
    """Returns ``scores`` as a finite 1-D float64 array, or raises a ValueError."""
    array = np.asarray(scores, dtype=np.float64).reshape(-1)
    if array.size == 0:
        raise ValueError(f"{name}: no scores given (at least one is needed).")
    if not np.isfinite(array).all():
        raise ValueError(f"{name}: scores contain NaN or inf.")
    return array


def compute_det_curve(
    bonafide_scores: Iterable[float], spoof_scores: Iterable[float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Computes the detection error trade-off curve exactly as the official ASVspoof code.

    All scores are sorted once with a stable sort, bona fide scores first, so tied
    scores are ordered as the official code orders them. Point ``i`` of the curve uses the
    threshold ``thresholds[i]`` and rejects the ``i`` lowest scores; point 0 rejects none.

    Arguments
    ---------
    bonafide_scores : array_like
        Scores of the bona fide (positive, target) trials.
    spoof_scores : array_like
        Scores of the spoofed (negative, nontarget) trials.

    Returns
    -------
    frr : np.ndarray
        False rejection (miss) rate of bona fide trials at each point, ``N + 1`` values.
    far : np.ndarray
        False acceptance rate of spoofed trials at each point, ``N + 1`` values.
    thresholds : np.ndarray
        The sorted scores, preceded by the lowest score minus 0.001 (as the official code).

    Example
    -------
    >>> frr, far, thr = compute_det_curve([0.9, 0.4], [0.1, 0.5])
    >>> frr.tolist(), far.tolist()
    ([0.0, 0.0, 0.5, 0.5, 1.0], [1.0, 0.5, 0.5, 0.0, 0.0])
    >>> thr.round(3).tolist()
    [0.099, 0.1, 0.4, 0.5, 0.9]
    """
    bonafide = _as_scores(bonafide_scores, "bonafide_scores")
    spoof = _as_scores(spoof_scores, "spoof_scores")
    all_scores = np.concatenate((bonafide, spoof))
    order = np.argsort(all_scores, kind="stable")
    is_bonafide = order < bonafide.size
    bonafide_below = np.cumsum(is_bonafide)
    spoof_below = np.arange(1, all_scores.size + 1) - bonafide_below
    frr = np.concatenate(([0.0], bonafide_below / bonafide.size))
    far = np.concatenate(([1.0], (spoof.size - spoof_below) / spoof.size))
    sorted_scores = all_scores[order]
    thresholds = np.concatenate(([sorted_scores[0] - 0.001], sorted_scores))
    return frr, far, thresholds


def compute_eer(
    bonafide_scores: Iterable[float], spoof_scores: Iterable[float]
) -> tuple[float, float]:
    """Computes the equal error rate and its threshold, as the official ASVspoof code.

    The operating point is the first DET point where ``|FRR - FAR|`` is smallest; the EER
    is the mean of FRR and FAR there. No ASV scores are needed.

    Arguments
    ---------
    bonafide_scores : array_like
        Scores of the bona fide trials (higher = more bona fide).
    spoof_scores : array_like
        Scores of the spoofed trials.

    Returns
    -------
    eer : float
        The equal error rate as a fraction (0.05 is 5 %).
    threshold : float
        The score threshold of that operating point.

    Example
    -------
    >>> eer, threshold = compute_eer([0.9, 0.8, 0.7, 0.3], [0.1, 0.2, 0.4, 0.75])
    >>> eer, threshold
    (0.25, 0.4)
    """
    frr, far, thresholds = compute_det_curve(bonafide_scores, spoof_scores)
    index = int(np.argmin(np.abs(frr - far)))
    return float((frr[index] + far[index]) / 2), float(thresholds[index])


@dataclass(frozen=True)
class CostModel:
    """The t-DCF cost model: priors and costs (defaults: ASVspoof 2019 and 2021).

    Arguments
    ---------
    p_spoof : float
        Prior probability of a spoofing attack.
    p_target : float
        Prior probability of a target (genuine, same-speaker) trial.
    p_nontarget : float
        Prior probability of a nontarget (zero-effort impostor) trial.
    c_miss : float
        Revised form: cost of the tandem system rejecting a target trial.
    c_fa : float
        Revised form: cost of the tandem system accepting a nontarget trial.
    c_fa_spoof : float
        Revised form: cost of the tandem system accepting a spoof.
    c_miss_asv, c_fa_asv, c_miss_cm, c_fa_cm : float
        Legacy (2019) form: the ASV and CM miss and false-alarm costs.

    Example
    -------
    >>> cost = CostModel()
    >>> round(cost.p_target + cost.p_nontarget + cost.p_spoof, 12)
    1.0
    """

    p_spoof: float = 0.05
    p_target: float = 0.95 * 0.99
    p_nontarget: float = 0.95 * 0.01
    c_miss: float = 1.0
    c_fa: float = 10.0
    c_fa_spoof: float = 10.0
    c_miss_asv: float = 1.0
    c_fa_asv: float = 10.0
    c_miss_cm: float = 1.0
    c_fa_cm: float = 10.0

    def __post_init__(self):
        priors = (self.p_spoof, self.p_target, self.p_nontarget)
        if min(priors) < 0 or abs(sum(priors) - 1.0) > 1e-10:
            raise ValueError(f"CostModel: priors must be >= 0 and sum to one, got {priors}.")


@dataclass(frozen=True)
class AsvOperatingPoint:
    """The error rates of the ASV system at its EER threshold (target vs nontarget).

    Arguments
    ---------
    eer : float
        ASV EER (fraction) between target and nontarget trials.
    threshold : float
        The ASV threshold at that EER.
    pfa : float
        False acceptance rate of nontarget trials.
    pmiss : float
        Miss rate of target trials.
    pmiss_spoof : float
        Rate of spoofed trials rejected by the ASV.
    pfa_spoof : float
        Rate of spoofed trials accepted by the ASV.
    """

    eer: float
    threshold: float
    pfa: float
    pmiss: float
    pmiss_spoof: float
    pfa_spoof: float


def asv_operating_point(
    target_scores: Iterable[float],
    nontarget_scores: Iterable[float],
    spoof_scores: Iterable[float],
) -> AsvOperatingPoint:
    """Fixes the ASV threshold at its EER and measures its error rates (official recipe).

    Arguments
    ---------
    target_scores, nontarget_scores, spoof_scores : array_like
        ASV scores of target, nontarget and spoofed trials.

    Returns
    -------
    AsvOperatingPoint

    Example
    -------
    >>> asv = asv_operating_point([3.0, 2.0, 0.5], [0.0, 1.0, -1.0], [2.5, -2.0])
    >>> asv.threshold, asv.pfa, asv.pmiss, asv.pfa_spoof
    (0.5, 0.3333333333333333, 0.0, 0.5)
    """
    target = _as_scores(target_scores, "ASV target scores")
    nontarget = _as_scores(nontarget_scores, "ASV nontarget scores")
    spoof = _as_scores(spoof_scores, "ASV spoof scores")
    eer, threshold = compute_eer(target, nontarget)
    pfa_spoof = float(np.mean(spoof >= threshold))
    return AsvOperatingPoint(
        eer=eer,
        threshold=threshold,
        pfa=float(np.mean(nontarget >= threshold)),
        pmiss=float(np.mean(target < threshold)),
        pmiss_spoof=1.0 - pfa_spoof,
        pfa_spoof=pfa_spoof,
    )


@dataclass(frozen=True)
class TDCFCoefficients:
    """The constants of the revised t-DCF: ``C0 + C1 * Pmiss_cm + C2 * Pfa_cm``.

    Arguments
    ---------
    c0, c1, c2 : float
        The coefficients (ASVspoof 2021 evaluation plan, appendix).

    Example
    -------
    >>> TDCFCoefficients(0.1, 0.8, 0.4).default_cost
    0.5
    """

    c0: float
    c1: float
    c2: float

    def __post_init__(self):
        values = (self.c0, self.c1, self.c2)
        if not all(math.isfinite(v) and v >= 0 for v in values):
            raise ValueError(f"t-DCF coefficients must be finite and >= 0, got {values}.")

    @property
    def default_cost(self) -> float:
        """The cost of the best trivial CM (accept all or reject all): the normaliser."""
        return self.c0 + min(self.c1, self.c2)

    @classmethod
    def from_mapping(cls, values: Mapping[str, float]) -> TDCFCoefficients:
        """Builds the coefficients from a ``{"C0": .., "C1": .., "C2": ..}`` mapping."""
        try:
            return cls(float(values["C0"]), float(values["C1"]), float(values["C2"]))
        except KeyError as error:
            raise ValueError(f"t-DCF coefficients need C0, C1 and C2; missing {error}.") from None


def tdcf_coefficients(
    asv: AsvOperatingPoint, cost_model: CostModel | None = None
) -> TDCFCoefficients:
    """Computes C0, C1, C2 of the revised t-DCF from the ASV error rates.

    Arguments
    ---------
    asv : AsvOperatingPoint
        ASV error rates (see ``asv_operating_point``).
    cost_model : CostModel, optional
        Priors and costs; the ASVspoof 2019/2021 defaults when None.

    Returns
    -------
    TDCFCoefficients

    Example
    -------
    >>> asv = AsvOperatingPoint(0.0, 0.0, pfa=0.0, pmiss=0.0, pmiss_spoof=0.0, pfa_spoof=1.0)
    >>> c = tdcf_coefficients(asv)
    >>> round(c.c0, 6), round(c.c1, 6), round(c.c2, 6)
    (0.0, 0.9405, 0.5)
    """
    cost = cost_model or CostModel()
    asv_cost = cost.p_target * cost.c_miss * asv.pmiss + cost.p_nontarget * cost.c_fa * asv.pfa
    return TDCFCoefficients(
        c0=asv_cost,
        c1=cost.p_target * cost.c_miss - asv_cost,
        c2=cost.p_spoof * cost.c_fa_spoof * asv.pfa_spoof,
    )


def _check_soft_scores(bonafide: np.ndarray, spoof: np.ndarray):
    """The official code refuses hard decisions: fewer than 3 distinct scores."""
    if np.unique(np.concatenate((bonafide, spoof))).size < 3:
        raise ValueError("t-DCF needs soft CM scores, not binary decisions (< 3 distinct).")


def min_tdcf(
    bonafide_scores: Iterable[float],
    spoof_scores: Iterable[float],
    coefficients: TDCFCoefficients | Mapping[str, float],
) -> tuple[float, float]:
    """Minimum normalised revised t-DCF from given C0, C1, C2 (the ASVspoof 2021 way).

    Arguments
    ---------
    bonafide_scores, spoof_scores : array_like
        CM scores of bona fide and spoofed trials.
    coefficients : TDCFCoefficients or mapping with keys "C0", "C1", "C2"
        For example one entry of the official 2021 C012 tables.

    Returns
    -------
    min_tdcf : float
        ``min_t (C0 + C1 Pmiss_cm(t) + C2 Pfa_cm(t)) / (C0 + min(C1, C2))``.
    threshold : float
        The CM threshold where the minimum is reached (first such point).

    Example
    -------
    >>> value, _ = min_tdcf([0.9, 0.8, 0.7], [0.1, 0.2, 0.75], {"C0": 0, "C1": 1, "C2": 1})
    >>> round(value, 6)
    0.333333
    """
    if not isinstance(coefficients, TDCFCoefficients):
        coefficients = TDCFCoefficients.from_mapping(coefficients)
    bonafide = _as_scores(bonafide_scores, "bonafide_scores")
    spoof = _as_scores(spoof_scores, "spoof_scores")
    _check_soft_scores(bonafide, spoof)
    pmiss, pfa, thresholds = compute_det_curve(bonafide, spoof)
    c = coefficients
    curve = (c.c0 + c.c1 * pmiss + c.c2 * pfa) / c.default_cost
    index = int(np.argmin(curve))
    return float(curve[index]), float(thresholds[index])


def min_tdcf_revised(
    bonafide_scores: Iterable[float],
    spoof_scores: Iterable[float],
    asv: AsvOperatingPoint,
    cost_model: CostModel | None = None,
) -> float:
    """Minimum normalised t-DCF in the revised form (tDCF_python_v2, ASVspoof 2021).

    Arguments
    ---------
    bonafide_scores, spoof_scores : array_like
        CM scores of bona fide and spoofed trials.
    asv : AsvOperatingPoint
        ASV error rates (see ``asv_operating_point``).
    cost_model : CostModel, optional
        Priors and costs; ASVspoof defaults when None.

    Returns
    -------
    float

    Example
    -------
    >>> asv = AsvOperatingPoint(0.0, 0.0, pfa=0.0, pmiss=0.0, pmiss_spoof=0.0, pfa_spoof=1.0)
    >>> round(min_tdcf_revised([0.9, 0.8, 0.3], [0.1, 0.2, 0.4], asv), 6)
    0.333333
    """
    return min_tdcf(bonafide_scores, spoof_scores, tdcf_coefficients(asv, cost_model))[0]


def min_tdcf_legacy(
    bonafide_scores: Iterable[float],
    spoof_scores: Iterable[float],
    asv: AsvOperatingPoint,
    cost_model: CostModel | None = None,
) -> float:
    """Minimum normalised t-DCF in the legacy form of ASVspoof 2019 (Kinnunen et al. 2018).

    ``t-DCF(t) = C1 Pmiss_cm(t) + C2 Pfa_cm(t)`` normalised by ``min(C1, C2)``, with
    ``C1 = Ptar (Cmiss_cm - Cmiss_asv Pmiss_asv) - Pnon Cfa_asv Pfa_asv`` and
    ``C2 = Cfa_cm Pspoof (1 - Pmiss_spoof_asv)``. This is the number ASVspoof 2019 papers
    (and the paper reproduced here) report as "min t-DCF".

    Arguments
    ---------
    bonafide_scores, spoof_scores : array_like
        CM scores of bona fide and spoofed trials.
    asv : AsvOperatingPoint
        ASV error rates (see ``asv_operating_point``).
    cost_model : CostModel, optional
        Priors and costs; ASVspoof defaults when None.

    Returns
    -------
    float

    Example
    -------
    >>> asv = AsvOperatingPoint(0.0, 0.0, pfa=0.0, pmiss=0.0, pmiss_spoof=0.0, pfa_spoof=1.0)
    >>> round(min_tdcf_legacy([0.9, 0.8, 0.3], [0.1, 0.2, 0.4], asv), 6)
    0.333333
    """
    cost = cost_model or CostModel()
    c1 = (
        cost.p_target * (cost.c_miss_cm - cost.c_miss_asv * asv.pmiss)
        - cost.p_nontarget * cost.c_fa_asv * asv.pfa
    )
    c2 = cost.c_fa_cm * cost.p_spoof * (1.0 - asv.pmiss_spoof)
    if c1 < 0 or c2 < 0:
        raise ValueError(f"legacy t-DCF weights are negative (C1={c1}, C2={c2}): check ASV.")
    # The legacy form has no C0 term: reuse the revised computation with C0 = 0.
    return min_tdcf(bonafide_scores, spoof_scores, TDCFCoefficients(0.0, c1, c2))[0]


def eer_per_group(
    bonafide_scores: Iterable[float],
    spoof_scores: Iterable[float],
    spoof_groups: Sequence[str] | np.ndarray,
) -> dict[str, float]:
    """EER of each spoof group (e.g. attack) against all bona fide trials (official rule).

    Arguments
    ---------
    bonafide_scores : array_like
        Scores of all bona fide trials.
    spoof_scores : array_like
        Scores of the spoofed trials.
    spoof_groups : sequence of str
        The group (attack id, vocoder type) of each spoofed trial.

    Returns
    -------
    dict
        Group name (sorted) to EER (fraction).

    Example
    -------
    >>> eer_per_group([0.9, 0.8], [0.1, 0.85, 0.2], ["A01", "A02", "A02"])
    {'A01': 0.0, 'A02': 0.5}
    """
    spoof = _as_scores(spoof_scores, "spoof_scores")
    groups = np.asarray(spoof_groups)
    if groups.shape != spoof.shape:
        raise ValueError(f"{groups.size} group labels for {spoof.size} spoof scores.")
    bonafide = _as_scores(bonafide_scores, "bonafide_scores")
    return {
        str(group): compute_eer(bonafide, spoof[groups == group])[0] for group in np.unique(groups)
    }


def eer_per_condition(
    scores: Iterable[float],
    is_bonafide: Iterable[bool],
    conditions: Sequence[str] | np.ndarray,
) -> dict[str, float]:
    """EER within each condition shared by both classes (e.g. the 2021 codec).

    In the ASVspoof 2021 package a condition such as the codec applies to bona fide and
    spoofed trials alike: its EER compares the bona fide and spoofed trials of that
    condition only. Conditions with no bona fide or no spoofed trial are left out.

    Arguments
    ---------
    scores : array_like
        Scores of all trials.
    is_bonafide : array_like of bool
        True for bona fide trials.
    conditions : sequence of str
        The condition of each trial.

    Returns
    -------
    dict
        Condition (sorted) to EER (fraction).

    Example
    -------
    >>> eer_per_condition([0.9, 0.1, 0.2, 0.8], [1, 0, 1, 0], ["gsm", "gsm", "opus", "opus"])
    {'gsm': 0.0, 'opus': 1.0}
    """
    values = _as_scores(scores, "scores")
    positive = np.asarray(is_bonafide, dtype=bool).reshape(-1)
    conditions = np.asarray(conditions)
    if not values.shape == positive.shape == conditions.shape:
        raise ValueError("scores, is_bonafide and conditions must have the same length.")
    results = {}
    for condition in np.unique(conditions):
        mask = conditions == condition
        bonafide, spoof = values[mask & positive], values[mask & ~positive]
        if bonafide.size and spoof.size:
            results[str(condition)] = compute_eer(bonafide, spoof)[0]
    return results


def evaluate_trials(
    scores: Iterable[float],
    is_bonafide: Iterable[bool],
    asv: AsvOperatingPoint | None = None,
    coefficients: TDCFCoefficients | Mapping[str, float] | None = None,
    spoof_groups: Mapping[str, Sequence[str]] | None = None,
    conditions: Mapping[str, Sequence[str]] | None = None,
    cost_model: CostModel | None = None,
) -> dict:
    """All the metrics a set of scored trials supports, as a JSON-ready dict.

    EER always; with ``asv``, the ASV operating point and min t-DCF in the legacy (2019)
    and revised forms; with ``coefficients`` (C0, C1, C2), the revised min t-DCF from
    them (the 2021 way); EER per spoof group (all bona fide trials against each group's
    spoofs: attack, vocoder type) and per condition (bona fide and spoofed trials of one
    codec or compression).

    Arguments
    ---------
    scores : array_like
        CM score of every trial.
    is_bonafide : array_like of bool
        True for bona fide trials.
    asv : AsvOperatingPoint, optional
        ASV error rates for t-DCF.
    coefficients : TDCFCoefficients or mapping, optional
        Given C0, C1, C2 (used instead of ``asv`` for the revised min t-DCF).
    spoof_groups : mapping, optional
        Name (e.g. ``"attack"``) to one value per trial (ignored for bona fide trials).
    conditions : mapping, optional
        Name (e.g. ``"codec"``) to one value per trial.
    cost_model : CostModel, optional
        Priors and costs (ASVspoof defaults).

    Returns
    -------
    dict
        ``trials``, ``bonafide``, ``spoof``, ``eer_percent``, ``eer_threshold`` and, when
        computable, ``min_tdcf_legacy``, ``min_tdcf_revised``, ``asv_eer_percent``,
        ``asv_threshold``, ``per_<name>_eer_percent`` for each group and condition.

    Example
    -------
    >>> report = evaluate_trials([0.9, 0.8, 0.1, 0.85], [1, 1, 0, 0],
    ...     spoof_groups={"attack": ["-", "-", "A01", "A02"]})
    >>> report["eer_percent"], report["per_attack_eer_percent"]
    (50.0, {'A01': 0.0, 'A02': 75.0})
    """
    values = _as_scores(scores, "scores")
    positive = np.asarray(is_bonafide, dtype=bool).reshape(-1)
    if positive.shape != values.shape:
        raise ValueError(f"{positive.size} labels for {values.size} scores.")
    bonafide, spoof = values[positive], values[~positive]
    eer, threshold = compute_eer(bonafide, spoof)
    report = {
        "trials": int(values.size),
        "bonafide": int(bonafide.size),
        "spoof": int(spoof.size),
        "eer_percent": 100 * eer,
        "eer_threshold": threshold,
    }
    if asv is not None:
        report["min_tdcf_legacy"] = min_tdcf_legacy(bonafide, spoof, asv, cost_model)
        report["min_tdcf_revised"] = min_tdcf_revised(bonafide, spoof, asv, cost_model)
        report["asv_eer_percent"] = 100 * asv.eer
        report["asv_threshold"] = asv.threshold
    if coefficients is not None:
        report["min_tdcf_revised"] = min_tdcf(bonafide, spoof, coefficients)[0]
    for name, groups in (spoof_groups or {}).items():
        groups = np.asarray(groups)[~positive]
        per_group = eer_per_group(bonafide, spoof, groups)
        report[f"per_{name}_eer_percent"] = {k: 100 * v for k, v in per_group.items()}
    for name, values_of in (conditions or {}).items():
        per_condition = eer_per_condition(values, positive, values_of)
        report[f"per_{name}_eer_percent"] = {k: 100 * v for k, v in per_condition.items()}
    return report


def align_scores(
    scores: Mapping[str, float],
    utt_ids: Sequence[str],
    known_ids: Iterable[str] | None = None,
    score_name: str = "score file",
    key_name: str = "key",
) -> np.ndarray:
    """Returns the scores of ``utt_ids`` in that order; missing ids are a clear error.

    Arguments
    ---------
    scores : mapping
        Utterance id to score (e.g. from ``read_score_file``).
    utt_ids : sequence of str
        The trials to evaluate (e.g. the ``eval`` subset of a key).
    known_ids : iterable of str, optional
        All ids of the key (default ``utt_ids``): scored ids outside it are an error.
    score_name, key_name : str
        How to name both sides in error messages (e.g. their paths).

    Returns
    -------
    np.ndarray

    Example
    -------
    >>> align_scores({"b": 2.0, "a": 1.0}, ["a", "b"]).tolist()
    [1.0, 2.0]
    """
    missing = [utt for utt in utt_ids if utt not in scores]
    known = set(utt_ids if known_ids is None else known_ids)
    unknown = [utt for utt in scores if utt not in known]
    problems = []
    if missing:
        problems.append(
            f"{len(missing)} of {len(utt_ids)} trials of {key_name} have no score in "
            f"{score_name} (e.g. {', '.join(missing[:3])})"
        )
    if unknown:
        problems.append(
            f"{len(unknown)} of {len(scores)} ids of {score_name} are not in {key_name} "
            f"(e.g. {', '.join(unknown[:3])})"
        )
    if problems:
        raise ValueError("; ".join(problems) + ".")
    return np.fromiter((scores[utt] for utt in utt_ids), dtype=np.float64, count=len(utt_ids))


def read_score_file(path: str | os.PathLike) -> dict[str, float]:
    """Reads a score file with one ``utt_id score`` pair per line.

    Empty lines are ignored. Any other line that does not hold exactly an id and a
    finite number, and any repeated id, is an error naming the file and the line number
    (a half-written file usually ends with such a line).

    Arguments
    ---------
    path : str or path-like
        The score file.

    Returns
    -------
    dict
        Utterance id to score, in file order.

    Example
    -------
    >>> import tempfile, pathlib
    >>> tmp = pathlib.Path(tempfile.mkdtemp()) / "scores.txt"
    >>> _ = tmp.write_text("LA_E_1 0.5\\nLA_E_2 -1.25\\n")
    >>> read_score_file(tmp)
    {'LA_E_1': 0.5, 'LA_E_2': -1.25}
    """
    path = Path(path)
    scores: dict[str, float] = {}
    line_of: dict[str, int] = {}
    with open(path, encoding="utf-8") as stream:
        for number, line in enumerate(stream, start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 2:
                raise ScoreFileError(
                    f"{path}, line {number}: expected 'utt_id score', got {line.strip()!r}."
                )
            utt_id, text = fields
            try:
                value = float(text)
            except ValueError:
                raise ScoreFileError(
                    f"{path}, line {number}: score {text!r} of {utt_id} is not a number."
                ) from None
            if not math.isfinite(value):
                raise ScoreFileError(f"{path}, line {number}: score of {utt_id} is {text}.")
            if utt_id in scores:
                raise ScoreFileError(
                    f"{path}, line {number}: {utt_id} already scored on line {line_of[utt_id]}."
                )
            scores[utt_id] = value
            line_of[utt_id] = number
    if not scores:
        raise ScoreFileError(f"{path}: the score file holds no scores.")
    return scores


def write_score_file(
    path: str | os.PathLike, utt_ids: Sequence[str], scores: Iterable[float]
) -> Path:
    """Writes ``utt_id score`` lines atomically (a temporary file, then a rename).

    A crash while writing never leaves a half-written file under ``path``. Scores are
    written with ``repr`` precision, so reading them back gives the same floats.

    Arguments
    ---------
    path : str or path-like
        Destination file (its folder is created if needed).
    utt_ids : sequence of str
        Utterance ids (no whitespace).
    scores : array_like
        One finite score per id.

    Returns
    -------
    Path
        The written file.

    Example
    -------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "scores.txt"
    >>> _ = write_score_file(out, ["a", "b"], [0.25, -3.0])
    >>> out.read_text()
    'a 0.25\\nb -3.0\\n'
    """
    path = Path(path)
    values = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(utt_ids) != values.size:
        raise ValueError(f"{path}: {len(utt_ids)} ids for {values.size} scores.")
    if not np.isfinite(values).all():
        raise ValueError(f"{path}: refusing to write NaN or inf scores.")
    bad = [utt for utt in utt_ids if not utt or len(str(utt).split()) != 1]
    if bad:
        raise ValueError(f"{path}: utterance ids must be non-empty, no spaces: {bad[:3]}.")
    text = "".join(
        f"{utt} {value!r}\n" for utt, value in zip(utt_ids, values.tolist(), strict=True)
    )
    with atomic_open(path) as stream:
        stream.write(text)
    return path
