"""The detector contract: SpeechBrain-shaped outputs, labels and losses are accepted, and
every other output fails with a message stating the contract and what was received."""

import copy
import math

import numpy as np
import pytest
import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.dataio.batch import PaddedData
from speechbrain.lobes.features import Fbank
from speechbrain.lobes.models.ECAPA_TDNN import Classifier
from speechbrain.lobes.models.Xvector import Xvector
from speechbrain.processing.features import InputNormalization

from speechbrain_ssdctx.method.context import ContextLoss
from speechbrain_ssdctx.method.contract import (
    CONTRACT,
    ContractAdapter,
    ContractError,
    as_labels,
    as_logits,
    split_outputs,
)
from speechbrain_ssdctx.method.masking import BandPassMasking
from speechbrain_ssdctx.models import Detector

TIME = 1600


class Shaped(torch.nn.Module):
    """A detector whose outputs take the shapes given (SpeechBrain's, or wrong ones)."""

    def __init__(self, shape: str = "contract", embedding_dim=4):
        super().__init__()
        if embedding_dim is not None:
            self.embedding_dim = embedding_dim
        self.shape = shape
        self.encoder = torch.nn.Linear(TIME, 4)
        self.head = torch.nn.Linear(4, 1 if shape == "single" else 2)

    def forward(self, wavs, lengths=None):
        embedding = torch.tanh(self.encoder(wavs))
        logits = self.head(embedding)
        return {
            "contract": lambda: (embedding, logits),
            "speechbrain": lambda: (embedding[:, None], logits.log_softmax(-1)[:, None]),
            "single": lambda: (embedding, logits),
            "logits_only": lambda: logits,
            "swapped": lambda: (logits, embedding),
            "batch_mismatch": lambda: (embedding[:-1], logits[:-1]),
            "three": lambda: (embedding, logits, embedding),
        }[self.shape]()


def batch(size=6, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(size, TIME, generator=generator), torch.ones(size), torch.arange(size) % 2


def test_speechbrain_shapes_give_the_losses_of_the_plain_shapes():
    torch.manual_seed(0)
    plain, shaped = Shaped("contract"), Shaped("speechbrain")
    shaped.load_state_dict(plain.state_dict())
    results = []
    for detector in (plain, shaped):
        context = ContextLoss(detector, masking=BandPassMasking(seed=2), bank_size=8)
        wavs, lengths, labels = batch()
        labels = PaddedData(labels[:, None], torch.ones(6)) if detector is shaped else labels
        _, parts = context(detector, wavs, lengths, labels)
        results.append({k: float(v.detach()) for k, v in parts.items()})
    # log_softmax of log-probabilities is the identity: same losses, same KL.
    assert results[0] == pytest.approx(results[1], rel=1e-5)


def test_single_bona_fide_logit_reads_as_log_odds():
    logits = as_logits(torch.tensor([[2.0], [-1.0]]), 2)
    probabilities = torch.softmax(logits, -1)[:, 1]
    torch.testing.assert_close(probabilities, torch.sigmoid(torch.tensor([2.0, -1.0])))
    with pytest.raises(ContractError, match=r"got Tensor \[2, 3\]"):
        as_logits(torch.zeros(2, 3), 2)


@pytest.mark.parametrize(
    "shape, received, hint",
    [
        ("logits_only", "Tensor [{B}, 2]", "logits only"),
        ("swapped", "(Tensor [{B}, 2], Tensor [{B}, 4])", "return (embedding, logits)"),
        ("batch_mismatch", "(Tensor [{b}, 4], Tensor [{b}, 2])", "with B = {B}"),
        ("three", "(Tensor [{B}, 4], Tensor [{B}, 2], Tensor [{B}, 4])", "two tensors"),
    ],
)
def test_contract_errors_state_the_contract_and_what_was_received(shape, received, hint):
    detector = Shaped(shape)
    for use_inf, size in ((False, 6), (True, 12)):  # InF: both views in one batch of 12
        context = ContextLoss(detector, use_inf=use_inf, bank_size=8)
        with pytest.raises(ContractError) as error:
            context(detector, *batch())
        message = str(error.value)
        assert CONTRACT in message
        assert f"for a batch of B = {size} it returned" in message
        assert received.format(B=size, b=size - 1) in message, message
        assert hint.format(B=size) in message, message


def test_missing_embedding_dim_names_the_argument():
    with pytest.raises(ContractError, match=r"pass embedding_dim=<D>.*Shaped"):
        ContextLoss(Shaped(embedding_dim=None))
    ContextLoss(Shaped(embedding_dim=None), use_ini=False)  # only InI needs it
    ContextLoss(Shaped(embedding_dim=None), embedding_dim=4)
    with pytest.raises(ContractError, match="the embedding has 4 values, but embedding_dim is 8"):
        context = ContextLoss(Shaped(), embedding_dim=8)
        context(context.momentum_encoder.module, *batch())


def test_labels():
    assert as_labels(torch.tensor([[1], [0]])).tolist() == [1, 0]
    assert as_labels(torch.tensor([1.0, 0.0])).dtype == torch.long
    with pytest.raises(ContractError, match=r"B = 3, got Tensor \[2\]"):
        as_labels(torch.tensor([1, 0]), 3)
    with pytest.raises(ContractError, match=r"0 and 1, got \[0, 2\]"):
        as_labels(torch.tensor([0, 2]))
    with pytest.raises(ContractError, match=r"PaddedData, got \[int, int\]"):
        as_labels([0, 1])


def aam_reference(cosines, labels, margin, scale):
    """AAM-softmax cross-entropy by hand: cos(theta_y + m) for the target class."""
    total = 0.0
    for row, label in zip(cosines, labels, strict=True):
        logits = []
        for index, cosine in enumerate(row):
            if index == label:
                angle = math.acos(cosine)
                cosine = math.cos(angle + margin) if angle + margin < math.pi else (
                    cosine - math.sin(math.pi - margin) * margin)
            logits.append(scale * cosine)
        total -= logits[label] - np.log(np.sum(np.exp(logits)))
    return total / len(labels)


YAML_LOSSES = {
    "aam": """
loss: !new:speechbrain.nnet.losses.LogSoftmaxWrapper
    loss_fn: !new:speechbrain.nnet.losses.AdditiveAngularMargin
        margin: 0.2
        scale: 30
""",
    "nll": "loss: !name:speechbrain.nnet.losses.nll_loss\n",
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(YAML_LOSSES))
def test_speechbrain_losses_from_yaml(name):
    torch.manual_seed(0)
    loss = load_hyperpyyaml(YAML_LOSSES[name])["loss"]
    classifier = Classifier(8, out_neurons=2)
    detector = Detector(
        features=Fbank(n_mels=20),
        encoder=Xvector(in_channels=20, tdnn_channels=[8, 8, 8, 8, 16], lin_neurons=8),
        classifier=classifier if name == "aam" else torch.nn.Sequential(
            torch.nn.Linear(8, 2), torch.nn.LogSoftmax(-1)),
    )
    context = ContextLoss(detector, use_inf=False, use_ini=False, classification_loss_fn=loss)
    wavs, lengths, labels = batch(4)
    total, parts = context(detector, wavs, lengths, labels)
    with torch.no_grad():
        _, outputs = detector(wavs, lengths)
    if name == "aam":
        expected = aam_reference(outputs.double().tolist(), labels.tolist(), 0.2, 30)
    else:
        expected = -float(np.mean([row[y] for row, y in zip(outputs.tolist(), labels.tolist(),
                                                            strict=True)]))
    assert float(parts["cls"].detach()) == pytest.approx(expected, rel=1e-4)
    total.backward()
    assert all(p.grad is not None for p in detector.parameters())


def normalized_xvector_detector():
    torch.manual_seed(1)
    return Detector(
        features=Fbank(n_mels=20),
        normalize=InputNormalization(norm_type="global"),
        encoder=Xvector(in_channels=20, tdnn_channels=[8, 8, 8, 8, 16], lin_neurons=8),
        classifier=Classifier(8, out_neurons=2),
    )


def seeded(model, wavs, lengths):
    """Logits of a forward pass after seeding: SpeechBrain's StatisticsPooling (x-vector)
    adds Gaussian noise to the mean even in eval mode."""
    torch.manual_seed(0)
    with torch.no_grad():
        return model(wavs, lengths)[1]


@pytest.mark.slow
def test_global_input_normalization_is_followed_everywhere():
    detector = normalized_xvector_detector()
    context = ContextLoss(detector, masking=BandPassMasking(seed=1), momentum=0.5, bank_size=16)
    optimizer = torch.optim.SGD(detector.parameters(), lr=0.01)
    for seed in range(3):  # crashed at the first InI step before (empty statistics)
        optimizer.zero_grad()
        total, _ = context(detector, *batch(4, seed))
        total.backward()
        optimizer.step()
        context.after_step(detector)
    online, momentum = detector.normalize, context.momentum_encoder.module.normalize
    assert online.count > 0 and momentum.count == online.count
    torch.testing.assert_close(momentum.glob_mean, online.glob_mean)
    torch.testing.assert_close(momentum.glob_std, online.glob_std)

    # The detector's state_dict and the context's carry those statistics.
    restored = normalized_xvector_detector()
    restored.load_state_dict(copy.deepcopy(detector.state_dict()))
    assert restored.normalize.count == online.count
    torch.testing.assert_close(restored.normalize.glob_mean, online.glob_mean)
    context_copy = ContextLoss(normalized_xvector_detector(), bank_size=16)
    context_copy.load_state_dict(copy.deepcopy(context.state_dict()))
    torch.testing.assert_close(
        context_copy.momentum_encoder.module.normalize.glob_std, momentum.glob_std)
    wavs, lengths, _ = batch(3, seed=9)
    detector.eval(), restored.eval()
    torch.testing.assert_close(seeded(restored, wavs, lengths), seeded(detector, wavs, lengths))


def test_momentum_encoder_starts_from_weights_loaded_after_construction():
    detector = Shaped()
    context = ContextLoss(detector, use_inf=False, momentum=0.9, bank_size=8)
    trained = Shaped()  # e.g. a Pretrainer loading weights after the YAML was read
    detector.load_state_dict(trained.state_dict())
    context(detector, *batch())
    for mine, theirs in zip(context.momentum_encoder.module.parameters(), trained.parameters(),
                            strict=True):
        assert torch.equal(mine, theirs)


@pytest.mark.slow
def test_adapter_declares_polarity_and_keeps_hook_state():
    detector = normalized_xvector_detector()
    detector.train()
    detector(*batch(4)[:2])  # global statistics
    adapter = ContractAdapter(detector, bonafide_index=0).eval()
    wavs, lengths, _ = batch(2, seed=4)
    native = seeded(detector.eval(), wavs, lengths)
    logits = seeded(adapter, wavs, lengths)
    assert torch.equal(logits, native.flip(-1))
    other = ContractAdapter(normalized_xvector_detector(), bonafide_index=0).eval()
    other.load_state_dict(adapter.state_dict())
    torch.testing.assert_close(seeded(other, wavs, lengths), logits)
    with pytest.raises(ValueError, match="bonafide_index must be 0 or 1, got 2"):
        ContractAdapter(detector, bonafide_index=2)


def test_split_outputs_accepts_lists():
    embedding, logits = split_outputs([torch.zeros(2, 3), torch.zeros(2, 1)], 2)
    assert logits.shape == (2, 2)

