"""Calibration: the fit against scikit-learn, the CLI, and calibrated SpoofDetector outputs."""

import json
import math
import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from speechbrain_ssdctx.cli.calibrate import main as calibrate_main
from speechbrain_ssdctx.evaluation.calibration import Calibration, posterior
from speechbrain_ssdctx.evaluation.dcf import DetectionCosts, act_dcf, cllr, min_cllr
from speechbrain_ssdctx.evaluation.scores import read_score_file, write_score_file
from speechbrain_ssdctx.inference import SpoofDetector, bundled_models_dir

FLAC = "tests/fixtures/asvspoof2019_la/LA/ASVspoof2019_LA_train/flac/LA_T_1272637.flac"


def development_scores(seed=1):
    rng = np.random.default_rng(seed)
    return rng.normal(3, 2, 300) * 2 + 5, rng.normal(-1, 1.5, 1200) * 2 + 5


def sklearn_fit(bona, spoof, prior, l2):
    """The same objective with scikit-learn: class weights prior/N and (1-prior)/N."""
    x = np.concatenate((bona, spoof))[:, None]
    y = np.concatenate((np.ones(bona.size), np.zeros(spoof.size)))
    weights = np.concatenate((np.full(bona.size, prior / bona.size),
                              np.full(spoof.size, (1 - prior) / spoof.size)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = LogisticRegression(C=np.inf if l2 == 0 else 1 / l2, tol=1e-12, max_iter=10000)
        model.fit(x, y, sample_weight=weights)
    # sklearn's intercept is a posterior log-odds at the prior: remove the prior log-odds.
    return model.coef_[0, 0], model.intercept_[0] - math.log(prior / (1 - prior))


@pytest.mark.parametrize("prior", [0.5, 0.655, 0.1])
@pytest.mark.parametrize("l2", [0.0, 0.01])
def test_fit_matches_sklearn_logistic_regression(prior, l2):
    bona, spoof = development_scores()
    calibration = Calibration.fit(bona, spoof, prior=prior, l2=l2)
    slope, offset = sklearn_fit(bona, spoof, prior, l2)
    assert calibration.slope == pytest.approx(slope, abs=1e-5)
    assert calibration.offset == pytest.approx(offset, abs=1e-4)
    assert calibration.prior == prior


def test_calibration_lowers_cllr_and_actdcf_of_shifted_scores():
    bona, spoof = development_scores(2)
    calibration = Calibration.fit(bona, spoof)
    before = cllr(bona, spoof), act_dcf(bona, spoof)[0]
    after = cllr(calibration(bona), calibration(spoof)), act_dcf(
        calibration(bona), calibration(spoof))[0]
    assert after[0] < before[0] and after[1] < before[1]
    assert after[0] >= min_cllr(bona, spoof)  # the PAV floor
    assert calibration.prior == pytest.approx(DetectionCosts().effective_prior)


def test_separable_scores_give_a_finite_map():
    calibration = Calibration.fit([5.0, 6.0, 7.0], [0.0, 1.0, 2.0])
    assert math.isfinite(calibration.slope) and calibration.slope > 0
    assert calibration([7.0])[0] > 0 > calibration([0.0])[0]


def test_posterior_and_round_trip(tmp_path):
    assert float(posterior(0.0, 0.95)) == pytest.approx(0.95)
    assert float(posterior(math.log(3), 0.5)) == pytest.approx(0.75)
    calibration = Calibration(2.0, -1.0, 0.3)
    path = calibration.save(tmp_path / "c.json")
    assert Calibration.load(path) == calibration
    (tmp_path / "bad.json").write_text('{"slope": 1}')
    with pytest.raises(ValueError, match="bad.json: a calibration needs"):
        Calibration.load(tmp_path / "bad.json")


def test_cli_fit_and_apply(tmp_path, capsys):
    bona, spoof = development_scores(3)
    ids = [f"u{i}" for i in range(bona.size + spoof.size)]
    write_score_file(tmp_path / "dev.txt", ids, np.concatenate((bona, spoof)))
    labels = ["bonafide"] * bona.size + ["spoof"] * spoof.size
    lines = [f"{u}.wav,{label}\n" for u, label in zip(ids, labels, strict=True)]
    (tmp_path / "key.csv").write_text("path,label\n" + "".join(lines))
    code = calibrate_main(["fit", str(tmp_path / "dev.txt"), "--key", str(tmp_path / "key.csv"),
                           "--out", str(tmp_path / "cal.json"), "--prior", "0.5"])
    out = capsys.readouterr().out
    assert code == 0 and "calibrated" in out
    saved = json.loads((tmp_path / "cal.json").read_text())
    slope, offset = sklearn_fit(bona, spoof, 0.5, 1e-6)
    assert saved["slope"] == pytest.approx(slope, abs=1e-5)
    code = calibrate_main(["apply", str(tmp_path / "cal.json"), str(tmp_path / "dev.txt"),
                           "--out", str(tmp_path / "llr.tsv"), "--format", "asvspoof5"])
    assert code == 0
    llrs = read_score_file(tmp_path / "llr.tsv")
    assert (tmp_path / "llr.tsv").read_text().startswith("filename\tcm-score\n")
    assert llrs["u0"] == pytest.approx(saved["slope"] * bona[0] + saved["offset"])
    assert calibrate_main(["fit", str(tmp_path / "dev.txt"), "--key", str(tmp_path / "nokey"),
                           "--out", str(tmp_path / "x.json")]) == 1
    assert "nokey" in capsys.readouterr().err


@pytest.mark.slow
def test_calibrated_detector_gives_llr_posterior_and_bayes_decision(tmp_path):
    yaml = (bundled_models_dir() / "aasist-l.yaml").read_text()
    (tmp_path / "hyperparams.yaml").write_text(
        yaml + "\ncalibration:\n    slope: 0.5\n    offset: -4.0\n    prior: 0.5\n")
    detector = SpoofDetector.from_hparams(tmp_path)
    decision = detector.classify_file(FLAC)
    uncalibrated = SpoofDetector.from_hparams("aasist-l").classify_file(FLAC)
    assert uncalibrated.llr is None and uncalibrated.threshold == 0.0
    assert decision.score == pytest.approx(uncalibrated.score, abs=1e-5)
    llr = 0.5 * uncalibrated.score - 4.0
    assert decision.llr == pytest.approx(llr, abs=1e-5)
    assert decision.prior == 0.95  # the bona fide prior of the ASVspoof 5 costs
    assert decision.prob_bonafide == pytest.approx(1 / (1 + math.exp(-llr - math.log(19))))
    assert decision.threshold == pytest.approx(-math.log(1.9))
    assert decision.is_bonafide == (llr >= -math.log(1.9))
    strict = detector.classify_file(FLAC, DetectionCosts(p_spoof=0.5, c_fa=1000))
    assert strict.threshold == pytest.approx(math.log(1000)) and not strict.is_bonafide
