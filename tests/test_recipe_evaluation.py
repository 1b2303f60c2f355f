"""The recipe end to end on ASVspoof 5 (one override), with In-the-Wild and a labelled CSV
as extra test sets, the dev calibration, and an export that returns calibrated LLRs."""

import json
import math
import warnings

import numpy as np
import pytest
from corpus_layouts import make_asvspoof5, make_in_the_wild, make_labelled_csv
from recipe_utils import run_train
from sklearn.linear_model import LogisticRegression

from speechbrain_ssdctx.cli.export import main as export_main
from speechbrain_ssdctx.data.preparation import read_manifest
from speechbrain_ssdctx.evaluation.dcf import DetectionCosts, cllr
from speechbrain_ssdctx.evaluation.eer import compute_eer
from speechbrain_ssdctx.evaluation.scores import read_score_file
from speechbrain_ssdctx.inference.spoof_detector import SpoofDetector


@pytest.mark.slow
def test_asvspoof5_training_with_extra_test_sets_and_calibrated_export(tmp_path):
    asvspoof5 = make_asvspoof5(tmp_path / "asvspoof5")
    wild = make_in_the_wild(tmp_path / "release_in_the_wild")
    labelled = make_labelled_csv(tmp_path / "own")
    output = tmp_path / "run"
    run_train("lcnn.yaml", output, f"--asvspoof5_folder={asvspoof5}",
              f"--in_the_wild_folder={wild}", f"--test_csvs=[{labelled}]")

    results = json.loads((output / "results.json").read_text())
    assert set(results) == {"dev", "ASVspoof5_eval", "InTheWild", "labelled_mine"}
    assert results["dev"]["title"] == "ASVspoof 5 dev"
    for name, report in results.items():
        labels = {row["ID"]: row["label"] for row in read_manifest(report["key"])}
        scores = read_score_file(output / "scores" / f"{name}.txt")
        bona = [s for u, s in scores.items() if labels[u] == "bonafide"]
        spoof = [s for u, s in scores.items() if labels[u] == "spoof"]
        assert len(bona) == len(spoof) == 3  # the quick slice of every set
        assert report["eer"] == pytest.approx(100 * compute_eer(bona, spoof)[0])
        for metric in ("min_dcf", "act_dcf", "cllr", "min_cllr", "act_dcf_calibrated",
                       "cllr_calibrated"):
            assert math.isfinite(report[metric]), (name, metric)
    assert "ASVspoof5_eval" in results and "per_codec" in results["ASVspoof5_eval"]
    assert str(wild) in read_manifest(results["InTheWild"]["key"])[0]["wav"]
    markdown = (output / "results.md").read_text()
    assert "| In-the-Wild |" in markdown and "| ASVspoof 5 dev |" in markdown

    # The calibration is the prior-weighted logistic regression of the dev scores.
    calibration = json.loads((output / "calibration.json").read_text())
    labels = {row["ID"]: row["label"] for row in read_manifest(results["dev"]["key"])}
    dev = read_score_file(output / "scores" / "dev.txt")
    x = np.array(list(dev.values()))[:, None]
    y = np.array([labels[u] == "bonafide" for u in dev], dtype=float)
    prior = DetectionCosts().effective_prior
    weights = np.where(y == 1, prior / y.sum(), (1 - prior) / (1 - y).sum())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = LogisticRegression(C=1 / 1e-6, tol=1e-12, max_iter=10000).fit(
            x, y, sample_weight=weights)
    assert calibration["prior"] == pytest.approx(prior)
    assert calibration["slope"] == pytest.approx(model.coef_[0, 0], rel=1e-3, abs=1e-3)
    wild_scores = read_score_file(output / "scores" / "InTheWild.txt")
    wild_labels = {row["ID"]: row["label"] for row in read_manifest(results["InTheWild"]["key"])}
    llrs = {u: calibration["slope"] * s + calibration["offset"] for u, s in wild_scores.items()}
    expected = cllr([v for u, v in llrs.items() if wild_labels[u] == "bonafide"],
                    [v for u, v in llrs.items() if wild_labels[u] == "spoof"])
    assert results["InTheWild"]["cllr_calibrated"] == pytest.approx(expected)

    # The exported model carries the calibration: classify_file gives the LLR.
    exported = tmp_path / "exported"
    assert export_main([str(output), str(exported)]) == 0
    assert "calibration:" in (exported / "hyperparams.yaml").read_text()
    assert "natural-log likelihood ratio" in (exported / "README.md").read_text()
    detector = SpoofDetector.from_hparams(str(exported), savedir=str(tmp_path / "load"))
    utt, score = next(iter(wild_scores.items()))
    decision = detector.classify_file(wild / f"{utt}.wav")
    assert decision.score == pytest.approx(score, abs=1e-4)
    assert decision.llr == pytest.approx(llrs[utt], abs=1e-3 * max(1.0, abs(llrs[utt])))
    assert decision.is_bonafide == (decision.llr >= DetectionCosts().bayes_threshold)
