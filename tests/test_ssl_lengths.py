"""The SSL path masks padding: a padded utterance gets the embedding it gets alone.

A wav2vec 2.0 front end attends over the whole padded row unless it is given the
relative lengths (its attention mask), and standardising the waveform over the padded row
takes the zeros in: either way a short utterance's embedding depends on its batch. The
tiny wav2vec 2.0 of ``tests/ssl_utils.py`` is built offline.
"""

import pytest
import torch
from speechbrain.lobes.features import Fbank
from torch import nn

from speechbrain_ssdctx.models import Detector, SSLDetector
from speechbrain_ssdctx.models.detector import lengths_argument
from speechbrain_ssdctx.models.ssl import LayerPoolingHead, SSLEncoder, write_model_files

transformers = pytest.importorskip("transformers")
from ssl_utils import build_tiny_ssl_model  # noqa: E402

# 325 samples give the tiny model's first frame, each 320 more one frame (strides 5x8x8):
# 100 frames and 50 frames, so relative lengths land on whole frames.
FULL, HALF = 325 + 320 * 99, 325 + 320 * 49


class MeanPooling(nn.Module):
    """The mean of each row's valid frames (a loop: independent of the code under test)."""

    def forward(self, feats, lengths):
        frames = [int(round(float(length) * feats.shape[1])) for length in lengths]
        return torch.stack([row[:count].mean(0) for row, count in zip(feats, frames, strict=True)])


def half_padded_batch(seed=0):
    """Two utterances, the second half as long, right-padded with zeros."""
    generator = torch.Generator().manual_seed(seed)
    long, short = 0.1 * torch.randn(FULL, generator=generator), 0.1 * torch.randn(
        HALF, generator=generator
    )
    batch = torch.zeros(2, FULL)
    batch[0], batch[1, :HALF] = long, short
    return batch, torch.tensor([1.0, HALF / FULL]), [long, short]


def assert_each_as_alone(detector):
    batch, lengths, alone = half_padded_batch()
    with torch.no_grad():
        together, _ = detector(batch, lengths)
        for row, wav in enumerate(alone):
            embedding, _ = detector(wav.unsqueeze(0), torch.ones(1))
            torch.testing.assert_close(together[row], embedding[0], atol=1e-5, rtol=0)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build_tiny_ssl_model(tmp_path_factory.mktemp("ssl") / "wav2vec2")


def speechbrain_lobe(folder):
    try:
        from speechbrain.integrations.huggingface.wav2vec2 import Wav2Vec2
    except ImportError:  # SpeechBrain 1.0
        from speechbrain.lobes.models.huggingface_transformers.wav2vec2 import Wav2Vec2
    return Wav2Vec2(str(folder), str(folder), freeze=True)


def test_detector_passes_lengths_to_a_huggingface_lobe(tiny, tmp_path):
    """The IEMOCAP wav2vec2 recipe's front end: SpeechBrain's lobe (``wav_lens``)."""
    folder = build_tiny_ssl_model(tmp_path / "raw")
    write_model_files(folder, None, do_normalize=False)  # the lobe normalises padded rows
    lobe = speechbrain_lobe(folder)
    detector = Detector(lobe, MeanPooling(), nn.Linear(32, 2)).eval()
    assert detector.features_lengths_arg == "wav_lens"
    assert_each_as_alone(detector)


def test_detector_passes_lengths_to_the_package_encoder(tiny):
    """``SSLEncoder`` (``lengths``), standardising each row over its valid samples."""

    class LastLayer(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = SSLEncoder(str(tiny))  # do_normalize: true

        def forward(self, wavs, lengths=None):
            return self.encoder(wavs, lengths)[-1]

    detector = Detector(LastLayer(), MeanPooling(), nn.Linear(32, 2)).eval()
    assert detector.features_lengths_arg == "lengths"
    assert_each_as_alone(detector)


def test_ssl_detector_standardises_over_the_valid_samples(tiny):
    detector = SSLDetector(SSLEncoder(str(tiny)), LayerPoolingHead).eval()
    assert detector.ssl.normalize_wav
    assert_each_as_alone(detector)


def test_front_ends_without_lengths_get_the_waveforms_only():
    assert lengths_argument(Fbank()) is None
    detector = Detector(Fbank(n_mels=20), MeanPooling(), nn.Linear(20, 2))
    embedding, _ = detector(torch.randn(2, 4000), torch.tensor([1.0, 0.5]))
    assert embedding.shape == (2, 20)
