"""Spoofing-aware speaker verification (SASV) metrics: ASVspoof 5 Track 2.

The architecture-agnostic DCF (a-DCF, the primary metric) of SASV scores over their
three-class DET surface, the concurrent tandem EER (t-EER) of a CM and an ASV, and
``evaluate_sasv``, which gathers them with the ASVspoof 5 min t-DCF (revised form, the
organisers' ASV operating point ``ASVSPOOF5_ASV``) into one JSON-ready dict, as the
official ASVspoof 5 evaluation package computes them.

Authors
 * speechbrain-ssdctx contributors 2025
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from speechbrain_ssdctx.evaluation.eer import as_scores, compute_det_curve
from speechbrain_ssdctx.evaluation.tdcf import AsvOperatingPoint, CostModel, min_tdcf

__all__ = [
    "ASVSPOOF5_ASV",
    "a_dcf",
    "compute_a_det_curve",
    "compute_asv_curves",
    "evaluate_sasv",
    "t_eer",
]

#: The organisers' ASV error rates at its EER threshold, pooled over the ASVspoof 5
#: evaluation conditions: the ASV of the ASVspoof 5 min t-DCF (its EER and threshold are
#: not published: NaN).
ASVSPOOF5_ASV = AsvOperatingPoint(
    eer=math.nan,
    threshold=math.nan,
    pfa=0.01881016557566423,
    pmiss=0.01880141010575793,
    pmiss_spoof=1 - 0.4607082907604729,
    pfa_spoof=0.4607082907604729,
)


def _sort_three_ways(target_scores, nontarget_scores, spoof_scores):
    """Target, nontarget and spoof scores, their labels (0, 1, 2) in stable sorted order
    (target first among ties, as the official code concatenates them) and the sorted
    scores."""
    groups = [
        as_scores(target_scores, "target scores"),
        as_scores(nontarget_scores, "nontarget scores"),
        as_scores(spoof_scores, "spoof scores"),
    ]
    all_scores = np.concatenate(groups)
    order = np.argsort(all_scores, kind="stable")
    labels = np.repeat(np.arange(3), [g.size for g in groups])[order]
    return groups, labels, all_scores[order]


def compute_a_det_curve(
    target_scores: Iterable[float],
    nontarget_scores: Iterable[float],
    spoof_scores: Iterable[float],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The architecture-agnostic DET surface of SASV scores (Shim et al., 2024).

    All scores sorted once (stable: target, then nontarget, then spoof among ties); point
    ``i`` rejects the ``i`` lowest trials, point 0 rejects none.

    Arguments
    ---------
    target_scores, nontarget_scores, spoof_scores : array_like
        SASV scores of target bona fide, nontarget bona fide and spoofed trials.

    Returns
    -------
    pmiss : np.ndarray
        Rate of rejected target trials, ``N + 1`` values.
    pfa_nontarget : np.ndarray
        Rate of accepted nontarget trials.
    pfa_spoof : np.ndarray
        Rate of accepted spoofed trials.
    thresholds : np.ndarray
        The sorted scores, preceded by the lowest minus 1e-8 (as the official code).

    Example
    -------
    >>> pmiss, pfa_non, pfa_spoof, _ = compute_a_det_curve([2.0], [0.0], [1.0])
    >>> pmiss.tolist(), pfa_non.tolist(), pfa_spoof.tolist()
    ([0.0, 0.0, 0.0, 1.0], [1.0, 0.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0])
    """
    groups, labels, sorted_scores = _sort_three_ways(target_scores, nontarget_scores, spoof_scores)
    target, nontarget, spoof = (np.cumsum(labels == k) for k in range(3))
    pmiss = np.concatenate(([0.0], target / groups[0].size))
    pfa_nontarget = np.concatenate(([1.0], (groups[1].size - nontarget) / groups[1].size))
    pfa_spoof = np.concatenate(([1.0], (groups[2].size - spoof) / groups[2].size))
    thresholds = np.concatenate(([sorted_scores[0] - 1e-8], sorted_scores))
    return pmiss, pfa_nontarget, pfa_spoof, thresholds


def a_dcf(
    target_scores: Iterable[float],
    nontarget_scores: Iterable[float],
    spoof_scores: Iterable[float],
    cost_model: CostModel | None = None,
) -> tuple[float, float]:
    """Minimum normalised architecture-agnostic DCF (a-DCF, ASVspoof 5 Track 2 primary).

    ``min_t [Cmiss Ptar Pmiss(t) + Cfa Pnon Pfa_non(t) + Cfa_spoof Pspoof Pfa_spoof(t)]``
    normalised by the best of accepting all (``Cfa Pnon + Cfa_spoof Pspoof``) and
    rejecting all (``Cmiss Ptar``). The costs and priors are those the official ASVspoof
    5 package uses (``CostModel()``: Ptar 0.9405, Pnon 0.0095, Pspoof 0.05, Cmiss 1,
    Cfa 10, Cfa_spoof 10).

    Arguments
    ---------
    target_scores, nontarget_scores, spoof_scores : array_like
        SASV scores of target, nontarget and spoofed trials.
    cost_model : CostModel, optional
        Priors and costs (``p_target``, ``p_nontarget``, ``p_spoof``, ``c_miss``,
        ``c_fa``, ``c_fa_spoof``).

    Returns
    -------
    value : float
        a-DCF.
    threshold : float
        The SASV threshold of the first point that reaches it.

    Example
    -------
    >>> value, threshold = a_dcf([3.0, 2.0], [-1.0, 2.5], [0.0, 1.0])
    >>> round(value, 6), threshold
    (0.079832, 1.0)
    """
    cost = cost_model or CostModel()
    pmiss, pfa_non, pfa_spoof, thresholds = compute_a_det_curve(
        target_scores, nontarget_scores, spoof_scores
    )
    curve = (
        cost.c_miss * cost.p_target * pmiss
        + cost.c_fa * cost.p_nontarget * pfa_non
        + cost.c_fa_spoof * cost.p_spoof * pfa_spoof
    )
    normaliser = min(
        cost.c_fa * cost.p_nontarget + cost.c_fa_spoof * cost.p_spoof, cost.c_miss * cost.p_target
    )
    index = int(np.argmin(curve))
    return float(curve[index] / normaliser), float(thresholds[index])


def compute_asv_curves(
    target_scores: Iterable[float],
    nontarget_scores: Iterable[float],
    spoof_scores: Iterable[float],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """ASV miss and false-acceptance rates (nontarget and spoof) at every threshold.

    The curves of the official t-EER code: a stable sort of target, nontarget and spoof
    scores; point 0 rejects none.

    Returns
    -------
    pmiss, pfa_nontarget, pfa_spoof, thresholds : np.ndarray
        ``N + 1`` values each (thresholds: the sorted scores after the lowest - 0.001).

    Example
    -------
    >>> pmiss, pfa_non, pfa_spoof, _ = compute_asv_curves([2.0], [0.0], [1.0])
    >>> pmiss.tolist(), pfa_non.tolist(), pfa_spoof.tolist()
    ([0.0, 0.0, 0.0, 1.0], [1.0, 0.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0])
    """
    groups, labels, sorted_scores = _sort_three_ways(target_scores, nontarget_scores, spoof_scores)
    pmiss = np.concatenate(([0.0], np.cumsum(labels == 0) / groups[0].size))
    # The official code writes these two as 1 - accepted / N (not (N - accepted) / N).
    pfa_non = np.concatenate(([1.0], 1 - np.cumsum(labels == 1) / groups[1].size))
    pfa_spoof = np.concatenate(([1.0], 1 - np.cumsum(labels == 2) / groups[2].size))
    thresholds = np.concatenate(([sorted_scores[0] - 0.001], sorted_scores))
    return pmiss, pfa_non, pfa_spoof, thresholds


def t_eer(
    cm_bonafide: Iterable[float],
    cm_spoof: Iterable[float],
    asv_target: Iterable[float],
    asv_nontarget: Iterable[float],
    asv_spoof: Iterable[float],
) -> float:
    """The concurrent tandem equal error rate of a CM and an ASV (Kinnunen et al., 2023).

    For every ASV threshold in the allowed region (``Pmiss_asv < (Pfa_non_asv +
    Pfa_spoof_asv) / 2``), the CM threshold that equalises the tandem miss and false
    alarm rates (spoof prevalence 1/2) is found; the t-EER is ``Pfa_spoof_asv *
    Pfa_cm`` at the ASV threshold where the nontarget/spoof ratio of the ASV is closest
    to that of the CM (``|Pfa_non_asv / Pfa_spoof_asv - Pfa_cm / (1 - Pmiss_cm)|``), as
    the ASVspoof 5 package computes it. The CM threshold is found by bisection (the
    tandem difference is monotonic in the CM threshold), so every ASV threshold is
    searched exactly in ``O(M log N)``; the official code searches a coarse grid first
    on large sets, which can only differ when the two searches disagree.

    Arguments
    ---------
    cm_bonafide : array_like
        CM scores of the bona fide trials (target and nontarget).
    cm_spoof : array_like
        CM scores of the spoofed trials.
    asv_target, asv_nontarget, asv_spoof : array_like
        ASV scores of target, nontarget and spoofed trials.

    Returns
    -------
    float
        t-EER as a fraction.

    Example
    -------
    >>> round(t_eer([2.0, 1.0, 0.5], [-1.0, 0.8], [3.0, 1.0], [-2.0], [0.5, 2.0]), 6)
    0.25
    """
    pmiss_cm, pfa_cm, _ = compute_det_curve(cm_bonafide, cm_spoof)
    pmiss_asv, pfa_non, pfa_spoof, _ = compute_asv_curves(asv_target, asv_nontarget, asv_spoof)
    rho = 0.5

    def difference(i: np.ndarray) -> np.ndarray:
        """Tandem miss minus false alarm rate at CM point ``i[j]`` and ASV point ``j``,
        written as the official code writes it, so that ties resolve the same way."""
        miss = pmiss_cm[i]
        tandem_miss = miss + (1 - miss) * pmiss_asv
        tandem_fa = (1 - rho) * (1 - miss) * pfa_non + rho * pfa_cm[i] * pfa_spoof
        return tandem_miss - tandem_fa

    rows = pmiss_asv.size
    last = pmiss_cm.size - 1
    # First CM point with h >= 0 (h is non-decreasing in i): bisection on every row.
    low, high = np.zeros(rows, dtype=np.int64), np.full(rows, last + 1, dtype=np.int64)
    while np.any(low < high):
        middle = (low + high) // 2
        below = difference(np.minimum(middle, last)) < 0
        active = low < high
        low = np.where(active & below, middle + 1, low)
        high = np.where(active & ~below, middle, high)
    positive = np.minimum(low, last)
    # The last point with h < 0, moved to the first point of its run of equal values.
    negative = np.maximum(low - 1, 0)
    value = difference(negative)
    start, stop = np.zeros(rows, dtype=np.int64), negative.copy()
    while np.any(start < stop):
        middle = (start + stop) // 2
        smaller = difference(middle) < value
        active = start < stop
        start = np.where(active & smaller, middle + 1, start)
        stop = np.where(active & ~smaller, middle, stop)
    negative = np.where(low > 0, start, positive)
    use_negative = np.abs(difference(negative)) <= np.abs(difference(positive))
    best = np.where(use_negative, negative, positive)
    allowed = pmiss_asv < (1 - rho) * pfa_non + rho * pfa_spoof
    with np.errstate(divide="ignore", invalid="ignore"):
        crit = np.abs(pfa_non / pfa_spoof - pfa_cm[best] / (1 - pmiss_cm[best]))
    crit = np.where(allowed & ~np.isnan(crit), crit, np.inf)
    row = int(np.argmin(crit))
    if not np.isfinite(crit[row]):
        raise ValueError("t-EER: no ASV threshold in the allowed region (check the ASV scores).")
    return float(pfa_spoof[row] * pfa_cm[best[row]])


def evaluate_sasv(
    sasv_scores: Iterable[float],
    asv_labels: Sequence[str] | np.ndarray,
    cm_scores: Iterable[float] | None = None,
    asv_scores: Iterable[float] | None = None,
    cost_model: CostModel | None = None,
    asv: AsvOperatingPoint = ASVSPOOF5_ASV,
) -> dict:
    """ASVspoof 5 Track 2 metrics of SASV trials, as a JSON-ready dict.

    a-DCF from the SASV scores always; with CM and ASV scores also the ASVspoof 5 min
    t-DCF (revised form, CM scores of bona fide against spoofed trials, the organisers'
    ASV operating point ``ASVSPOOF5_ASV`` by default) and the t-EER (%).

    Arguments
    ---------
    sasv_scores : array_like
        The SASV score of every trial.
    asv_labels : sequence of str
        ``"target"``, ``"nontarget"`` or ``"spoof"`` for every trial.
    cm_scores, asv_scores : array_like, optional
        The CM and ASV scores of every trial (both or neither).
    cost_model : CostModel, optional
        Priors and costs (the ASVspoof 5 ones by default).
    asv : AsvOperatingPoint
        The ASV error rates of the min t-DCF.

    Returns
    -------
    dict
        ``trials``, ``target``, ``nontarget``, ``spoof``, ``a_dcf``,
        ``a_dcf_threshold`` and, with CM and ASV scores, ``min_tdcf`` and ``t_eer`` (%).

    Example
    -------
    >>> report = evaluate_sasv([3.0, -1.0, 0.5], ["target", "nontarget", "spoof"])
    >>> report["a_dcf"]
    0.0
    """
    sasv = as_scores(sasv_scores, "SASV scores")
    labels = np.asarray(asv_labels)
    if labels.shape != sasv.shape:
        raise ValueError(f"{labels.size} labels for {sasv.size} SASV scores.")
    unknown = sorted(set(labels.tolist()) - {"target", "nontarget", "spoof"})
    if unknown:
        raise ValueError(f"ASV labels must be target, nontarget or spoof; got {unknown}.")
    masks = {name: labels == name for name in ("target", "nontarget", "spoof")}
    empty = [name for name, mask in masks.items() if not mask.any()]
    if empty:
        raise ValueError(f"Track 2 metrics need {' / '.join(empty)} trials; none given.")
    value, threshold = a_dcf(*(sasv[m] for m in masks.values()), cost_model)
    report = {
        "trials": int(sasv.size),
        **{name: int(mask.sum()) for name, mask in masks.items()},
        "a_dcf": value,
        "a_dcf_threshold": threshold,
    }
    if (cm_scores is None) != (asv_scores is None):
        raise ValueError("give both CM and ASV scores (min t-DCF, t-EER) or neither.")
    if cm_scores is not None:
        cm = as_scores(cm_scores, "CM scores")
        asv_values = as_scores(asv_scores, "ASV scores")
        bonafide = ~masks["spoof"]
        report["min_tdcf"] = min_tdcf(
            cm[bonafide], cm[masks["spoof"]], asv=asv, cost_model=cost_model
        )[0]
        report["t_eer"] = 100 * t_eer(
            cm[bonafide], cm[masks["spoof"]],
            *(asv_values[m] for m in masks.values()),
        )
    return report
