"""Detector: the generic features + encoder + classifier adapter for SpeechBrain lobes."""

import pytest
import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.lobes.features import Fbank
from speechbrain.lobes.models.ECAPA_TDNN import ECAPA_TDNN
from speechbrain.processing.features import InputNormalization

from speechbrain_ssdctx.models import Detector


def _small_ecapa(n_mels=24, dim=16):
    return ECAPA_TDNN(
        n_mels,
        lin_neurons=dim,
        channels=[16, 16, 16, 16, 48],
        attention_channels=8,
        se_channels=8,
        res2net_scale=4,
    )


def _detector(normalize=None):
    torch.manual_seed(0)
    return Detector(
        features=Fbank(n_mels=24),
        encoder=_small_ecapa(),
        classifier=torch.nn.Linear(16, 2),
        normalize=normalize,
    )


@pytest.mark.slow
@pytest.mark.parametrize("batch, samples", [(1, 8000), (3, 16000)])
def test_output_shapes_and_inferred_embedding_dim(batch, samples):
    detector = _detector().eval()
    with torch.no_grad():
        embedding, logits = detector(torch.randn(batch, samples))
    assert detector.embedding_dim == 16
    assert embedding.shape == (batch, 16) and logits.shape == (batch, 2)


def test_pipeline_matches_calling_the_lobes_by_hand():
    normalize = InputNormalization(norm_type="sentence")
    detector = _detector(normalize).eval()
    wavs, lengths = torch.randn(2, 16000), torch.tensor([1.0, 0.6])
    with torch.no_grad():
        embedding, logits = detector(wavs, lengths)
        feats = normalize(detector.features(wavs), lengths)
        expected = detector.encoder(feats, lengths)[:, 0]
    torch.testing.assert_close(embedding, expected)
    torch.testing.assert_close(logits, detector.classifier(expected))


@pytest.mark.slow
def test_lengths_reach_normalize_and_encoder():
    detector = _detector(InputNormalization(norm_type="sentence")).eval()
    wavs = torch.randn(2, 16000)
    with torch.no_grad():
        full = detector(wavs)[0]
        short = detector(wavs, torch.tensor([1.0, 0.5]))[0]
    torch.testing.assert_close(full[0], short[0])
    assert not torch.allclose(full[1], short[1])


def test_gradients_reach_every_parameter():
    detector = _detector().train()
    embedding, logits = detector(torch.randn(4, 16000))
    (logits.sum() + embedding.pow(2).sum()).backward()
    for name, param in detector.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_built_from_yaml():
    yaml = """
n_mels: 24
emb_dim: 16
detector: !new:speechbrain_ssdctx.models.Detector
    features: !new:speechbrain.lobes.features.Fbank
        n_mels: !ref <n_mels>
    normalize: !new:speechbrain.processing.features.InputNormalization
        norm_type: sentence
    encoder: !new:speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN
        input_size: !ref <n_mels>
        lin_neurons: !ref <emb_dim>
        channels: [16, 16, 16, 16, 48]
        attention_channels: 8
        se_channels: 8
        res2net_scale: 4
    classifier: !new:speechbrain.nnet.linear.Linear
        input_size: !ref <emb_dim>
        n_neurons: 2
"""
    detector = load_hyperpyyaml(yaml)["detector"].eval()
    assert detector.embedding_dim == 16
    with torch.no_grad():
        embedding, logits = detector(torch.randn(2, 16000))
    assert embedding.shape == (2, 16) and logits.shape == (2, 2)


def test_encoder_without_lengths():
    detector = Detector(
        features=Fbank(n_mels=24),
        encoder=torch.nn.Sequential(torch.nn.Flatten(), torch.nn.LazyLinear(8)),
        classifier=torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Linear(8, 2)),
        pass_lengths=False,
    )
    embedding, logits = detector(torch.randn(2, 1600))
    assert detector.embedding_dim == 8
    assert embedding.shape == (2, 8) and logits.shape == (2, 2)


def test_bad_configurations_are_rejected():
    with pytest.raises(ValueError, match="embedding_dim"):
        Detector(Fbank(n_mels=24), _small_ecapa(), torch.nn.Identity())
    detector = Detector(Fbank(n_mels=24), _small_ecapa(), torch.nn.Identity(), embedding_dim=16)
    assert detector.embedding_dim == 16
    with pytest.raises(ValueError, match=r"logits must be \[B, 2\].*got Tensor \[2, 16\]"):
        detector.eval()(torch.randn(2, 16000))
    with pytest.raises(ValueError, match=r"\[batch, time\]"):
        _detector()(torch.randn(2, 1, 16000))
    three_d = Detector(
        torch.nn.Identity(),
        torch.nn.Unflatten(1, (2, 4)),
        torch.nn.Linear(4, 2),
        pass_lengths=False,
    )
    with pytest.raises(ValueError, match=r"embedding must be \[B, D\] or \[B, 1, D\]"):
        three_d(torch.randn(2, 8))
