"""Confidence intervals of detection metrics by bootstrap resampling of the trials.

An EER measured on a few thousand trials is an estimate: another draw of test
utterances (or speakers) would give another value. ``bootstrap_metrics`` redraws the
trials with replacement many times and reports the percentile interval of EER, minDCF
and min t-DCF; ``paired_bootstrap`` compares two systems scored on the same trials
(the interval of their EER difference, and how often one beats the other);
``pooled_seed_interval`` does the same for the mean of several training runs (seeds),
redrawing the seeds as well as the trials.

Resampling is stratified: bona fide and spoofed trials are redrawn separately, so each
replicate keeps the class sizes. With ``groups`` (e.g. speakers) whole groups are
redrawn instead (a cluster bootstrap: trials of one speaker are not independent).

The resamples are never materialised. In the official score order (stable sort, bona
fide first among ties) the trials form runs of one class; a replicate is the weight
(number of draws) of every run, and its DET curve between runs follows from the
cumulative weights. minDCF and min t-DCF (linear in the two error rates) reach their
minimum between runs; the EER point lies in the one run where the difference of the
error rates changes sign, and only that run is split into its trials. For one system
the run weights are drawn directly (multinomial over the runs of each class, the
distribution of the sums of trial counts), so a replicate costs ``O(runs)``, not
``O(trials)``: 1,000 replicates of 181,566 trials take well under a second. A trial
drawn ``k`` times counts as ``k`` tied trials with one DET point, so the EER of a
replicate can differ from the official EER of the materialised resample by up to
half of that trial's weight (minDCF and min t-DCF are exact).

Authors
 * speechbrain-ssdctx contributors 2025
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from speechbrain_ssdctx.evaluation.dcf import DetectionCosts, act_dcf, cllr, min_dcf
from speechbrain_ssdctx.evaluation.eer import compute_eer
from speechbrain_ssdctx.evaluation.tdcf import TDCFCoefficients, min_tdcf

__all__ = [
    "Interval",
    "bootstrap_llr_metrics",
    "bootstrap_metrics",
    "paired_bootstrap",
    "pooled_seed_interval",
    "resample_counts",
]

#: Elements per block of replicates (counts and curves of ``block x trials``).
_BLOCK_ELEMENTS = 4_000_000


@dataclass(frozen=True)
class Interval:
    """A point estimate with its bootstrap percentile interval.

    Arguments
    ---------
    estimate : float
        The metric on all trials.
    low, high : float
        The percentile interval of the replicates.
    std : float
        Standard deviation of the replicates (the bootstrap standard error).
    confidence : float
        The interval's nominal coverage (e.g. 0.95).

    Example
    -------
    >>> str(Interval(2.0, 1.5, 2.6, 0.3, 0.95))
    '2.000 [1.500, 2.600]'
    """

    estimate: float
    low: float
    high: float
    std: float
    confidence: float

    def __str__(self) -> str:
        return f"{self.estimate:.3f} [{self.low:.3f}, {self.high:.3f}]"

    def to_dict(self) -> dict[str, float]:
        """JSON-ready: ``estimate``, ``low``, ``high``, ``std``, ``confidence``."""
        return {
            "estimate": self.estimate,
            "low": self.low,
            "high": self.high,
            "std": self.std,
            "confidence": self.confidence,
        }


def _interval(estimate: float, replicates: np.ndarray, confidence: float) -> Interval:
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(replicates, [tail, 100 - tail])
    return Interval(float(estimate), float(low), float(high), float(replicates.std()), confidence)


def resample_counts(
    is_bonafide: np.ndarray,
    num_resamples: int,
    rng: np.random.Generator,
    groups: np.ndarray | None = None,
) -> np.ndarray:
    """How often each trial is drawn in each replicate: ``[num_resamples, trials]`` int32.

    Without ``groups``, bona fide and spoofed trials are each drawn with replacement as
    many times as there are of them (the class sizes stay fixed). With ``groups`` (an
    integer group index per trial), groups are drawn with replacement and every trial
    counts as often as its group.

    Example
    -------
    >>> counts = resample_counts(np.array([True, True, False]), 4, np.random.default_rng(0))
    >>> counts.shape, counts[:, :2].sum(axis=1).tolist(), counts[:, 2].tolist()
    ((4, 3), [2, 2, 2, 2], [1, 1, 1, 1])
    """
    if groups is not None:
        num_groups = int(groups.max()) + 1
        draws = rng.integers(0, num_groups, (num_resamples, num_groups))
        return _row_bincount(draws, num_groups)[:, groups]
    counts = np.zeros((num_resamples, is_bonafide.size), dtype=np.int32)
    for mask in (is_bonafide, ~is_bonafide):
        members = np.flatnonzero(mask)
        draws = rng.integers(0, members.size, (num_resamples, members.size))
        counts[:, members] = _row_bincount(draws, members.size)
    return counts


def _row_bincount(draws: np.ndarray, size: int) -> np.ndarray:
    """``np.bincount`` of every row of ``draws`` at once."""
    rows = draws.shape[0]
    offsets = (np.arange(rows, dtype=np.int64) * size)[:, None]
    flat = np.bincount((draws + offsets).ravel(), minlength=rows * size)
    return flat.reshape(rows, size).astype(np.int32)


class _Runs:
    """One system's trials in the official score order, cut into runs of one class."""

    def __init__(self, scores: np.ndarray, is_bonafide: np.ndarray):
        trials = np.concatenate((np.flatnonzero(is_bonafide), np.flatnonzero(~is_bonafide)))
        self.order = trials[np.argsort(scores[trials], kind="stable")]
        sorted_bonafide = is_bonafide[self.order]
        self.starts = np.flatnonzero(np.diff(sorted_bonafide.astype(np.int8), prepend=2))
        self.lengths = np.diff(np.append(self.starts, self.order.size))
        self.bonafide = sorted_bonafide[self.starts]

    def weights_from_counts(self, counts: np.ndarray) -> np.ndarray:
        """Run weights ``[replicates, runs]`` from trial counts ``[replicates, trials]``."""
        return np.add.reduceat(counts[:, self.order], self.starts, axis=1)

    def draw_weights(self, num_resamples: int, rng: np.random.Generator) -> np.ndarray:
        """Run weights of stratified replicates, drawn directly (multinomial per class)."""
        weights = np.zeros((num_resamples, self.starts.size), dtype=np.int64)
        for cls in (True, False):
            runs = self.bonafide == cls
            sizes = self.lengths[runs]
            total = int(sizes.sum())
            weights[:, runs] = rng.multinomial(total, sizes / total, size=num_resamples)
        return weights

    def metrics(self, weights, split_run, costs, coefficients) -> dict[str, np.ndarray]:
        """EER (%), minDCF and (with coefficients) min t-DCF of every replicate.

        ``split_run(replicate, run)`` gives the weights of the trials of one run.
        """
        bona = np.where(self.bonafide, weights, 0)
        spoof = weights - bona
        zeros = np.zeros((weights.shape[0], 1), dtype=np.int64)
        bona_cum = np.concatenate((zeros, bona.cumsum(axis=1)), axis=1)
        spoof_cum = np.concatenate((zeros, spoof.cumsum(axis=1)), axis=1)
        bona_total, spoof_total = bona_cum[:, -1:], spoof_cum[:, -1:]
        pmiss = bona_cum / bona_total  # between runs: [replicates, runs + 1]
        pfa = (spoof_total - spoof_cum) / spoof_total
        p_bonafide = 1 - costs.p_spoof
        dcf = costs.c_miss * pmiss * p_bonafide + costs.c_fa * pfa * (1 - p_bonafide)
        values = {"min_dcf": dcf.min(axis=1) / costs.normaliser}
        if coefficients is not None:
            c = coefficients
            values["min_tdcf"] = ((c.c0 + c.c1 * pmiss + c.c2 * pfa) / c.default_cost).min(axis=1)
        # The EER run: the first boundary where Pmiss - Pfa >= 0 ends it.
        crossing = np.argmax(pmiss - pfa >= 0, axis=1)
        eer = np.empty(weights.shape[0])
        for row, boundary in enumerate(crossing.tolist()):
            run = boundary - 1  # boundary >= 1: Pmiss - Pfa = -1 before the first run
            inside = np.concatenate(([0], np.cumsum(split_run(row, run))))
            if self.bonafide[run]:
                miss = (bona_cum[row, run] + inside) / bona_total[row, 0]
                fa = np.full(inside.size, pfa[row, run])
            else:
                miss = np.full(inside.size, pmiss[row, run])
                fa = (spoof_total[row, 0] - spoof_cum[row, run] - inside) / spoof_total[row, 0]
            gap = np.abs(miss - fa)
            point = int(np.argmin(gap))
            eer[row] = (miss[point] + fa[point]) / 2
        values["eer"] = 100 * eer
        return values

    def metrics_of_counts(self, counts, costs, coefficients=None) -> dict[str, np.ndarray]:
        """``metrics`` of replicates given as trial counts ``[replicates, trials]``."""
        return self.metrics(
            self.weights_from_counts(counts), self.split_counts(counts), costs, coefficients
        )

    def split_counts(self, counts: np.ndarray):
        """``split_run`` for replicates given as trial counts."""
        def split(row: int, run: int) -> np.ndarray:
            start = self.starts[run]
            return counts[row, self.order[start : start + self.lengths[run]]]
        return split

    def split_draws(self, weights: np.ndarray, rng: np.random.Generator):
        """``split_run`` for drawn run weights: the run's weight spread uniformly."""
        def split(row: int, run: int) -> np.ndarray:
            length = int(self.lengths[run])
            return rng.multinomial(int(weights[row, run]), np.full(length, 1 / length))
        return split


def _blocks(num_resamples: int, trials: int) -> Iterable[int]:
    size = max(1, _BLOCK_ELEMENTS // max(trials, 1))
    for start in range(0, num_resamples, size):
        yield min(size, num_resamples - start)


def _group_index(groups: Sequence[str] | None, trials: int) -> np.ndarray | None:
    if groups is None:
        return None
    groups = np.asarray(groups)
    if groups.shape != (trials,):
        raise ValueError(f"{groups.size} groups for {trials} trials.")
    return np.unique(groups, return_inverse=True)[1].reshape(-1)


def _check(scores, is_bonafide) -> tuple[np.ndarray, np.ndarray]:
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    labels = np.asarray(is_bonafide, dtype=bool).reshape(-1)
    if scores.shape != labels.shape:
        raise ValueError(f"{labels.size} labels for {scores.size} scores.")
    if not np.isfinite(scores).all():
        raise ValueError("bootstrap: scores contain NaN or inf.")
    if labels.all() or not labels.any():
        raise ValueError("bootstrap: needs bona fide and spoofed trials.")
    return scores, labels


def bootstrap_metrics(
    scores: Iterable[float],
    is_bonafide: Iterable[bool],
    num_resamples: int = 1000,
    confidence: float = 0.95,
    groups: Sequence[str] | None = None,
    costs: DetectionCosts | None = None,
    coefficients: TDCFCoefficients | Mapping[str, float] | None = None,
    seed: int = 0,
) -> dict[str, Interval]:
    """Percentile bootstrap intervals of EER (%), minDCF and min t-DCF.

    Arguments
    ---------
    scores : array_like
        CM score of every trial.
    is_bonafide : array_like of bool
        True for bona fide trials.
    num_resamples : int
        Number of bootstrap replicates.
    confidence : float
        Nominal coverage of the intervals.
    groups : sequence of str, optional
        A group per trial (e.g. the speaker): whole groups are resampled.
    costs : DetectionCosts, optional
        Prior and costs of minDCF (ASVspoof 5 Track 1 by default).
    coefficients : TDCFCoefficients or mapping, optional
        C0, C1, C2 of a min t-DCF (e.g. ``tdcf_coefficients(asv, form="legacy")``): adds
        ``min_tdcf``.
    seed : int
        Seed of the resampling (the same seed gives the same intervals).

    Returns
    -------
    dict
        ``"eer"``, ``"min_dcf"`` (and ``"min_tdcf"``) to their ``Interval``.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> scores = np.concatenate((rng.normal(2, 1, 300), rng.normal(0, 1, 300)))
    >>> labels = np.arange(600) < 300
    >>> ci = bootstrap_metrics(scores, labels, num_resamples=200)
    >>> ci["eer"].low < ci["eer"].estimate < ci["eer"].high
    True
    """
    scores, labels = _check(scores, is_bonafide)
    if not 0 < confidence < 1 or num_resamples < 1:
        raise ValueError("bootstrap: need num_resamples >= 1 and 0 < confidence < 1.")
    costs = costs or DetectionCosts()
    if coefficients is not None and not isinstance(coefficients, TDCFCoefficients):
        coefficients = TDCFCoefficients.from_mapping(coefficients)
    group_index = _group_index(groups, scores.size)
    rng = np.random.default_rng(seed)
    runs = _Runs(scores, labels)
    replicates: dict[str, list[np.ndarray]] = {}
    for block in _blocks(num_resamples, runs.starts.size if group_index is None else labels.size):
        if group_index is None:
            weights = runs.draw_weights(block, rng)
            split = runs.split_draws(weights, rng)
        else:
            counts = _with_both_classes(resample_counts(labels, block, rng, group_index), labels)
            weights, split = runs.weights_from_counts(counts), runs.split_counts(counts)
        for name, values in runs.metrics(weights, split, costs, coefficients).items():
            replicates.setdefault(name, []).append(values)
    bonafide, spoof = scores[labels], scores[~labels]
    estimates = {"eer": 100 * compute_eer(bonafide, spoof)[0], "min_dcf": min_dcf(
        bonafide, spoof, costs)[0]}
    if coefficients is not None:
        estimates["min_tdcf"] = min_tdcf(bonafide, spoof, coefficients)[0]
    return {
        name: _interval(estimates[name], np.concatenate(replicates[name]), confidence)
        for name in estimates
    }


def bootstrap_llr_metrics(
    scores: Iterable[float],
    is_bonafide: Iterable[bool],
    num_resamples: int = 1000,
    confidence: float = 0.95,
    costs: DetectionCosts | None = None,
    seed: int = 0,
) -> dict[str, Interval]:
    """Percentile bootstrap intervals of actDCF and Cllr (scores read as LLRs).

    Stratified like :func:`bootstrap_metrics`: each replicate redraws the bona fide and
    the spoofed trials with replacement, keeping the class sizes. Both metrics are means
    over each class, so a replicate is a weighted mean with the trials' draw counts.

    Arguments
    ---------
    scores : array_like
        Natural-log LLR of every trial.
    is_bonafide : array_like of bool
        True for bona fide trials.
    num_resamples : int
        Number of bootstrap replicates.
    confidence : float
        Nominal coverage of the intervals.
    costs : DetectionCosts, optional
        Prior and costs of actDCF (ASVspoof 5 Track 1 by default).
    seed : int
        Seed of the resampling.

    Returns
    -------
    dict
        ``"act_dcf"`` and ``"cllr"`` (bits) to their ``Interval``.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> labels = np.arange(600) < 300
    >>> llrs = np.where(labels, 2.0, -2.0) + rng.normal(0, 2, 600)
    >>> ci = bootstrap_llr_metrics(llrs, labels, num_resamples=200)
    >>> ci["cllr"].low < ci["cllr"].estimate < ci["cllr"].high
    True
    """
    scores, labels = _check(scores, is_bonafide)
    if not 0 < confidence < 1 or num_resamples < 1:
        raise ValueError("bootstrap: need num_resamples >= 1 and 0 < confidence < 1.")
    costs = costs or DetectionCosts()
    bonafide, spoof = scores[labels], scores[~labels]
    threshold = costs.bayes_threshold
    losses = {  # per trial: [bona fide terms, spoof terms]
        "act_dcf": (costs.c_miss * (1 - costs.p_spoof) * (bonafide < threshold) / bonafide.size,
                    costs.c_fa * costs.p_spoof * (spoof >= threshold) / spoof.size),
        "cllr": (np.logaddexp(0.0, -bonafide) / (2 * np.log(2) * bonafide.size),
                 np.logaddexp(0.0, spoof) / (2 * np.log(2) * spoof.size)),
    }
    scale = {"act_dcf": costs.normaliser, "cllr": 1.0}
    rng = np.random.default_rng(seed)
    replicates: dict[str, list[np.ndarray]] = {name: [] for name in losses}
    for block in _blocks(num_resamples, labels.size):
        counts = resample_counts(labels, block, rng).astype(np.float64)
        for name, (bona_terms, spoof_terms) in losses.items():
            total = counts[:, labels] @ bona_terms + counts[:, ~labels] @ spoof_terms
            replicates[name].append(total / scale[name])
    estimates = {"act_dcf": act_dcf(bonafide, spoof, costs)[0], "cllr": cllr(bonafide, spoof)}
    return {
        name: _interval(estimates[name], np.concatenate(replicates[name]), confidence)
        for name in estimates
    }


def _with_both_classes(counts: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Group resampling can draw replicates without one class: they are left out."""
    keep = (counts[:, labels].sum(axis=1) > 0) & (counts[:, ~labels].sum(axis=1) > 0)
    return counts[keep]


def paired_bootstrap(
    scores_a: Iterable[float],
    scores_b: Iterable[float],
    is_bonafide: Iterable[bool],
    num_resamples: int = 1000,
    confidence: float = 0.95,
    groups: Sequence[str] | None = None,
    seed: int = 0,
) -> dict:
    """Compares two systems scored on the same trials by resampling the trials jointly.

    Arguments
    ---------
    scores_a, scores_b : array_like
        The two systems' scores of the same trials (same order).
    is_bonafide : array_like of bool
        True for bona fide trials.
    num_resamples : int
        Number of bootstrap replicates.
    confidence : float
        Nominal coverage of the interval.
    groups : sequence of str, optional
        A group per trial (e.g. the speaker): whole groups are resampled.
    seed : int
        Seed of the resampling.

    Returns
    -------
    dict
        ``eer_a``, ``eer_b`` (%), ``eer_difference`` (``Interval`` of EER(a) - EER(b)
        in percentage points), ``a_better`` (fraction of replicates where a has the lower
        EER), ``b_better`` and ``resamples``.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> labels = np.arange(400) < 200
    >>> good = np.where(labels, 2.0, 0.0) + rng.normal(0, 1, 400)
    >>> bad = np.where(labels, 0.5, 0.0) + rng.normal(0, 1, 400)
    >>> result = paired_bootstrap(good, bad, labels, num_resamples=200)
    >>> result["a_better"], result["eer_difference"].high < 0
    (1.0, True)
    """
    scores_a, labels = _check(scores_a, is_bonafide)
    scores_b, _ = _check(scores_b, labels)
    group_index = _group_index(groups, labels.size)
    rng = np.random.default_rng(seed)
    runs_a, runs_b = _Runs(scores_a, labels), _Runs(scores_b, labels)
    costs = DetectionCosts()
    differences, wins_a, wins_b = [], 0, 0
    for block in _blocks(num_resamples, labels.size):
        counts = _with_both_classes(resample_counts(labels, block, rng, group_index), labels)
        eer_a = runs_a.metrics_of_counts(counts, costs)["eer"]
        eer_b = runs_b.metrics_of_counts(counts, costs)["eer"]
        differences.append(eer_a - eer_b)
        wins_a += int(np.count_nonzero(eer_a < eer_b))
        wins_b += int(np.count_nonzero(eer_b < eer_a))
    differences = np.concatenate(differences)
    eer_a = 100 * compute_eer(scores_a[labels], scores_a[~labels])[0]
    eer_b = 100 * compute_eer(scores_b[labels], scores_b[~labels])[0]
    return {
        "eer_a": eer_a,
        "eer_b": eer_b,
        "eer_difference": _interval(eer_a - eer_b, differences, confidence),
        "a_better": wins_a / differences.size,
        "b_better": wins_b / differences.size,
        "resamples": int(differences.size),
    }


def pooled_seed_interval(
    scores_per_seed: Sequence[Iterable[float]],
    is_bonafide: Iterable[bool],
    num_resamples: int = 1000,
    confidence: float = 0.95,
    costs: DetectionCosts | None = None,
    seed: int = 0,
) -> dict[str, Interval]:
    """Interval of the seed-averaged EER and minDCF, from both sources of variation.

    Each replicate draws the training runs (seeds) with replacement and the test trials
    with replacement (the same trials for every run), and averages the runs' metrics:
    the interval covers the mean a new set of runs would give on a new draw of test
    trials.

    Arguments
    ---------
    scores_per_seed : sequence of array_like
        One score array per run, all over the same trials in the same order.
    is_bonafide : array_like of bool
        True for bona fide trials.
    num_resamples : int
        Number of bootstrap replicates.
    confidence : float
        Nominal coverage.
    costs : DetectionCosts, optional
        Prior and costs of minDCF.
    seed : int
        Seed of the resampling.

    Returns
    -------
    dict
        ``"eer"`` (%) and ``"min_dcf"``: the ``Interval`` around the mean over runs.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> labels = np.arange(400) < 200
    >>> runs = [np.where(labels, 2.0, 0.0) + rng.normal(0, s, 400) for s in (1.0, 1.2, 0.9)]
    >>> ci = pooled_seed_interval(runs, labels, num_resamples=200)
    >>> ci["eer"].low < ci["eer"].estimate < ci["eer"].high
    True
    """
    if len(scores_per_seed) < 1:
        raise ValueError("pooled_seed_interval: no runs given.")
    checked = [_check(scores, is_bonafide) for scores in scores_per_seed]
    labels = checked[0][1]
    costs = costs or DetectionCosts()
    rng = np.random.default_rng(seed)
    systems = [_Runs(scores, labels) for scores, _ in checked]
    replicates: dict[str, list[np.ndarray]] = {"eer": [], "min_dcf": []}
    for block in _blocks(num_resamples, labels.size * len(systems)):
        counts = resample_counts(labels, block, rng)
        per_run = [runs.metrics_of_counts(counts, costs) for runs in systems]
        picked = rng.integers(0, len(systems), (block, len(systems)))  # seeds drawn
        for name in replicates:
            table = np.stack([values[name] for values in per_run])  # [seeds, block]
            replicates[name].append(table[picked, np.arange(block)[:, None]].mean(axis=1))
    estimates = {
        "eer": np.mean([100 * compute_eer(s[labels], s[~labels])[0] for s, _ in checked]),
        "min_dcf": np.mean([min_dcf(s[labels], s[~labels], costs)[0] for s, _ in checked]),
    }
    return {
        name: _interval(estimates[name], np.concatenate(values), confidence)
        for name, values in replicates.items()
    }
