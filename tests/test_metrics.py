"""Metrics against the official ASVspoof values and naive reference computations."""

import json
from pathlib import Path

import numpy as np
import pytest

from speechbrain_ssdctx.data.asvspoof import read_asv_scores, read_protocol_2019
from speechbrain_ssdctx.evaluation import metrics
from speechbrain_ssdctx.evaluation.scores import align_scores, read_score_file

FIXTURES = Path(__file__).parent / "fixtures"
REFERENCE = FIXTURES / "metrics_reference"
LA2019 = FIXTURES / "asvspoof2019_la" / "LA"
OFFICIAL = json.loads((REFERENCE / "official_values.json").read_text())
SCORE_FILES = [name for name in OFFICIAL if name.endswith(".txt")]
TOL = 1e-6


def _split_of(name):
    return "dev" if "_dev_" in name else "eval"


@pytest.fixture(scope="module", params=SCORE_FILES)
def case(request):
    name = request.param
    split = _split_of(name)
    suffix = "dev.trl" if split == "dev" else "eval.trl"
    rows = read_protocol_2019(
        LA2019 / "ASVspoof2019_LA_cm_protocols" / f"ASVspoof2019.LA.cm.{suffix}.txt"
    )
    scores = read_score_file(REFERENCE / name)
    values = align_scores(scores, [r["ID"] for r in rows])
    bonafide = np.array([r["label"] == "bonafide" for r in rows])
    attacks = np.array([r["attack"] for r in rows])
    asv_scores = read_asv_scores(
        LA2019 / "ASVspoof2019_LA_asv_scores" / f"ASVspoof2019.LA.asv.{split}.gi.trl.scores.txt"
    )
    asv = metrics.asv_operating_point(asv_scores.target, asv_scores.nontarget, asv_scores.spoof)
    return OFFICIAL[name], values, bonafide, attacks, asv


@pytest.mark.slow
def test_official_eer_and_threshold(case):
    expected, values, bonafide, _, _ = case
    assert bonafide.sum() == expected["bonafide"] and (~bonafide).sum() == expected["spoof"]
    eer, threshold = metrics.compute_eer(values[bonafide], values[~bonafide])
    assert abs(100 * eer - expected["eer_percent"]) < TOL
    assert abs(threshold - expected["eer_threshold"]) < TOL


@pytest.mark.slow
def test_official_min_tdcf_and_asv(case):
    expected, values, bonafide, _, asv = case
    assert abs(100 * asv.eer - expected["asv_eer_percent"]) < TOL
    assert abs(asv.threshold - expected["asv_threshold"]) < TOL
    legacy = metrics.min_tdcf_legacy(values[bonafide], values[~bonafide], asv)
    revised = metrics.min_tdcf_revised(values[bonafide], values[~bonafide], asv)
    assert abs(legacy - expected["min_tdcf_legacy"]) < TOL
    assert abs(revised - expected["min_tdcf_revised"]) < TOL


@pytest.mark.slow
def test_official_per_attack_eer(case):
    expected, values, bonafide, attacks, _ = case
    per_attack = metrics.metrics_per_attack(
        values[bonafide], values[~bonafide], attacks[~bonafide]
    )
    assert sorted(per_attack) == sorted(expected["per_attack_eer_percent"])
    for attack, value in expected["per_attack_eer_percent"].items():
        assert abs(per_attack[attack]["eer"] - value) < TOL, attack


def test_official_tiny_case():
    tiny = OFFICIAL["tiny_case"]
    eer, _ = metrics.compute_eer(tiny["bonafide"], tiny["spoof"])
    assert abs(100 * eer - tiny["eer_percent"]) < TOL


def test_official_2021_c012_case():
    expected = OFFICIAL["synthetic_2021LA_pooled_C012_eval"]
    bonafide = np.loadtxt(REFERENCE / "synthetic_2021LA_bonafide_scores.txt")
    spoof = np.loadtxt(REFERENCE / "synthetic_2021LA_spoof_scores.txt")
    assert abs(100 * metrics.compute_eer(bonafide, spoof)[0] - expected["eer_percent"]) < TOL
    value, _ = metrics.min_tdcf(bonafide, spoof, expected["C012"])
    assert abs(value - expected["min_tdcf_revised"]) < TOL


def _naive_det(bonafide, spoof):
    """The official DET definition written as a plain loop over the sorted trials."""
    trials = [(s, 1) for s in bonafide] + [(s, 0) for s in spoof]
    trials = sorted(trials, key=lambda t: t[0])  # Python's sort is stable
    frr, far, rejected_b, rejected_s = [0.0], [1.0], 0, 0
    for _, is_bonafide in trials:
        rejected_b += is_bonafide
        rejected_s += 1 - is_bonafide
        frr.append(rejected_b / len(bonafide))
        far.append((len(spoof) - rejected_s) / len(spoof))
    return np.array(frr), np.array(far)


@pytest.mark.parametrize("decimals", [None, 1])
def test_eer_and_tdcf_match_naive_loop(decimals):
    rng = np.random.default_rng(3)
    bonafide, spoof = rng.normal(1.0, 1.0, 300), rng.normal(-1.0, 1.0, 700)
    if decimals is not None:
        bonafide, spoof = bonafide.round(decimals), spoof.round(decimals)
    frr, far = _naive_det(bonafide.tolist(), spoof.tolist())
    best = min(range(len(frr)), key=lambda i: (abs(frr[i] - far[i]), i))
    eer, _ = metrics.compute_eer(bonafide, spoof)
    assert eer == pytest.approx((frr[best] + far[best]) / 2, abs=1e-12)
    c0, c1, c2 = 0.05, 0.9, 0.4
    naive_min = min(
        (c0 + c1 * m + c2 * f) / (c0 + min(c1, c2)) for m, f in zip(frr, far, strict=True)
    )
    value, _ = metrics.min_tdcf(bonafide, spoof, {"C0": c0, "C1": c1, "C2": c2})
    assert value == pytest.approx(naive_min, abs=1e-12)


def test_perfect_cm_reaches_the_asv_floor():
    asv = metrics.AsvOperatingPoint(0.02, 0.0, pfa=0.02, pmiss=0.02, pmiss_spoof=0.5, pfa_spoof=0.5)
    coefficients = metrics.tdcf_coefficients(asv)
    value = metrics.min_tdcf_revised([2.0, 3.0, 4.0], [-1.0, -2.0], asv)
    assert value == pytest.approx(coefficients.c0 / coefficients.default_cost)
    assert metrics.min_tdcf_legacy([2.0, 3.0, 4.0], [-1.0, -2.0], asv) == pytest.approx(0.0)


def test_per_condition_uses_both_classes_of_the_condition():
    scores = [0.9, 0.1, 0.2, 0.8, 0.7, 0.3]
    labels = [1, 0, 1, 0, 1, 0]
    codecs = ["gsm", "gsm", "opus", "opus", "gsm", "gsm"]
    result = metrics.metrics_per_condition(scores, labels, codecs)
    assert result["gsm"]["eer"] == 100 * metrics.compute_eer([0.9, 0.7], [0.1, 0.3])[0]
    assert result["opus"]["eer"] == 100 * metrics.compute_eer([0.2], [0.8])[0] == 100.0


def test_eer_needs_no_asv_and_report_omits_tdcf():
    report = metrics.evaluate_trials([0.9, 0.8, 0.2, 0.1], [1, 1, 0, 0])
    assert report["eer"] == 0.0
    assert "min_tdcf_legacy" not in report and "min_tdcf_revised" not in report


@pytest.mark.parametrize(
    "bonafide, spoof, message",
    [([], [1.0], "no scores"), ([np.nan], [1.0], "NaN"), ([1.0], [np.inf], "NaN or inf")],
)
def test_bad_scores_are_rejected(bonafide, spoof, message):
    with pytest.raises(ValueError, match=message):
        metrics.compute_eer(bonafide, spoof)


def test_tdcf_refuses_hard_decisions():
    with pytest.raises(ValueError, match="soft CM scores"):
        metrics.min_tdcf([1.0, 1.0], [0.0, 0.0], {"C0": 0.1, "C1": 0.9, "C2": 0.4})
