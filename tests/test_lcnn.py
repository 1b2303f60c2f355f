"""LCNN: front end against an independent computation, layout, pooling, training."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import torchaudio

from speechbrain_ssdctx.models import LCNN
from speechbrain_ssdctx.models.lcnn import MaxFeatureMap

FIXTURES = Path(__file__).parent / "fixtures"


def _mel_filters_naive(n_mels, n_fft=512, sample_rate=16000):
    """SpeechBrain's triangular Mel filters, one frequency bin at a time: centres equally
    spaced on the mel scale, each triangle symmetric in Hz with its lower half-width."""

    def mel(hz):
        return 2595.0 * np.log10(1.0 + hz / 700.0)

    def hz(m):
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)

    points = hz(np.linspace(mel(0.0), mel(sample_rate / 2), n_mels + 2))
    freqs = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)
    filters = np.zeros((n_mels, len(freqs)))
    for m in range(n_mels):
        centre, half_width = points[m + 1], points[m + 1] - points[m]
        for k, f in enumerate(freqs):
            filters[m, k] = max(0.0, 1.0 - abs(f - centre) / half_width)
    return torch.from_numpy(filters).float()


@pytest.mark.parametrize("n_mels", [64, 40])
def test_features_match_torchaudio_on_real_speech(n_mels):
    wav, rate = sf.read(FIXTURES / "speech" / "bonafide" / "cmuarctic_a0007.flac", dtype="float32")
    assert rate == 16000
    wav = torch.from_numpy(wav)[None, :32000]
    power = torchaudio.transforms.Spectrogram(
        n_fft=512,
        win_length=512,
        hop_length=128,
        window_fn=torch.hamming_window,
        power=2.0,
        pad_mode="constant",
    )(wav)  # [1, 257, frames]
    energies = _mel_filters_naive(n_mels) @ power[0]
    static = torchaudio.functional.amplitude_to_DB(
        energies, multiplier=10.0, amin=1e-10, db_multiplier=0.0, top_db=80.0
    )
    delta = torchaudio.functional.compute_deltas(static, win_length=5)
    delta2 = torchaudio.functional.compute_deltas(delta, win_length=5)
    expected = torch.stack([static, delta, delta2])

    feats = LCNN(n_mels=n_mels).compute_features(wav)[0]
    assert feats.shape == (3, n_mels, 32000 // 128 + 1)
    torch.testing.assert_close(feats, expected, atol=1e-3, rtol=0)  # dB


def test_layout_parameter_count():
    """The documented layout, counted layer by layer (weights + biases)."""
    convs = [(3, 64, 5), (32, 64, 1), (32, 96, 3), (48, 96, 1), (48, 128, 3), (64, 128, 1)]
    convs += [(64, 64, 3), (32, 64, 1), (32, 64, 3)]
    count = sum(c_in * c_out * k * k + c_out for c_in, c_out, k in convs)
    count += 2 * (3 * 64)  # input normalisation
    count += 2 * (32 + 48 + 48 + 64 + 32 + 32)  # batch norms in the body
    count += (32 * 4) * 160 + 160 + 2 * 80 + 80 * 2 + 2  # FC 160, MFM, BN 80, FC 2
    model = LCNN(n_mels=64, embedding_dim=80)
    assert sum(p.numel() for p in model.parameters()) == count


@pytest.mark.parametrize("batch, samples", [(1, 4000), (3, 16000), (2, 96000)])
def test_output_shapes(batch, samples):
    model = LCNN(embedding_dim=48).eval()
    with torch.no_grad():
        embedding, logits = model(torch.randn(batch, samples))
    assert embedding.shape == (batch, 48) and logits.shape == (batch, 2)
    assert model.embedding_dim == 48


@pytest.mark.parametrize("pooling", ["mean", "max"])
def test_pooling_over_valid_frames_matches_a_loop(pooling):
    model = LCNN(n_mels=32, pooling=pooling)
    frames = torch.randn(3, 10, 8)
    lengths = torch.tensor([1.0, 0.5, 0.04])
    pooled = model._pool(frames, lengths)
    for i, count in enumerate([10, 5, 1]):
        valid = frames[i, :count]
        expected = valid.mean(dim=0) if pooling == "mean" else valid.max(dim=0).values
        torch.testing.assert_close(pooled[i], expected)
    torch.testing.assert_close(model._pool(frames, None), model._pool(frames, torch.ones(3)))


@pytest.mark.slow
def test_lengths_exclude_padding_from_the_embedding():
    torch.manual_seed(0)
    model = LCNN(n_mels=32).eval()
    wavs = torch.randn(2, 32000)
    wavs[1, 16000:] = 0.0
    with torch.no_grad():
        full = model(wavs)[0]
        masked = model(wavs, torch.tensor([1.0, 0.5]))[0]
    torch.testing.assert_close(full[0], masked[0])
    assert not torch.allclose(full[1], masked[1])


def test_max_feature_map():
    x = torch.tensor([[[[1.0]], [[-2.0]], [[0.5]], [[3.0]]]])  # [1, 4, 1, 1]
    assert MaxFeatureMap()(x).flatten().tolist() == [1.0, 3.0]


def test_bad_arguments_and_inputs_are_rejected():
    with pytest.raises(ValueError, match="pooling"):
        LCNN(pooling="attention")
    with pytest.raises(ValueError, match="n_mels"):
        LCNN(n_mels=8)
    with pytest.raises(ValueError, match=r"\[batch, time\]"):
        LCNN(n_mels=32)(torch.randn(2, 1, 16000))
    with pytest.raises(ValueError, match="too short"):
        LCNN(n_mels=32).eval()(torch.randn(1, 1000))


@pytest.mark.slow
def test_gradients_reach_every_parameter():
    torch.manual_seed(0)
    model = LCNN(n_mels=32).train()
    embedding, logits = model(torch.randn(4, 16000), torch.tensor([1.0, 0.9, 0.8, 0.7]))
    (logits.sum() + embedding.pow(2).sum()).backward()
    for name, param in model.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


@pytest.mark.slow
def test_overfits_a_tiny_real_batch():
    files = {
        "bonafide/vctk_p225_001_mic1.flac": 1,
        "bonafide/sbasr_spk1_snt1.flac": 1,
        "spoof/hifigan_2427-154671-0013_gen.flac": 0,
        "spoof/nsf_hn-nsf_bdl_arctic_b0474.flac": 0,
    }
    speech = FIXTURES / "speech"
    crops = [sf.read(speech / f, dtype="float32")[0][8000:16000] for f in files]  # 0.5 s
    wavs, labels = torch.from_numpy(np.stack(crops)), torch.tensor(list(files.values()))
    torch.manual_seed(0)
    model = LCNN().train()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    torch.set_flush_denormal(True)  # denormal activations late in training: 4x slower steps
    try:
        for _ in range(40):
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(wavs)[1], labels)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    finally:
        torch.set_flush_denormal(False)  # torch's default
    model.eval()
    with torch.no_grad():
        final = torch.nn.functional.cross_entropy(model(wavs)[1], labels)
    assert losses[0] > 0.3
    assert final < 0.05


class _ZeroAndRecord(torch.nn.Module):
    """A feature augmentation that records its input shape and zeroes everything."""

    def forward(self, feats):
        self.shape = tuple(feats.shape)
        return torch.zeros_like(feats)


def test_feature_augment_applies_in_training_only_and_before_the_deltas():
    augment = _ZeroAndRecord()
    model = LCNN(n_mels=32, feature_augment=augment)
    wavs = torch.randn(2, 8000)
    feats = model.train().compute_features(wavs)
    assert augment.shape == (2, feats.shape[-1], 32)  # static [batch, frames, mels]
    assert torch.count_nonzero(feats) == 0  # zero statics give zero deltas too
    assert torch.count_nonzero(model.eval().compute_features(wavs)) > 0


def test_features_stay_float32_under_bf16_autocast():
    model = LCNN(n_mels=32).train()
    wavs = torch.randn(2, 8000)
    plain = model.compute_features(wavs)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = model.compute_features(wavs)
        _, logits = model(wavs)
    assert mixed.dtype == torch.float32 and torch.equal(mixed, plain)
    assert logits.dtype == torch.bfloat16  # the network after the features follows autocast
