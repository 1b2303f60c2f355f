"""The metrics of a set of scored countermeasure trials, whole and broken down.

``cm_metrics`` gives the EER (%) and the ASVspoof 5 Track 1 metrics of one set of bona
fide and spoofed scores; ``metrics_per_attack`` and ``metrics_per_condition`` break them
down the official way (each attack against all bona fide trials; each condition, such as
the codec, with the bona fide and spoofed trials of that condition); ``evaluate_trials``
gathers everything a set of trials supports (with the min t-DCF in both forms when the
ASV error rates are given) into one JSON-ready dict. Report dicts give EERs in percent
(key ``eer``).

Authors
 * speechbrain-ssdctx contributors 2025
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from speechbrain_ssdctx.evaluation.dcf import DetectionCosts, act_dcf, cllr, min_cllr, min_dcf
from speechbrain_ssdctx.evaluation.eer import as_scores, compute_eer
from speechbrain_ssdctx.evaluation.tdcf import (
    TDCF_FORMS,
    AsvOperatingPoint,
    CostModel,
    TDCFCoefficients,
    min_tdcf,
)

__all__ = ["cm_metrics", "evaluate_trials", "metrics_per_attack", "metrics_per_condition"]


def cm_metrics(
    bonafide_scores: Iterable[float],
    spoof_scores: Iterable[float],
    costs: DetectionCosts | None = None,
) -> dict[str, float]:
    """EER (%), minDCF, actDCF and Cllr of one set of CM scores (ASVspoof 5 Track 1).

    Example
    -------
    >>> {name: round(value, 4) for name, value in cm_metrics([2.0, 1.0], [-1.0, 1.5]).items()}
    {'eer': 50.0, 'min_dcf': 0.5, 'act_dcf': 0.5, 'cllr': 0.8854}
    """
    bonafide = as_scores(bonafide_scores, "bonafide_scores")
    spoof = as_scores(spoof_scores, "spoof_scores")
    return {
        "eer": 100 * compute_eer(bonafide, spoof)[0],
        "min_dcf": min_dcf(bonafide, spoof, costs)[0],
        "act_dcf": act_dcf(bonafide, spoof, costs)[0],
        "cllr": cllr(bonafide, spoof),
    }


def metrics_per_attack(
    bonafide_scores: Iterable[float],
    spoof_scores: Iterable[float],
    spoof_groups: Sequence[str] | np.ndarray,
    costs: DetectionCosts | None = None,
) -> dict[str, dict[str, float]]:
    """``cm_metrics`` of each spoof group (attack) against all bona fide trials.

    The official rule for per-attack results (ASVspoof 2019, 2021 and 5).

    Arguments
    ---------
    bonafide_scores : array_like
        Scores of all bona fide trials.
    spoof_scores : array_like
        Scores of the spoofed trials.
    spoof_groups : sequence of str
        The group (attack id, vocoder type) of each spoofed trial.
    costs : DetectionCosts, optional
        Prior and costs of minDCF and actDCF.

    Returns
    -------
    dict
        Group name (sorted) to its metrics.

    Example
    -------
    >>> table = metrics_per_attack([0.9, 0.8], [0.1, 0.85, 0.2], ["A01", "A02", "A02"])
    >>> {attack: row["eer"] for attack, row in table.items()}
    {'A01': 0.0, 'A02': 50.0}
    """
    spoof = as_scores(spoof_scores, "spoof_scores")
    groups = np.asarray(spoof_groups)
    if groups.shape != spoof.shape:
        raise ValueError(f"{groups.size} group labels for {spoof.size} spoof scores.")
    bonafide = as_scores(bonafide_scores, "bonafide_scores")
    return {
        str(group): cm_metrics(bonafide, spoof[groups == group], costs)
        for group in np.unique(groups)
    }


def metrics_per_condition(
    scores: Iterable[float],
    is_bonafide: Iterable[bool],
    conditions: Sequence[str] | np.ndarray,
    costs: DetectionCosts | None = None,
) -> dict[str, dict[str, float]]:
    """``cm_metrics`` within each condition shared by both classes (e.g. the codec).

    A condition such as the codec applies to bona fide and spoofed trials alike: its
    metrics compare the bona fide and spoofed trials of that condition only (ASVspoof
    2021 and 5). Conditions with no bona fide or no spoofed trial are left out.

    Arguments
    ---------
    scores : array_like
        Scores of all trials.
    is_bonafide : array_like of bool
        True for bona fide trials.
    conditions : sequence of str
        The condition of each trial.
    costs : DetectionCosts, optional
        Prior and costs of minDCF and actDCF.

    Returns
    -------
    dict
        Condition (sorted) to its metrics.

    Example
    -------
    >>> table = metrics_per_condition([0.9, 0.1, 0.2, 0.8], [1, 0, 1, 0],
    ...                               ["gsm", "gsm", "opus", "opus"])
    >>> {codec: row["eer"] for codec, row in table.items()}
    {'gsm': 0.0, 'opus': 100.0}
    """
    values = as_scores(scores, "scores")
    positive = np.asarray(is_bonafide, dtype=bool).reshape(-1)
    conditions = np.asarray(conditions)
    if not values.shape == positive.shape == conditions.shape:
        raise ValueError("scores, is_bonafide and conditions must have the same length.")
    results = {}
    for condition in np.unique(conditions):
        mask = conditions == condition
        bonafide, spoof = values[mask & positive], values[mask & ~positive]
        if bonafide.size and spoof.size:
            results[str(condition)] = cm_metrics(bonafide, spoof, costs)
    return results


def evaluate_trials(
    scores: Iterable[float],
    is_bonafide: Iterable[bool],
    asv: AsvOperatingPoint | None = None,
    coefficients: TDCFCoefficients | Mapping[str, float] | None = None,
    spoof_groups: Mapping[str, Sequence[str]] | None = None,
    conditions: Mapping[str, Sequence[str]] | None = None,
    cost_model: CostModel | None = None,
    costs: DetectionCosts | None = None,
) -> dict:
    """All the metrics a set of scored CM trials supports, as a JSON-ready dict.

    Always: EER and its threshold, and the ASVspoof 5 Track 1 metrics (minDCF, actDCF,
    Cllr, Cllr-min). With ``asv``: the ASV operating point and min t-DCF in the legacy
    (2019) and revised forms; with ``coefficients`` (C0, C1, C2): the revised min t-DCF
    from them (the 2021 way). Breakdowns per spoof group (all bona fide trials against
    each group's spoofs: attack, vocoder type) and per condition (bona fide and spoofed
    trials of one codec or compression), each with ``cm_metrics``.

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
        Priors and costs of the t-DCF (ASVspoof defaults).
    costs : DetectionCosts, optional
        Prior and costs of minDCF and actDCF (ASVspoof 5 Track 1 defaults).

    Returns
    -------
    dict
        ``trials``, ``bonafide``, ``spoof``, ``eer`` (%), ``eer_threshold``, ``min_dcf``,
        ``act_dcf``, ``cllr``, ``min_cllr`` and, when computable, ``min_tdcf_legacy``,
        ``min_tdcf_revised``, ``asv_eer`` (%), ``asv_threshold``, and ``per_<name>``
        tables (group to metrics) for each group and condition.

    Example
    -------
    >>> report = evaluate_trials([0.9, 0.8, 0.1, 0.85], [1, 1, 0, 0],
    ...     spoof_groups={"attack": ["-", "-", "A01", "A02"]})
    >>> report["eer"], {k: v["eer"] for k, v in report["per_attack"].items()}
    (50.0, {'A01': 0.0, 'A02': 75.0})
    """
    values = as_scores(scores, "scores")
    positive = np.asarray(is_bonafide, dtype=bool).reshape(-1)
    if positive.shape != values.shape:
        raise ValueError(f"{positive.size} labels for {values.size} scores.")
    bonafide, spoof = values[positive], values[~positive]
    if not bonafide.size or not spoof.size:
        raise ValueError(
            f"metrics need bona fide and spoofed trials; got {bonafide.size} bona fide "
            f"and {spoof.size} spoofed."
        )
    report = {
        "trials": int(values.size),
        "bonafide": int(bonafide.size),
        "spoof": int(spoof.size),
        **cm_metrics(bonafide, spoof, costs),
        "eer_threshold": compute_eer(bonafide, spoof)[1],
        "min_cllr": min_cllr(bonafide, spoof),
    }
    if asv is not None:
        for form in TDCF_FORMS:
            report[f"min_tdcf_{form}"] = min_tdcf(
                bonafide, spoof, asv=asv, cost_model=cost_model, form=form
            )[0]
        report["asv_eer"] = 100 * asv.eer
        report["asv_threshold"] = asv.threshold
    if coefficients is not None:
        report["min_tdcf_revised"] = min_tdcf(bonafide, spoof, coefficients)[0]
    for name, groups in (spoof_groups or {}).items():
        groups = np.asarray(groups)[~positive]
        report[f"per_{name}"] = metrics_per_attack(bonafide, spoof, groups, costs)
    for name, values_of in (conditions or {}).items():
        report[f"per_{name}"] = metrics_per_condition(values, positive, values_of, costs)
    return report
