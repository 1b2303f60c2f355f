"""ASVspoof evaluation metrics, as the official evaluation code computes them.

A vectorised port of the definitions in the official ASVspoof evaluation code: the
ASVspoof 2019 ``tDCF_python_v2/eval_metrics.py``, the 2021 ``eval-package`` and the
ASVspoof 5 ``evaluation-package``. Every function sorts the scores once
(``O(N log N)``): 611,829 trials take well under a second, whereas
``speechbrain.utils.metric_stats.EER`` is ``O(N^2)`` and resolves ties differently.

- Countermeasure (CM) metrics: the detection error trade-off (DET) curve, the EER and its
  threshold (ties included), min t-DCF in the legacy (2019) and revised (2021, ASVspoof 5)
  forms, and the ASVspoof 5 Track 1 metrics: minDCF, actDCF (the cost at the Bayes
  threshold of calibrated log-likelihood ratios), Cllr and Cllr-min (after PAV).
- Spoofing-aware speaker verification (ASVspoof 5 Track 2): a-DCF and the concurrent
  t-EER.
- ``evaluate_trials`` and ``evaluate_sasv`` gather all of them into one JSON-ready dict.

Conventions: higher scores mean "more bona fide"; functions return error rates and EERs
as fractions, as the official code does; the report dicts give EERs in percent (key
``eer``). actDCF and Cllr read scores as natural-log likelihood ratios: on uncalibrated
scores they measure calibration loss as well (see ``speechbrain_ssdctx.evaluation.calibration``).

Authors
 * speechbrain-ssdctx contributors 2025
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import isotonic_regression

__all__ = [
    "ASVSPOOF5_ASV",
    "AsvOperatingPoint",
    "CostModel",
    "DetectionCosts",
    "TDCFCoefficients",
    "a_dcf",
    "act_dcf",
    "asv_operating_point",
    "cllr",
    "cm_metrics",
    "compute_a_det_curve",
    "compute_asv_curves",
    "compute_det_curve",
    "compute_eer",
    "evaluate_sasv",
    "evaluate_trials",
    "legacy_tdcf_coefficients",
    "metrics_per_attack",
    "metrics_per_condition",
    "min_cllr",
    "min_dcf",
    "min_tdcf",
    "min_tdcf_legacy",
    "min_tdcf_revised",
    "pav_llrs",
    "t_eer",
    "tdcf_coefficients",
]


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
    coefficients = legacy_tdcf_coefficients(asv, cost_model)
    return min_tdcf(bonafide_scores, spoof_scores, coefficients)[0]


def legacy_tdcf_coefficients(
    asv: AsvOperatingPoint, cost_model: CostModel | None = None
) -> TDCFCoefficients:
    """The legacy (2019) t-DCF weights as coefficients with ``C0 = 0``.

    ``C1 = Ptar (Cmiss_cm - Cmiss_asv Pmiss_asv) - Pnon Cfa_asv Pfa_asv`` and
    ``C2 = Cfa_cm Pspoof (1 - Pmiss_spoof_asv)``; the normaliser ``min(C1, C2)`` is then
    the coefficients' ``default_cost``.

    Example
    -------
    >>> asv = AsvOperatingPoint(0.0, 0.0, pfa=0.0, pmiss=0.0, pmiss_spoof=0.0, pfa_spoof=1.0)
    >>> c = legacy_tdcf_coefficients(asv)
    >>> c.c0, round(c.c1, 6), round(c.c2, 6)
    (0.0, 0.9405, 0.5)
    """
    cost = cost_model or CostModel()
    c1 = (
        cost.p_target * (cost.c_miss_cm - cost.c_miss_asv * asv.pmiss)
        - cost.p_nontarget * cost.c_fa_asv * asv.pfa
    )
    c2 = cost.c_fa_cm * cost.p_spoof * (1.0 - asv.pmiss_spoof)
    if c1 < 0 or c2 < 0:
        raise ValueError(f"legacy t-DCF weights are negative (C1={c1}, C2={c2}): check ASV.")
    # The legacy form has no C0 term: the revised computation with C0 = 0.
    return TDCFCoefficients(0.0, c1, c2)




@dataclass(frozen=True)
class DetectionCosts:
    """Prior and costs of a stand-alone CM decision (defaults: ASVspoof 5 Track 1).

    Arguments
    ---------
    p_spoof : float
        Prior probability of a spoofed trial (``Pspoof``).
    c_miss : float
        Cost of rejecting a bona fide trial.
    c_fa : float
        Cost of accepting a spoofed trial.

    Example
    -------
    >>> costs = DetectionCosts()
    >>> round(costs.beta, 6), round(costs.bayes_threshold, 6), costs.normaliser
    (1.9, -0.641854, 0.5)
    >>> round(costs.effective_prior, 6)
    0.655172
    """

    p_spoof: float = 0.05
    c_miss: float = 1.0
    c_fa: float = 10.0

    def __post_init__(self):
        if not 0 < self.p_spoof < 1 or self.c_miss <= 0 or self.c_fa <= 0:
            raise ValueError(
                f"DetectionCosts: need 0 < p_spoof < 1 and positive costs, got {self}."
            )

    @property
    def beta(self) -> float:
        """``Cmiss (1 - Pspoof) / (Cfa Pspoof)`` (the ASVspoof 5 evaluation plan's beta)."""
        return self.c_miss * (1 - self.p_spoof) / (self.c_fa * self.p_spoof)

    @property
    def bayes_threshold(self) -> float:
        """``-ln(beta)``: accept as bona fide a log-likelihood ratio at or above it."""
        return -math.log(self.beta)

    @property
    def normaliser(self) -> float:
        """The cost of the best trivial system (accept all or reject all)."""
        return min(self.c_miss * (1 - self.p_spoof), self.c_fa * self.p_spoof)

    @property
    def effective_prior(self) -> float:
        """The bona fide prior that folds the costs in: ``beta / (1 + beta)``."""
        return self.beta / (1 + self.beta)


def min_dcf(
    bonafide_scores: Iterable[float],
    spoof_scores: Iterable[float],
    costs: DetectionCosts | None = None,
) -> tuple[float, float]:
    """Minimum normalised detection cost over all thresholds (ASVspoof 5 Track 1 primary).

    ``min_t [Cmiss (1 - Pspoof) Pmiss(t) + Cfa Pspoof Pfa(t)] / min(Cmiss (1 - Pspoof),
    Cfa Pspoof)`` over the points of the official DET curve.

    Arguments
    ---------
    bonafide_scores, spoof_scores : array_like
        CM scores of bona fide and spoofed trials.
    costs : DetectionCosts, optional
        Prior and costs (ASVspoof 5 Track 1 by default).

    Returns
    -------
    value : float
        minDCF (0 is perfect, 1 is no better than a trivial system).
    threshold : float
        The threshold of the first DET point that reaches it.

    Example
    -------
    >>> value, threshold = min_dcf([2.0, 1.0, 0.5], [-1.0, 0.7])
    >>> round(value, 6), threshold
    (0.5, -1.0)
    """
    costs = costs or DetectionCosts()
    pmiss, pfa, thresholds = compute_det_curve(bonafide_scores, spoof_scores)
    p_bonafide = 1 - costs.p_spoof
    curve = costs.c_miss * pmiss * p_bonafide + costs.c_fa * pfa * (1 - p_bonafide)
    index = int(np.argmin(curve))
    return float(curve[index] / costs.normaliser), float(thresholds[index])


def act_dcf(
    bonafide_scores: Iterable[float],
    spoof_scores: Iterable[float],
    costs: DetectionCosts | None = None,
) -> tuple[float, float]:
    """Actual normalised detection cost at the Bayes threshold ``-ln(beta)``.

    Meaningful for calibrated natural-log likelihood ratios: the decision a calibrated
    system makes without seeing the labels. Bona fide trials below the threshold are
    misses, spoofed trials at or above it false alarms (as the official code).

    Arguments
    ---------
    bonafide_scores, spoof_scores : array_like
        Scores (log-likelihood ratios) of bona fide and spoofed trials.
    costs : DetectionCosts, optional
        Prior and costs (ASVspoof 5 Track 1 by default).

    Returns
    -------
    value : float
        actDCF (>= minDCF; above 1 is worse than a trivial system).
    threshold : float
        The Bayes threshold used.

    Example
    -------
    >>> value, threshold = act_dcf([2.0, 1.0, -0.7], [-1.0, 0.0])
    >>> round(value, 6), round(threshold, 6)
    (1.133333, -0.641854)
    """
    costs = costs or DetectionCosts()
    bonafide = _as_scores(bonafide_scores, "bonafide_scores")
    spoof = _as_scores(spoof_scores, "spoof_scores")
    threshold = costs.bayes_threshold
    pmiss = np.count_nonzero(bonafide < threshold) / bonafide.size
    pfa = np.count_nonzero(spoof >= threshold) / spoof.size
    cost = costs.c_miss * (1 - costs.p_spoof) * pmiss + costs.c_fa * costs.p_spoof * pfa
    return float(cost / costs.normaliser), threshold


def cllr(bonafide_llrs: Iterable[float], spoof_llrs: Iterable[float]) -> float:
    """Log-likelihood-ratio cost in bits (Brümmer and du Preez, 2006).

    ``Cllr = (mean_bona log2(1 + e^-l) + mean_spoof log2(1 + e^l)) / 2`` for natural-log
    LLRs ``l``: 0 for perfect, confident scores; 1 for a system that always says
    ``l = 0``; above 1 for miscalibrated scores. Computed with ``logaddexp`` (no
    overflow for large scores; the official code overflows to inf beyond about 709).

    Arguments
    ---------
    bonafide_llrs, spoof_llrs : array_like
        Natural-log likelihood ratios of bona fide and spoofed trials.

    Returns
    -------
    float

    Example
    -------
    >>> cllr([0.0], [0.0])
    1.0
    >>> round(cllr([5.0, 3.0], [-4.0]), 4)
    0.033
    """
    bonafide = _as_scores(bonafide_llrs, "bonafide_llrs")
    return _cllr_bits(bonafide, _as_scores(spoof_llrs, "spoof_llrs"))


def _cllr_bits(bonafide: np.ndarray, spoof: np.ndarray) -> float:
    """Cllr of LLR arrays (infinite LLRs on the right side cost nothing)."""
    nats = np.mean(np.logaddexp(0.0, -bonafide)) + np.mean(np.logaddexp(0.0, spoof))
    return float(nats / (2 * math.log(2)))


def pav_llrs(
    bonafide_scores: Iterable[float], spoof_scores: Iterable[float]
) -> tuple[np.ndarray, np.ndarray]:
    """The optimal monotonic LLRs of the trials (pool-adjacent-violators, as BOSARIS).

    Tied scores are pooled first (they must get the same LLR), then an isotonic
    regression of the bona fide indicator on the score order gives the posterior of
    every score, weighted by its number of trials; subtracting the log prior odds of
    the set turns it into an LLR. The results can be infinite (a score range holding
    only one class).

    Arguments
    ---------
    bonafide_scores, spoof_scores : array_like
        Scores of bona fide and spoofed trials.

    Returns
    -------
    bonafide_llrs, spoof_llrs : np.ndarray
        The optimal LLR of each trial.

    Example
    -------
    >>> bona, spoof = pav_llrs([3.0, 1.0], [0.0, 2.0])
    >>> bona.tolist(), spoof.tolist()
    ([inf, 0.0], [-inf, 0.0])
    """
    bonafide = _as_scores(bonafide_scores, "bonafide_scores")
    spoof = _as_scores(spoof_scores, "spoof_scores")
    unique, inverse = np.unique(np.concatenate((bonafide, spoof)), return_inverse=True)
    counts = np.bincount(inverse, minlength=unique.size)
    bonafide_counts = np.bincount(inverse[: bonafide.size], minlength=unique.size)
    posterior = isotonic_regression(bonafide_counts / counts, weights=counts).x
    with np.errstate(divide="ignore"):
        llr = np.log(posterior) - np.log1p(-posterior) - math.log(bonafide.size / spoof.size)
    return llr[inverse[: bonafide.size]], llr[inverse[bonafide.size :]]


def min_cllr(bonafide_scores: Iterable[float], spoof_scores: Iterable[float]) -> float:
    """Cllr after the optimal monotonic calibration (PAV): the discrimination loss alone.

    ``Cllr - Cllr-min`` is the calibration loss: what an (oracle) monotonic recalibration
    would remove. Cllr-min depends only on the order of the scores.

    Arguments
    ---------
    bonafide_scores, spoof_scores : array_like
        Scores of bona fide and spoofed trials.

    Returns
    -------
    float
        Cllr-min in bits (0 for separable classes, at most 1).

    Example
    -------
    >>> min_cllr([3.0, 2.0], [0.0, 1.0]), min_cllr([1.0], [1.0])
    (0.0, 1.0)
    """
    return _cllr_bits(*pav_llrs(bonafide_scores, spoof_scores))


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
    bonafide = _as_scores(bonafide_scores, "bonafide_scores")
    spoof = _as_scores(spoof_scores, "spoof_scores")
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
    spoof = _as_scores(spoof_scores, "spoof_scores")
    groups = np.asarray(spoof_groups)
    if groups.shape != spoof.shape:
        raise ValueError(f"{groups.size} group labels for {spoof.size} spoof scores.")
    bonafide = _as_scores(bonafide_scores, "bonafide_scores")
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
    values = _as_scores(scores, "scores")
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
        report["min_tdcf_legacy"] = min_tdcf_legacy(bonafide, spoof, asv, cost_model)
        report["min_tdcf_revised"] = min_tdcf_revised(bonafide, spoof, asv, cost_model)
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


# ---------------------------------------------------------------------------------------
# Spoofing-aware speaker verification (ASVspoof 5 Track 2)

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
        _as_scores(target_scores, "target scores"),
        _as_scores(nontarget_scores, "nontarget scores"),
        _as_scores(spoof_scores, "spoof scores"),
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
    sasv = _as_scores(sasv_scores, "SASV scores")
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
        cm = _as_scores(cm_scores, "CM scores")
        asv_values = _as_scores(asv_scores, "ASV scores")
        bonafide = ~masks["spoof"]
        coefficients = tdcf_coefficients(asv, cost_model)
        report["min_tdcf"] = min_tdcf(cm[bonafide], cm[masks["spoof"]], coefficients)[0]
        report["t_eer"] = 100 * t_eer(
            cm[bonafide], cm[masks["spoof"]],
            *(asv_values[m] for m in masks.values()),
        )
    return report
