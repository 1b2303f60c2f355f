"""Metrics against the official ASVspoof values and naive reference computations."""

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from speechbrain_ssdctx.data.asvspoof import read_asv_scores, read_protocol_2019
from speechbrain_ssdctx.evaluation.eer import compute_eer
from speechbrain_ssdctx.evaluation.scores import align_scores, read_score_file
from speechbrain_ssdctx.evaluation.tdcf import (
    AsvOperatingPoint,
    CostModel,
    asv_operating_point,
    min_tdcf,
    tdcf_coefficients,
)
from speechbrain_ssdctx.evaluation.trials import (
    evaluate_trials,
    metrics_per_attack,
    metrics_per_condition,
)

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
    asv = asv_operating_point(asv_scores.target, asv_scores.nontarget, asv_scores.spoof)
    return OFFICIAL[name], values, bonafide, attacks, asv


@pytest.mark.slow
def test_official_eer_and_threshold(case):
    expected, values, bonafide, _, _ = case
    assert bonafide.sum() == expected["bonafide"] and (~bonafide).sum() == expected["spoof"]
    eer, threshold = compute_eer(values[bonafide], values[~bonafide])
    assert abs(100 * eer - expected["eer_percent"]) < TOL
    assert abs(threshold - expected["eer_threshold"]) < TOL


@pytest.mark.slow
def test_official_min_tdcf_and_asv(case):
    expected, values, bonafide, _, asv = case
    assert abs(100 * asv.eer - expected["asv_eer_percent"]) < TOL
    assert abs(asv.threshold - expected["asv_threshold"]) < TOL
    for form in ("legacy", "revised"):
        value, _ = min_tdcf(values[bonafide], values[~bonafide], asv=asv, form=form)
        assert abs(value - expected[f"min_tdcf_{form}"]) < TOL, form
    # The default form is the revised one (ASVspoof 2021 and 5).
    value, _ = min_tdcf(values[bonafide], values[~bonafide], asv=asv)
    assert abs(value - expected["min_tdcf_revised"]) < TOL


@pytest.mark.slow
def test_official_per_attack_eer(case):
    expected, values, bonafide, attacks, _ = case
    per_attack = metrics_per_attack(
        values[bonafide], values[~bonafide], attacks[~bonafide]
    )
    assert sorted(per_attack) == sorted(expected["per_attack_eer_percent"])
    for attack, value in expected["per_attack_eer_percent"].items():
        assert abs(per_attack[attack]["eer"] - value) < TOL, attack


def test_official_tiny_case():
    tiny = OFFICIAL["tiny_case"]
    eer, _ = compute_eer(tiny["bonafide"], tiny["spoof"])
    assert abs(100 * eer - tiny["eer_percent"]) < TOL


def test_official_2021_c012_case():
    expected = OFFICIAL["synthetic_2021LA_pooled_C012_eval"]
    bonafide = np.loadtxt(REFERENCE / "synthetic_2021LA_bonafide_scores.txt")
    spoof = np.loadtxt(REFERENCE / "synthetic_2021LA_spoof_scores.txt")
    assert abs(100 * compute_eer(bonafide, spoof)[0] - expected["eer_percent"]) < TOL
    value, _ = min_tdcf(bonafide, spoof, expected["C012"])
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
    eer, _ = compute_eer(bonafide, spoof)
    assert eer == pytest.approx((frr[best] + far[best]) / 2, abs=1e-12)
    c0, c1, c2 = 0.05, 0.9, 0.4
    naive_min = min(
        (c0 + c1 * m + c2 * f) / (c0 + min(c1, c2)) for m, f in zip(frr, far, strict=True)
    )
    value, _ = min_tdcf(bonafide, spoof, {"C0": c0, "C1": c1, "C2": c2})
    assert value == pytest.approx(naive_min, abs=1e-12)


def test_perfect_cm_reaches_the_asv_floor():
    asv = AsvOperatingPoint(0.02, 0.0, pfa=0.02, pmiss=0.02, pmiss_spoof=0.5, pfa_spoof=0.5)
    coefficients = tdcf_coefficients(asv)
    value, _ = min_tdcf([2.0, 3.0, 4.0], [-1.0, -2.0], asv=asv, form="revised")
    assert value == pytest.approx(coefficients.c0 / coefficients.default_cost)
    value, _ = min_tdcf([2.0, 3.0, 4.0], [-1.0, -2.0], asv=asv, form="legacy")
    assert value == pytest.approx(0.0)


def _official_coefficients(asv, cost, form):
    """C0, C1, C2 as the official code writes them: the 2019 eval_metrics.py (legacy) and
    tDCF_python_v2 (revised)."""
    if form == "legacy":
        c1 = cost.p_target * (cost.c_miss_cm - cost.c_miss_asv * asv.pmiss) - (
            cost.p_nontarget * cost.c_fa_asv * asv.pfa
        )
        return 0.0, c1, cost.c_fa_cm * cost.p_spoof * (1 - asv.pmiss_spoof)
    c0 = cost.p_target * cost.c_miss * asv.pmiss + cost.p_nontarget * cost.c_fa * asv.pfa
    return c0, cost.p_target * cost.c_miss - c0, cost.p_spoof * cost.c_fa_spoof * asv.pfa_spoof


# Different costs for the two forms, so that a form computed with the other's would show.
_COSTS = CostModel(c_miss=1.5, c_fa=12.0, c_fa_spoof=7.0, c_miss_asv=2.0, c_fa_asv=8.0,
                   c_miss_cm=1.2, c_fa_cm=5.0)
_C012 = {"C0": 0.0, "C1": 1.0, "C2": 1.0}
_ASV = AsvOperatingPoint(0.05, 0.0, pfa=0.04, pmiss=0.06, pmiss_spoof=0.3, pfa_spoof=0.7)


@pytest.mark.parametrize("form", ["legacy", "revised"])
def test_tdcf_forms_match_the_official_formulas_in_a_loop(form):
    rng = np.random.default_rng(5)
    bonafide, spoof = rng.normal(1.0, 1.0, 200).round(1), rng.normal(-1.0, 1.0, 500).round(1)
    frr, far = _naive_det(bonafide.tolist(), spoof.tolist())
    c0, c1, c2 = _official_coefficients(_ASV, _COSTS, form)
    coefficients = tdcf_coefficients(_ASV, _COSTS, form=form)
    assert (coefficients.c0, coefficients.c1, coefficients.c2) == pytest.approx((c0, c1, c2))
    naive = [(c0 + c1 * m + c2 * f) / (c0 + min(c1, c2)) for m, f in zip(frr, far, strict=True)]
    thresholds = [min(bonafide.min(), spoof.min()) - 0.001] + sorted([*bonafide, *spoof])
    best = min(range(len(naive)), key=lambda i: (naive[i], i))
    value, threshold = min_tdcf(bonafide, spoof, asv=_ASV, cost_model=_COSTS, form=form)
    assert value == pytest.approx(naive[best], abs=1e-12)
    assert threshold == thresholds[best]


def test_tdcf_forms_differ():
    scores = ([0.9, 0.8, 0.3], [0.1, 0.2, 0.4])
    legacy = min_tdcf(*scores, asv=_ASV, cost_model=_COSTS, form="legacy")[0]
    revised = min_tdcf(*scores, asv=_ASV, cost_model=_COSTS, form="revised")[0]
    assert abs(legacy - revised) > 0.05


@pytest.mark.parametrize(
    "call",
    [
        lambda: min_tdcf([0.9, 0.8, 0.3], [0.1, 0.2, 0.4], asv=_ASV, form="2019"),
        lambda: min_tdcf([0.9, 0.8, 0.3], [0.1, 0.2, 0.4], _C012, form=""),
        lambda: tdcf_coefficients(_ASV, form="Legacy"),
    ],
)
def test_bad_tdcf_form_names_the_choices(call):
    with pytest.raises(ValueError, match=r"form must be 'legacy' or 'revised', got '.*'"):
        call()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"coefficients": _C012, "form": "legacy"}, "ASV operating point"),
        ({"coefficients": _C012, "cost_model": _COSTS}, "ASV operating point"),
        ({}, "exactly one of coefficients"),
        ({"coefficients": _C012, "asv": _ASV}, "exactly one of coefficients"),
    ],
)
def test_min_tdcf_needs_coefficients_or_an_asv(kwargs, message):
    with pytest.raises(ValueError, match=message):
        min_tdcf([0.9, 0.8, 0.3], [0.1, 0.2, 0.4], **kwargs)


def test_negative_tdcf_weights_are_refused():
    bad = AsvOperatingPoint(0.5, 0.0, pfa=1.0, pmiss=1.0, pmiss_spoof=0.0, pfa_spoof=1.0)
    for form in ("legacy", "revised"):
        with pytest.raises(ValueError, match=f"{form} t-DCF weights are negative"):
            tdcf_coefficients(bad, form=form)


def test_per_condition_uses_both_classes_of_the_condition():
    scores = [0.9, 0.1, 0.2, 0.8, 0.7, 0.3]
    labels = [1, 0, 1, 0, 1, 0]
    codecs = ["gsm", "gsm", "opus", "opus", "gsm", "gsm"]
    result = metrics_per_condition(scores, labels, codecs)
    assert result["gsm"]["eer"] == 100 * compute_eer([0.9, 0.7], [0.1, 0.3])[0]
    assert result["opus"]["eer"] == 100 * compute_eer([0.2], [0.8])[0] == 100.0


def test_eer_needs_no_asv_and_report_omits_tdcf():
    report = evaluate_trials([0.9, 0.8, 0.2, 0.1], [1, 1, 0, 0])
    assert report["eer"] == 0.0
    assert "min_tdcf_legacy" not in report and "min_tdcf_revised" not in report


@pytest.mark.parametrize(
    "bonafide, spoof, message",
    [([], [1.0], "no scores"), ([np.nan], [1.0], "NaN"), ([1.0], [np.inf], "NaN or inf")],
)
def test_bad_scores_are_rejected(bonafide, spoof, message):
    with pytest.raises(ValueError, match=message):
        compute_eer(bonafide, spoof)


def test_tdcf_refuses_hard_decisions():
    with pytest.raises(ValueError, match="soft CM scores"):
        min_tdcf([1.0, 1.0], [0.0, 0.0], {"C0": 0.1, "C1": 0.9, "C2": 0.4})


@pytest.mark.slow
def test_official_min_tdcf_through_the_0_1_0_functions(case):
    """0.1.0's min_tdcf_legacy / min_tdcf_revised (removed, kept at their old path with
    their old signatures) still give the official values."""
    expected, values, bonafide, _, asv = case
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        from speechbrain_ssdctx.metrics import min_tdcf_legacy, min_tdcf_revised
    for form, old in (("legacy", min_tdcf_legacy), ("revised", min_tdcf_revised)):
        assert abs(old(values[bonafide], values[~bonafide], asv) - expected[f"min_tdcf_{form}"]) \
            < TOL, form
