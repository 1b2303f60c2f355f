"""Tests of the classification and context losses against plain numpy / Python computations."""

import math

import numpy as np
import pytest
import torch

from speechbrain_ssdctx.method.losses import ClassificationLoss, InterInstanceLoss, kl_consistency


def numpy_probs(logits: np.ndarray) -> np.ndarray:
    logits = logits.astype(np.float64)
    if logits.ndim == 1 or logits.shape[-1] == 1:
        s = 1 / (1 + np.exp(-logits.reshape(-1)))
        return np.stack([1 - s, s], axis=-1)
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def numpy_kl(p: np.ndarray, q: np.ndarray) -> float:
    return float(np.mean(np.sum(p * np.log(p / q), axis=-1)))


@pytest.mark.parametrize("shape", [(16, 2), (16, 5), (16, 1), (16,)])
@pytest.mark.parametrize("direction", ["forward", "reverse", "symmetric"])
def test_kl_matches_numpy(shape, direction):
    rng = np.random.default_rng(0)
    logits, masked = rng.normal(size=shape) * 3, rng.normal(size=shape) * 3
    p, q = numpy_probs(logits), numpy_probs(masked)
    expected = {
        "forward": numpy_kl(p, q),
        "reverse": numpy_kl(q, p),
        "symmetric": 0.5 * (numpy_kl(p, q) + numpy_kl(q, p)),
    }[direction]
    value = kl_consistency(
        torch.tensor(logits, dtype=torch.float32),
        torch.tensor(masked, dtype=torch.float32),
        direction=direction,
    )
    assert value.dtype == torch.float32 and value.dim() == 0
    assert float(value) == pytest.approx(expected, rel=1e-5, abs=1e-6)


def test_kl_gradients_and_detach_target():
    logits = torch.randn(8, 2, requires_grad=True)
    masked = torch.randn(8, 2, requires_grad=True)
    kl_consistency(logits, masked).backward()
    assert logits.grad.abs().sum() > 0 and masked.grad.abs().sum() > 0
    logits.grad, masked.grad = None, None
    kl_consistency(logits, masked, direction="reverse", detach_target=True).backward()
    assert logits.grad is None and masked.grad.abs().sum() > 0


def test_kl_float32_under_autocast_and_extreme_logits():
    logits = torch.tensor([[60.0, -60.0], [0.0, 0.0]]).bfloat16()
    masked = torch.tensor([[-60.0, 60.0], [0.0, 0.0]]).bfloat16()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        value = kl_consistency(logits, masked)
    assert value.dtype == torch.float32
    # Row 0: KL = 120 (computed from log-probabilities, no overflow); row 1: 0.
    assert float(value) == pytest.approx(60.0, rel=1e-4)


def test_kl_bad_arguments():
    with pytest.raises(ValueError, match="direction"):
        kl_consistency(torch.zeros(2, 2), torch.zeros(2, 2), direction="js")
    with pytest.raises(ValueError, match="differ in shape"):
        kl_consistency(torch.zeros(2, 2), torch.zeros(3, 2))


def loop_ini(emb, labels, bank, bank_labels, tau=1.0):
    """L_InI by the definition, with plain Python loops."""
    total = 0.0
    for f, y in zip(emb, labels, strict=True):
        pos, neg = [], []
        for g, z in zip(bank, bank_labels, strict=True):
            s = float(np.dot(f, g) / (np.linalg.norm(f) * np.linalg.norm(g))) / tau
            sig = 1 / (1 + math.exp(-s))
            (pos if y == z else neg).append((math.log(sig), math.log(1 - sig)))
        if pos:
            total += sum(p for p, _ in pos) / len(pos)
        if neg:
            total += sum(n for _, n in neg) / len(neg)
    return -total / len(emb)


@pytest.mark.parametrize("tau", [1.0, 0.3])
def test_ini_matches_double_loop(tau):
    rng = np.random.default_rng(3)
    emb, bank = rng.normal(size=(6, 5)), rng.normal(size=(11, 5))
    labels, bank_labels = rng.integers(0, 2, 6), rng.integers(0, 2, 11)
    value = InterInstanceLoss(tau)(
        torch.tensor(emb, dtype=torch.float32),
        torch.tensor(labels),
        torch.tensor(bank, dtype=torch.float32),
        torch.tensor(bank_labels),
    )
    assert float(value) == pytest.approx(loop_ini(emb, labels, bank, bank_labels, tau), rel=1e-5)


def test_ini_rows_without_positives_or_negatives_and_empty_bank():
    rng = np.random.default_rng(4)
    emb, bank = rng.normal(size=(4, 3)), rng.normal(size=(5, 3))
    labels, bank_labels = np.array([0, 1, 0, 1]), np.zeros(5, dtype=int)
    loss = InterInstanceLoss()
    value = loss(
        torch.tensor(emb, dtype=torch.float32, requires_grad=True),
        torch.tensor(labels),
        torch.tensor(bank, dtype=torch.float32),
        torch.tensor(bank_labels),
    )
    assert torch.isfinite(value)
    assert float(value.detach()) == pytest.approx(
        loop_ini(emb, labels, bank, bank_labels), rel=1e-5
    )
    embeddings = torch.randn(4, 3, requires_grad=True)
    empty = loss(embeddings, torch.tensor(labels), torch.zeros(0, 3), torch.zeros(0))
    assert float(empty.detach()) == 0.0
    empty.backward()
    assert torch.equal(embeddings.grad, torch.zeros(4, 3))


def test_ini_gradients_flow_only_to_online_embeddings():
    embeddings = torch.randn(4, 3, requires_grad=True)
    bank = torch.randn(6, 3, requires_grad=True)
    InterInstanceLoss()(
        embeddings, torch.tensor([0, 1, 0, 1]), bank, torch.arange(6) % 2
    ).backward()
    assert embeddings.grad.abs().sum() > 0 and bank.grad is None


def test_ini_bad_arguments():
    with pytest.raises(ValueError, match="temperature"):
        InterInstanceLoss(0.0)
    with pytest.raises(ValueError, match="embedding sizes differ"):
        InterInstanceLoss()(torch.randn(2, 3), torch.zeros(2), torch.randn(4, 5), torch.zeros(4))


def numpy_weighted_ce(logits: np.ndarray, labels: np.ndarray, weights) -> float:
    """sum_i w[y_i] * (-log p_i[y_i]) / sum_i w[y_i], the weighted mean of the official
    AASIST recipe's nn.CrossEntropyLoss(weight=)."""
    probs = numpy_probs(logits)
    w = np.ones(probs.shape[-1]) if weights is None else np.asarray(weights, dtype=np.float64)
    nll = -np.log(probs[np.arange(len(labels)), labels])
    return float(np.sum(w[labels] * nll) / np.sum(w[labels]))


@pytest.mark.parametrize("shape", [(12, 2), (12, 1), (12,)])
@pytest.mark.parametrize("weights", [None, [0.1, 0.9], [3.0, 1.0]])
def test_classification_loss_matches_numpy(shape, weights):
    generator = torch.Generator().manual_seed(5)
    logits = 3 * torch.randn(shape, generator=generator)
    labels = torch.tensor([0, 0, 0, 1, 0, 1, 1, 0, 0, 0, 1, 0])
    loss = ClassificationLoss(weights)(logits, labels)
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(
        numpy_weighted_ce(logits.double().numpy(), labels.numpy(), weights), rel=1e-5)


def test_class_weights_normalise_like_torch_and_only_their_ratio_matters():
    logits, labels = torch.randn(10, 2), torch.randint(0, 2, (10,))
    official = torch.nn.CrossEntropyLoss(weight=torch.tensor([0.1, 0.9]))(logits, labels)
    assert ClassificationLoss([0.1, 0.9])(logits, labels).item() == pytest.approx(
        official.item(), rel=1e-6)
    assert ClassificationLoss([1.0, 9.0])(logits, labels).item() == pytest.approx(
        official.item(), rel=1e-6)
    # SpeechBrain's layout ([B, 1, C] predictions, [B, 1] targets), as ContextLoss calls it.
    assert ClassificationLoss([0.1, 0.9])(logits.unsqueeze(1), labels.unsqueeze(1)).item() == (
        pytest.approx(official.item(), rel=1e-6))
    # Weights of a class move its utterances' gradients: the bona fide rows pull 9x harder.
    rows = logits.clone().requires_grad_(True)
    ClassificationLoss([0.1, 0.9])(rows, labels).backward()
    plain = logits.clone().requires_grad_(True)
    torch.nn.functional.cross_entropy(plain, labels, reduction="sum").backward()
    expected = plain.grad * torch.tensor([0.1, 0.9])[labels][:, None] / torch.tensor(
        [0.1, 0.9])[labels].sum()
    torch.testing.assert_close(rows.grad, expected)


def test_classification_loss_ignores_unlabelled_rows_and_rejects_bad_weights():
    logits = torch.tensor([[1.0, 0.0], [0.0, 3.0], [5.0, -5.0]])
    loss = ClassificationLoss([0.1, 0.9])(logits, torch.tensor([0, -1, 1]))
    assert loss.item() == pytest.approx(
        numpy_weighted_ce(logits[[0, 2]].numpy(), np.array([0, 1]), [0.1, 0.9]), rel=1e-6)
    assert ClassificationLoss()(logits, torch.tensor([-1, -1, -1])).item() == 0.0
    for bad in ([0.5], [1.0, -1.0], [[1.0, 2.0]]):
        with pytest.raises(ValueError, match="class_weights must list one positive weight"):
            ClassificationLoss(bad)
    with pytest.raises(ValueError, match="class_weights has 2 weights for 3 classes"):
        ClassificationLoss([1.0, 2.0])(torch.zeros(2, 3), torch.tensor([0, 2]))
