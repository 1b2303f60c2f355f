"""ASVspoof 5 metrics against the official package's values, hand computations and loops."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from sklearn.isotonic import IsotonicRegression

from speechbrain_ssdctx.data.asvspoof5 import read_cm_key, read_protocol_asvspoof5, read_sasv_key
from speechbrain_ssdctx.evaluation.calibration import Calibration
from speechbrain_ssdctx.evaluation.dcf import act_dcf, cllr, min_cllr, min_dcf
from speechbrain_ssdctx.evaluation.evaluate import evaluate_sasv_scores, evaluate_scores
from speechbrain_ssdctx.evaluation.sasv import a_dcf, t_eer
from speechbrain_ssdctx.evaluation.scores import align_scores, read_sasv_score_file, read_score_file
from speechbrain_ssdctx.evaluation.trials import cm_metrics

REFERENCE = Path(__file__).parent / "fixtures" / "asvspoof5_reference"
OFFICIAL = json.loads((REFERENCE / "official_values.json").read_text())
TOL = 1e-6
TRACK1_FILES = [name for name in OFFICIAL["track1"] if name.endswith(".tsv")]


# ---- the official ASVspoof 5 evaluation package (values recorded by make_reference.py)


@pytest.mark.parametrize("name", TRACK1_FILES)
def test_track1_pooled_matches_official(name):
    key = read_cm_key(REFERENCE / "t1_key.tsv")
    values = align_scores(read_score_file(REFERENCE / name), [row["ID"] for row in key])
    labels = np.array([row["label"] == "bonafide" for row in key])
    got = cm_metrics(values[labels], values[~labels])
    for metric, value in OFFICIAL["track1"][name].items():
        if not metric.startswith("per_"):
            assert abs(got[metric] - value) < TOL, metric


@pytest.mark.parametrize("name", TRACK1_FILES)
def test_track1_breakdowns_match_official_full_tables(name):
    rows = read_protocol_asvspoof5(REFERENCE / "t1_protocol.tsv")
    report = evaluate_scores(read_score_file(REFERENCE / name), rows)
    expected = OFFICIAL["track1"][name]
    for table in ("per_attack", "per_codec"):
        assert sorted(report[table]) == sorted(expected[table])
        for group, values in expected[table].items():
            for metric, value in values.items():
                assert abs(report[table][group][metric] - value) < TOL, (table, group, metric)


@pytest.mark.parametrize("name", ["t1_tiny", "t1_constant"])
def test_track1_small_cases_match_official(name):
    case = OFFICIAL["track1"][name]
    got = cm_metrics(case["bonafide"], case["spoof"])
    for metric in ("min_dcf", "eer", "cllr", "act_dcf"):
        assert abs(got[metric] - case[metric]) < TOL, metric


@pytest.mark.parametrize("name", ["t2_small", "t2_ties", "t2_large"])
def test_track2_matches_official(name):
    rows = read_sasv_key(REFERENCE / f"{name}_key.tsv")
    report = evaluate_sasv_scores(read_sasv_score_file(REFERENCE / f"{name}_scores.tsv"), rows)
    expected = OFFICIAL["track2"][name]
    for metric in ("a_dcf", "min_tdcf", "t_eer"):
        assert abs(report[metric] - expected[metric]) < TOL, metric
    for table in ("per_attack", "per_codec"):
        for group, values in expected.get(table, {}).items():
            for metric, value in values.items():
                assert abs(report[table][group][metric] - value) < TOL, (table, group, metric)


# ---- hand-computed values


def test_min_and_act_dcf_by_hand():
    # Costs: Cmiss (1 - Pspoof) = 0.95, Cfa Pspoof = 0.5, normaliser min(0.95, 0.5) = 0.5.
    # Sorted: -1 (s), 0.5 (b), 0.7 (s), 1 (b), 2 (b). Rejecting only -1: Pmiss 0, Pfa 1/2,
    # cost 0.25 -> 0.5; every other point costs more (e.g. rejecting up to 0.7: 0.95/3).
    assert min_dcf([2.0, 1.0, 0.5], [-1.0, 0.7]) == (pytest.approx(0.5), -1.0)
    # Bayes threshold -ln(1.9) = -0.6419: bona fide -0.7 missed (1/3), spoof 0 accepted
    # (1/2): (0.95 / 3 + 0.5 / 2) / 0.5 = 1.13333.
    value, threshold = act_dcf([2.0, 1.0, -0.7], [-1.0, 0.0])
    assert value == pytest.approx((0.95 / 3 + 0.25) / 0.5)
    assert threshold == pytest.approx(-math.log(1.9))
    # A score exactly at the threshold is accepted (>=): a false alarm for a spoof.
    assert act_dcf([5.0], [-math.log(1.9)])[0] == pytest.approx(1.0)


def test_cllr_by_hand():
    assert cllr([0.0], [0.0]) == 1.0  # no information: one bit
    # LLR ln 3 for bona fide and -ln 3 for spoof: each term log2(1 + 1/3).
    assert cllr([math.log(3)], [-math.log(3)]) == pytest.approx(math.log2(4 / 3))
    # Confidently wrong costs a lot, and large LLRs do not overflow.
    assert cllr([-1000.0], [1000.0]) == pytest.approx(1000 / math.log(2))


def test_a_dcf_by_hand():
    # Weights: Cmiss Ptar = 0.9405, Cfa Pnon = 0.095, Cfa_spoof Pspoof = 0.5; normaliser
    # min(0.095 + 0.5, 0.9405) = 0.595. Sorted: -1 (non), 0 (spf), 1 (spf), 2 (tar),
    # 2.5 (non), 3 (tar). Rejecting -1, 0 and 1: Pfa_non 1/2, no spoof, no miss:
    # 0.0475 / 0.595 = 0.079832, the minimum, at threshold 1.
    value, threshold = a_dcf([3.0, 2.0], [-1.0, 2.5], [0.0, 1.0])
    assert value == pytest.approx(0.0475 / 0.595) and threshold == 1.0


def test_t_eer_by_hand():
    # CM points (Pmiss, Pfa): (0,1) (0,.5) (1/3,.5) (1/3,0) (2/3,0) (1,0); ASV points
    # (Pmiss, Pfa_non, Pfa_spoof): (0,1,1) (0,0,1) (0,0,.5) (.5,0,.5) ...; allowed ASV
    # points: the first three. Their tandem crossings are CM points 3, 2 and 1 with
    # criteria 1, .75 and .5: the last wins, t-EER = Pfa_spoof_asv * Pfa_cm = .5 * .5.
    assert t_eer([2.0, 1.0, 0.5], [-1.0, 0.8], [3.0, 1.0], [-2.0], [0.5, 2.0]) == 0.25
    # A perfect CM and an ASV threshold that rejects the nontarget: t-EER 0.
    assert t_eer([1.0], [-1.0], [2.0], [0.0], [1.0]) == 0.0


# ---- plain-loop implementations of the official definitions


def _det(bonafide, spoof):
    """DET points (Pmiss, Pfa) with a stable sort, bona fide first among ties."""
    trials = sorted([(s, 1) for s in bonafide] + [(s, 0) for s in spoof], key=lambda t: t[0])
    points, misses, rejected_spoof = [(0.0, 1.0)], 0, 0
    for _, is_bonafide in trials:
        misses += is_bonafide
        rejected_spoof += 1 - is_bonafide
        points.append((misses / len(bonafide), (len(spoof) - rejected_spoof) / len(spoof)))
    return points


def _loop_min_dcf(bonafide, spoof):
    return min(0.95 * m + 0.5 * f for m, f in _det(bonafide, spoof)) / 0.5


def _loop_act_dcf(bonafide, spoof):
    threshold = -math.log(0.95 / 0.5)
    misses = sum(1 for s in bonafide if s < threshold) / len(bonafide)
    false_alarms = sum(1 for s in spoof if s >= threshold) / len(spoof)
    return (0.95 * misses + 0.5 * false_alarms) / 0.5


def _loop_cllr(bonafide, spoof):
    bona = sum(math.log2(1 + math.exp(-s)) for s in bonafide) / len(bonafide)
    spf = sum(math.log2(1 + math.exp(s)) for s in spoof) / len(spoof)
    return (bona + spf) / 2


def _asv_points(target, nontarget, spoof):
    trials = sorted([(s, 0) for s in target] + [(s, 1) for s in nontarget]
                    + [(s, 2) for s in spoof], key=lambda t: t[0])
    counts, points = [0, 0, 0], [(0.0, 1.0, 1.0)]
    for _, kind in trials:
        counts[kind] += 1
        points.append((counts[0] / len(target), 1 - counts[1] / len(nontarget),
                       1 - counts[2] / len(spoof)))
    return points


def _loop_a_dcf(target, nontarget, spoof):
    costs = [0.95 * 0.99, 10 * 0.95 * 0.01, 10 * 0.05]
    best = min(costs[0] * m + costs[1] * fn + costs[2] * fs
               for m, fn, fs in _asv_points(target, nontarget, spoof))
    return best / min(costs[1] + costs[2], costs[0])


def _loop_t_eer(cm_bonafide, cm_spoof, target, nontarget, spoof):
    cm = _det(cm_bonafide, cm_spoof)
    best_crit, result = math.inf, None
    for pm_asv, pfa_non, pfa_spf in _asv_points(target, nontarget, spoof):
        if not pm_asv < 0.5 * pfa_non + 0.5 * pfa_spf:
            continue
        gaps = [abs((m + (1 - m) * pm_asv) - (0.5 * (1 - m) * pfa_non + 0.5 * f * pfa_spf))
                for m, f in cm]
        m, f = cm[gaps.index(min(gaps))]
        lhs = pfa_non / pfa_spf if pfa_spf else math.inf
        rhs = f / (1 - m) if m < 1 else math.inf
        crit = abs(lhs - rhs) if not (math.isinf(lhs) and math.isinf(rhs)) else math.nan
        if crit < best_crit:
            best_crit, result = crit, pfa_spf * f
    return result


def _cases():
    rng = np.random.default_rng(11)
    for trial in range(12):
        n_bona, n_spoof = rng.integers(3, 40, size=2)
        bona, spoof = rng.normal(1.0, 1.5, n_bona), rng.normal(-1.0, 1.5, n_spoof)
        if trial % 3 == 1:  # heavy ties
            bona, spoof = bona.round(0), spoof.round(0)
        if trial % 3 == 2:  # light ties, one decimal
            bona, spoof = bona.round(1), spoof.round(1)
        yield bona.tolist(), spoof.tolist()
    yield [0.5] * 7, [0.5] * 5  # all scores equal


@pytest.mark.parametrize("bona, spoof", list(_cases()))
def test_track1_metrics_match_plain_loops(bona, spoof):
    assert min_dcf(bona, spoof)[0] == pytest.approx(_loop_min_dcf(bona, spoof), abs=1e-12)
    assert act_dcf(bona, spoof)[0] == pytest.approx(_loop_act_dcf(bona, spoof), abs=1e-12)
    assert cllr(bona, spoof) == pytest.approx(_loop_cllr(bona, spoof), abs=1e-12)
    # actDCF is one of the DET points minDCF minimises over.
    assert act_dcf(bona, spoof)[0] >= min_dcf(bona, spoof)[0] - 1e-12


@pytest.mark.parametrize("decimals", [None, 0, 1])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_track2_metrics_match_plain_loops(decimals, seed):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(3, 25, size=3)
    tar, non, spf = rng.normal(2, 1.5, sizes[0]), rng.normal(-2, 1.5, sizes[1]), rng.normal(
        0.5, 2, sizes[2])
    cm_bona, cm_spoof = rng.normal(1, 1.5, sizes[0] + sizes[1]), rng.normal(-1, 1.5, sizes[2])
    if decimals is not None:
        tar, non, spf, cm_bona, cm_spoof = (x.round(decimals) for x in (
            tar, non, spf, cm_bona, cm_spoof))
    assert a_dcf(tar, non, spf)[0] == pytest.approx(
        _loop_a_dcf(tar.tolist(), non.tolist(), spf.tolist()), abs=1e-12)
    assert t_eer(cm_bona, cm_spoof, tar, non, spf) == pytest.approx(
        _loop_t_eer(cm_bona.tolist(), cm_spoof.tolist(), tar.tolist(), non.tolist(),
                    spf.tolist()), abs=1e-12)


def test_all_equal_sasv_scores():
    same = [0.0] * 4
    assert a_dcf(same, same, same)[0] == pytest.approx(_loop_a_dcf(same, same, same))


# ---- Cllr-min (PAV)


def _sklearn_min_cllr(bona, spoof):
    scores = np.concatenate((bona, spoof))
    labels = np.concatenate((np.ones(len(bona)), np.zeros(len(spoof))))
    posterior = IsotonicRegression(y_min=0, y_max=1).fit_transform(scores, labels)
    total = 0.0
    for p, y in zip(posterior, labels, strict=True):
        if y == 1:
            total += -math.log2(p * len(spoof) / (p * len(spoof) + (1 - p) * len(bona))) / len(
                bona)
        else:
            total += -math.log2((1 - p) * len(bona) / (p * len(spoof) + (1 - p) * len(bona))) / len(
                spoof)
    return total / 2


@pytest.mark.parametrize("bona, spoof", list(_cases()))
def test_min_cllr_matches_sklearn_isotonic(bona, spoof):
    value = min_cllr(bona, spoof)
    assert value == pytest.approx(_sklearn_min_cllr(bona, spoof), abs=1e-9)
    # The floor: no affine calibration of the same scores does better.
    calibrated = Calibration.fit(bona, spoof, prior=0.5)
    llr_b, llr_s = calibrated(bona), calibrated(spoof)
    assert value <= cllr(llr_b, llr_s) + 1e-9
    assert 0.0 <= value <= 1.0 + 1e-12


def test_min_cllr_by_hand():
    assert min_cllr([3.0, 2.0], [0.0, 1.0]) == 0.0  # separable
    assert min_cllr([1.0], [1.0]) == 1.0  # one tie: nothing to learn
    # Order b s b s: PAV pools the middle pair (posterior 1/2), ends get 0 and 1.
    # Bona fide: LLRs +inf and 0; spoof: 0 and -inf -> Cllr = (0.5 + 0.5) / 2 = 0.5.
    assert min_cllr([4.0, 2.0], [3.0, 1.0]) == pytest.approx(0.5)
