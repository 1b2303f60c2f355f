"""ScoreStats: the stage's scores and EER, checked against sklearn and plain loops."""

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_curve

from speechbrain_ssdctx.evaluation.score_stats import ScoreStats


def sklearn_eer(scores: np.ndarray, bonafide: np.ndarray) -> float:
    """EER from sklearn's ROC (no ties in the data, so every convention agrees)."""
    far, tpr, _ = roc_curve(bonafide, scores)
    frr = 1 - tpr
    best = np.argmin(np.abs(frr - far))
    return 100 * (far[best] + frr[best]) / 2


@pytest.mark.parametrize("bonafide_index", [0, 1])
def test_eer_over_batches_matches_sklearn(bonafide_index):
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(300, 2, generator=generator)
    labels = torch.randint(0, 2, (300,), generator=generator)
    logits[:, bonafide_index] += 1.5 * (labels == bonafide_index)  # a detector, not chance
    stats = ScoreStats(bonafide_index=bonafide_index)
    ids = [f"u{i:03d}" for i in range(300)]
    for start in range(0, 300, 64):
        stats.append(ids[start:start + 64], logits[start:start + 64], labels[start:start + 64])
    expected_scores = (logits[:, bonafide_index] - logits[:, 1 - bonafide_index]).numpy()
    assert [stats.scores[u] for u in ids] == pytest.approx(expected_scores.tolist(), abs=1e-6)
    bonafide = (labels == bonafide_index).numpy()
    assert stats.summarize("EER") == pytest.approx(sklearn_eer(expected_scores, bonafide),
                                                   abs=1e-9)


def test_bonafide_logit_scores_and_repeated_ids():
    stats = ScoreStats(score_type="bonafide_logit")
    stats.append(["a", "b"], torch.tensor([[0.0, 2.5], [1.0, -4.0]]), torch.tensor([1, 0]))
    stats.append(["a"], torch.tensor([[0.0, 2.5]]), torch.tensor([1]))  # a DDP repeat
    assert stats.scores == {"a": 2.5, "b": -4.0}
    assert stats.labels == {"a": 1, "b": 0}


def test_keyless_set_and_clear():
    stats = ScoreStats()
    stats.append(["x", "y"], torch.zeros(2, 2), torch.tensor([-1, -1]))
    assert not stats.has_both_classes
    with pytest.raises(ValueError, match="both classes: got 0 bona fide and 0 spoofed"):
        stats.summarize()
    stats.clear()
    assert stats.scores == {} and stats.labels == {}


def test_bad_bonafide_index():
    with pytest.raises(ValueError, match="bonafide_index must be 0 or 1"):
        ScoreStats(bonafide_index=2)
