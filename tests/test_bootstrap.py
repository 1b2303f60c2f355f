"""Bootstrap intervals: coverage, agreement with a naive bootstrap, groups, pairs, seeds."""

import numpy as np
import pytest
from scipy.stats import norm

from speechbrain_ssdctx.evaluation.bootstrap import (
    bootstrap_metrics,
    paired_bootstrap,
    pooled_seed_interval,
    resample_counts,
)
from speechbrain_ssdctx.evaluation.dcf import min_dcf
from speechbrain_ssdctx.evaluation.eer import compute_eer
from speechbrain_ssdctx.evaluation.tdcf import min_tdcf


def gaussian_trials(rng, n, mu=1.0):
    """Bona fide N(mu, 1) and spoof N(-mu, 1): the true EER is Phi(-mu)."""
    scores = np.concatenate((rng.normal(mu, 1, n), rng.normal(-mu, 1, n)))
    return scores, np.arange(2 * n) < n


@pytest.mark.slow
def test_eer_interval_covers_the_true_eer_about_95_percent_of_the_time():
    true_eer = 100 * norm.cdf(-1.0)
    hits = 0
    repetitions = 200
    for repetition in range(repetitions):  # fixed seeds: the same coverage on every run
        scores, labels = gaussian_trials(np.random.default_rng(1000 + repetition), 200)
        interval = bootstrap_metrics(scores, labels, 200, seed=repetition)["eer"]
        hits += interval.low <= true_eer <= interval.high
    # A 95% interval: binomial spread over 200 repetitions is about 1.5 points.
    assert 0.90 <= hits / repetitions <= 0.99


def test_intervals_agree_with_a_naive_materialised_bootstrap():
    scores, labels = gaussian_trials(np.random.default_rng(7), 300)
    scores = scores.round(2)  # ties too
    ours = bootstrap_metrics(scores, labels, 1000, seed=1)
    rng = np.random.default_rng(2)
    bona, spoof = scores[labels], scores[~labels]
    naive_eer, naive_dcf = [], []
    for _ in range(1000):
        b, s = rng.choice(bona, bona.size), rng.choice(spoof, spoof.size)
        naive_eer.append(100 * compute_eer(b, s)[0])
        naive_dcf.append(min_dcf(b, s)[0])
    for name, naive, tolerance in (("eer", naive_eer, 1.0), ("min_dcf", naive_dcf, 0.02)):
        low, high = np.percentile(naive, [2.5, 97.5])
        assert abs(ours[name].low - low) < tolerance and abs(ours[name].high - high) < tolerance
        assert ours[name].std == pytest.approx(np.std(naive), rel=0.15)
    assert ours["eer"].estimate == 100 * compute_eer(bona, spoof)[0]


def test_min_tdcf_interval_and_estimate():
    scores, labels = gaussian_trials(np.random.default_rng(3), 200)
    coefficients = {"C0": 0.05, "C1": 0.9, "C2": 0.4}
    ci = bootstrap_metrics(scores, labels, 300, coefficients=coefficients)["min_tdcf"]
    assert ci.estimate == min_tdcf(scores[labels], scores[~labels], coefficients)[0]
    assert ci.low <= ci.estimate <= ci.high


def test_stratified_counts_keep_class_sizes():
    labels = np.array([True] * 5 + [False] * 9)
    counts = resample_counts(labels, 50, np.random.default_rng(0))
    assert (counts[:, labels].sum(axis=1) == 5).all()
    assert (counts[:, ~labels].sum(axis=1) == 9).all()
    speakers = np.repeat(np.arange(7), 2)
    grouped = resample_counts(labels, 50, np.random.default_rng(0), speakers)
    assert (grouped[:, 0::2] == grouped[:, 1::2]).all()  # both trials of a speaker together
    assert (grouped.sum(axis=1) == 14).all()


def test_grouped_bootstrap_is_wider_when_speakers_cluster():
    rng = np.random.default_rng(5)
    speakers = np.repeat(np.arange(40), 20)
    labels = np.tile(np.arange(20) < 10, 40)
    offsets = rng.normal(0, 1.5, 40)[speakers]  # a strong per-speaker effect
    scores = np.where(labels, 1.0, -1.0) + offsets + rng.normal(0, 0.5, labels.size)
    trials = bootstrap_metrics(scores, labels, 400, seed=0)["eer"]
    grouped = bootstrap_metrics(scores, labels, 400, groups=speakers.astype(str), seed=0)["eer"]
    assert grouped.estimate == trials.estimate
    assert grouped.high - grouped.low > 1.5 * (trials.high - trials.low)


def test_paired_comparison():
    rng = np.random.default_rng(0)
    labels = np.arange(600) < 300
    good = np.where(labels, 2.0, 0.0) + rng.normal(0, 1, 600)
    bad = np.where(labels, 0.7, 0.0) + rng.normal(0, 1, 600)
    result = paired_bootstrap(good, bad, labels, 300)
    assert result["eer_a"] == 100 * compute_eer(good[labels], good[~labels])[0]
    assert result["a_better"] == 1.0 and result["b_better"] == 0.0
    assert result["eer_difference"].high < 0
    same = paired_bootstrap(good, good.copy(), labels, 100)
    assert same["a_better"] == same["b_better"] == 0.0
    assert same["eer_difference"].low == same["eer_difference"].high == 0.0


def test_pooled_seed_interval():
    rng = np.random.default_rng(4)
    scores, labels = gaussian_trials(rng, 200)
    runs = [scores + rng.normal(0, s, scores.size) for s in (0.3, 0.6, 0.9)]
    pooled = pooled_seed_interval(runs, labels, 400, seed=0)
    eers = [100 * compute_eer(r[labels], r[~labels])[0] for r in runs]
    assert pooled["eer"].estimate == pytest.approx(np.mean(eers))
    assert pooled["eer"].low < np.mean(eers) < pooled["eer"].high
    # Three identical runs: only the trials vary, as in the one-run bootstrap.
    identical = pooled_seed_interval([runs[0]] * 3, labels, 400, seed=0)["eer"]
    single = bootstrap_metrics(runs[0], labels, 400, seed=0)["eer"]
    assert identical.high - identical.low == pytest.approx(single.high - single.low, rel=0.3)


@pytest.mark.parametrize(
    "scores, labels, message",
    [([1.0, 2.0], [True, True], "bona fide and spoofed"), ([1.0, np.nan], [True, False], "NaN")],
)
def test_bad_input(scores, labels, message):
    with pytest.raises(ValueError, match=message):
        bootstrap_metrics(scores, labels, 10)
