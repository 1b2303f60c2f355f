"""LogisticFusion against scikit-learn, against Calibration, and on two systems."""

import math

import numpy as np
import pytest

from speechbrain_ssdctx.evaluation.calibration import Calibration
from speechbrain_ssdctx.evaluation.eer import compute_eer
from speechbrain_ssdctx.evaluation.fusion import LogisticFusion


def _two_systems(seed=0, trials=3000):
    """Two systems sharing part of their noise (partly independent errors)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(trials) < trials // 2
    shared = rng.normal(0, 1, trials)
    a = 2.0 * labels + 0.6 * shared + rng.normal(0, 1, trials)
    b = 3.0 * labels - 1.0 + 0.6 * shared + rng.normal(0, 1.4, trials)
    return np.stack([a, b], axis=1), labels


def _eer(scores, labels):
    return compute_eer(scores[labels], scores[~labels])[0]


@pytest.mark.slow  # imports scikit-learn (about 1.5 s)
def test_fusion_matches_sklearn_logistic_regression():
    sklearn = pytest.importorskip("sklearn.linear_model")
    scores, labels = _two_systems()
    prior = 0.3
    fusion = LogisticFusion.fit(scores, labels, prior=prior, l2=0.0)
    # The same objective: class weights P / N_bona and (1 - P) / N_spoof, no penalty;
    # sklearn's intercept is a posterior log-odds, the LLR offset plus logit(P).
    weight = np.where(labels, prior / labels.sum(), (1 - prior) / (~labels).sum())
    model = sklearn.LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000)
    model.fit(scores, labels, sample_weight=weight * labels.size)
    logit = math.log(prior / (1 - prior))
    np.testing.assert_allclose(fusion.weights, model.coef_[0], atol=1e-4)
    assert fusion.offset == pytest.approx(model.intercept_[0] - logit, abs=1e-4)
    np.testing.assert_allclose(fusion(scores), model.decision_function(scores) - logit,
                               atol=1e-4)


def test_fused_eer_at_most_the_better_system():
    dev, dev_labels = _two_systems(seed=1)
    test, test_labels = _two_systems(seed=2)
    fusion = LogisticFusion.fit(dev, dev_labels)
    singles = [_eer(test[:, k], test_labels) for k in range(2)]
    fused = _eer(fusion(test), test_labels)
    assert fused <= min(singles), (fused, singles)
    assert fused < 0.9 * min(singles)  # partly independent errors: a clear gain


def test_fusion_of_one_system_is_its_calibration():
    scores, labels = _two_systems(seed=3)
    single = scores[:, 1]
    calibration = Calibration.fit(single[labels], single[~labels], prior=0.4)
    fusion = LogisticFusion.fit(single[:, None], labels, prior=0.4)
    assert fusion.weights[0] == pytest.approx(calibration.slope, rel=1e-8)
    assert fusion.offset == pytest.approx(calibration.offset, rel=1e-8, abs=1e-10)
    np.testing.assert_allclose(fusion(single[:, None]), calibration(single), atol=1e-8)


def test_fused_scores_are_calibrated_llrs():
    """On scores drawn from known Gaussians, the fused LLR approaches the true LLR."""
    rng = np.random.default_rng(4)
    labels = np.arange(20000) < 10000
    a = np.where(labels, 1.0, -1.0) + rng.normal(0, 1, labels.size)
    b = np.where(labels, 1.0, -1.0) + rng.normal(0, 1, labels.size)
    fusion = LogisticFusion.fit(np.stack([a, b], axis=1), labels, prior=0.5)
    # true LLR of two independent N(+-1, 1) scores: 2 a + 2 b
    np.testing.assert_allclose(fusion.weights, [2.0, 2.0], atol=0.1)
    assert abs(fusion.offset) < 0.1


def test_save_load_and_errors(tmp_path):
    fusion = LogisticFusion((1.5, -0.5), 0.25, 0.6, ("a", "b"))
    assert LogisticFusion.load(fusion.save(tmp_path / "fusion.json")) == fusion
    with pytest.raises(ValueError, match="2 systems for a fusion of 3"):
        LogisticFusion((1.0, 1.0, 1.0), 0.0)(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="bona fide and spoofed"):
        LogisticFusion.fit(np.zeros((3, 2)), [True, True, True])
    (tmp_path / "bad.json").write_text('{"weights": [1.0]}')
    with pytest.raises(ValueError, match="a fusion needs"):
        LogisticFusion.load(tmp_path / "bad.json")


def _write(path, ids, values):
    path.write_text("".join(f"{i} {float(v)!r}\n" for i, v in zip(ids, values, strict=True)))
    return str(path)


def test_cli_fuse_writes_llrs_and_compares(tmp_path, capsys):
    from speechbrain_ssdctx.cli import fuse as fuse_cli
    from speechbrain_ssdctx.evaluation.scores import read_score_file

    files = {}
    for split, seed in (("dev", 5), ("eval", 6)):
        scores, labels = _two_systems(seed=seed, trials=600)
        ids = [f"{split}{n}" for n in range(labels.size)]
        key = tmp_path / f"{split}.csv"
        key.write_text("ID,label\n" + "".join(
            f"{i},{'bonafide' if b else 'spoof'}\n" for i, b in zip(ids, labels, strict=True)))
        files[split] = ([_write(tmp_path / f"{s}_{split}.txt", ids, scores[:, k])
                         for k, s in enumerate("ab")], str(key), scores, labels)
    out = tmp_path / "fused.txt"
    status = fuse_cli.main(["--dev", *files["dev"][0], "--key", files["dev"][1],
                            "--eval", *files["eval"][0], "--eval-key", files["eval"][1],
                            "--out", str(out), "--save", str(tmp_path / "f.json"),
                            "--bootstrap", "50"])
    captured = capsys.readouterr()
    printed = captured.out
    assert status == 0, captured.err
    assert "**fusion**" in printed and "| a_dev |" in printed
    fusion = LogisticFusion.fit(files["dev"][2], files["dev"][3])
    fused = read_score_file(out)
    np.testing.assert_allclose(list(fused.values()), fusion(files["eval"][2]), atol=1e-9)
    # never overwrite an input; one-line errors
    assert fuse_cli.main(["--dev", *files["dev"][0], "--key", files["dev"][1],
                          "--eval", *files["eval"][0], "--out", files["eval"][0][0]]) == 1
    assert "is one of the input files" in capsys.readouterr().err
