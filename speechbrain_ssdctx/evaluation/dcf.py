"""Detection costs of a stand-alone countermeasure: minDCF, actDCF, Cllr and Cllr-min.

The ASVspoof 5 Track 1 metrics, as the official evaluation package computes them: the
minimum normalised detection cost over the DET curve (minDCF, the primary metric), the
actual cost at the Bayes threshold of calibrated log-likelihood ratios (actDCF), the
log-likelihood-ratio cost (Cllr) and its floor after the optimal monotonic calibration
(Cllr-min, pool-adjacent-violators). actDCF and Cllr read scores as natural-log
likelihood ratios: on uncalibrated scores they measure calibration loss as well (see
``speechbrain_ssdctx.evaluation.calibration``).

Authors
 * speechbrain-ssdctx contributors 2025
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import isotonic_regression

from speechbrain_ssdctx.evaluation.eer import as_scores, compute_det_curve

__all__ = ["DetectionCosts", "act_dcf", "cllr", "min_cllr", "min_dcf", "pav_llrs"]


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
    bonafide = as_scores(bonafide_scores, "bonafide_scores")
    spoof = as_scores(spoof_scores, "spoof_scores")
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
    bonafide = as_scores(bonafide_llrs, "bonafide_llrs")
    return _cllr_bits(bonafide, as_scores(spoof_llrs, "spoof_llrs"))


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
    bonafide = as_scores(bonafide_scores, "bonafide_scores")
    spoof = as_scores(spoof_scores, "spoof_scores")
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
