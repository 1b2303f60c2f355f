"""SpoofDetector: bundled official AASIST models, own audio, edge cases, errors."""

import functools
import pathlib

import numpy as np
import pytest
import soundfile
import torch

from speechbrain_ssdctx.data.audio import AudioFileError
from speechbrain_ssdctx.inference import SpoofDetector, bundled_models_dir
from speechbrain_ssdctx.models import AASIST

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
LA = FIXTURES / "asvspoof2019_la" / "LA"
BONAFIDE = LA / "ASVspoof2019_LA_train" / "flac" / "LA_T_1272637.flac"
SPOOFS = [
    LA / "ASVspoof2019_LA_dev" / "flac" / "LA_D_1003356.flac",
    LA / "ASVspoof2019_LA_eval" / "flac" / "LA_E_6163791.flac",
]
EDGE = FIXTURES / "edge_cases"
REFERENCE = FIXTURES / "aasist_official" / "reference_outputs.npz"
OFFICIAL_SAMPLES = 64600


@pytest.fixture(scope="module")
def aasist_l():
    return SpoofDetector.from_hparams("aasist-l")


def official_window(wav: np.ndarray) -> np.ndarray:
    """The official AASIST evaluation input: first 64,600 samples, tiled when shorter."""
    repeats = OFFICIAL_SAMPLES // len(wav) + 1
    return np.tile(wav, repeats)[:OFFICIAL_SAMPLES]


@functools.cache
def official_model(weights: str) -> AASIST:
    """The official weights in the AASIST port, without the inference interface."""
    return AASIST.from_official_checkpoint(bundled_models_dir() / weights)


def direct_logits(weights: str, wav: np.ndarray) -> torch.Tensor:
    """Logits of the official weights called directly (no interface, no data module)."""
    with torch.no_grad():
        return official_model(weights)(torch.from_numpy(official_window(wav)).float()[None])[1][0]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "key"), [("aasist", "AASIST"), ("aasist-l", "AASIST_L")])
def test_bundled_reproduce_official_reference(name, key):
    detector = SpoofDetector.from_hparams(name)
    reference = np.load(REFERENCE)
    for inputs in ("a_randn", "b_sine440"):
        wavs = torch.from_numpy(reference[f"input__{inputs}"])
        embeddings, logits = detector(wavs)
        prefix = f"{key}__{inputs}__"
        np.testing.assert_allclose(logits.numpy(), reference[prefix + "logits"], atol=1e-4)
        np.testing.assert_allclose(embeddings.numpy(), reference[prefix + "last_hidden"], atol=1e-4)
        scores = detector.scores_from_logits(logits).numpy()
        np.testing.assert_allclose(scores, reference[prefix + "score"], atol=1e-4)
    wavs = torch.from_numpy(reference["input__b_sine440"])
    expected = reference[f"{key}__b_sine440__score"]
    np.testing.assert_allclose(detector.score_batch(wavs).numpy(), expected, atol=1e-4)


@pytest.mark.slow
def test_bundled_aasist_real_utterances_equal_official_code():
    detector = SpoofDetector.from_hparams("aasist")
    scores = {path.stem: detector.score_file(path) for path in [BONAFIDE, *SPOOFS]}
    assert scores[BONAFIDE.stem] > max(scores[path.stem] for path in SPOOFS)
    for path in [BONAFIDE, *SPOOFS]:
        wav, rate = soundfile.read(path, dtype="float32")
        assert rate == 16000
        expected = float(direct_logits("AASIST.pth", wav)[1])
        assert scores[path.stem] == pytest.approx(expected, abs=1e-4)
    decision = detector.classify_file(BONAFIDE)
    assert decision.label == "bonafide" and decision.score == pytest.approx(scores[BONAFIDE.stem])
    assert decision.threshold == 0.0
    assert detector.classify_file(SPOOFS[0]).label == "spoof"


@pytest.mark.slow
def test_classify_probability_is_softmax(aasist_l):
    decision = aasist_l.classify_file(SPOOFS[1])
    wav, _ = soundfile.read(SPOOFS[1], dtype="float32")
    logits = direct_logits("AASIST-L.pth", wav).double()
    expected = float(torch.exp(logits[1]) / torch.exp(logits).sum())
    assert decision.prob_bonafide == pytest.approx(expected, abs=1e-5)
    assert decision.score == pytest.approx(float(logits[1]), abs=1e-4)
    assert decision.is_bonafide == (decision.score >= aasist_l.threshold)


@pytest.mark.slow
def test_stereo_is_mixed_down(aasist_l):
    data, rate = soundfile.read(EDGE / "stereo_16k.wav", dtype="float32", always_2d=True)
    assert data.shape[1] == 2 and rate == 16000
    expected = float(direct_logits("AASIST-L.pth", data.mean(axis=1))[1])
    assert aasist_l.score_file(EDGE / "stereo_16k.wav") == pytest.approx(expected, abs=1e-4)


@pytest.mark.slow
def test_other_sample_rate_is_resampled(aasist_l):
    path = EDGE / "ljspeech_22050hz.wav"
    assert soundfile.info(path).samplerate == 22050
    wav = aasist_l.load_audio(path)
    expected_len = round(soundfile.info(path).frames * 16000 / 22050)
    assert abs(wav.numel() - expected_len) <= 1
    assert np.isfinite(aasist_l.score_file(path))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["very_short_0p1s_16k.wav", "silence_1s_16k.wav"])
def test_short_and_silent_inputs_score(aasist_l, name):
    wav, _ = soundfile.read(EDGE / name, dtype="float32")
    expected = float(direct_logits("AASIST-L.pth", wav)[1])
    assert aasist_l.score_file(EDGE / name) == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize(
    "name", ["corrupt_truncated.flac", "empty.wav", "not_audio.flac", "missing.wav"]
)
def test_bad_files_raise_naming_the_file(aasist_l, name):
    with pytest.raises(AudioFileError, match=name):
        aasist_l.score_file(EDGE / name)


@pytest.mark.slow
def test_score_batch_drops_padding_before_windowing(aasist_l):
    short, _ = soundfile.read(EDGE / "very_short_0p1s_16k.wav", dtype="float32")
    long, _ = soundfile.read(BONAFIDE, dtype="float32")
    batch = torch.zeros(2, len(long))
    batch[0, : len(short)] = torch.from_numpy(short)
    batch[1] = torch.from_numpy(long)
    scores = aasist_l.score_batch(batch, torch.tensor([len(short) / len(long), 1.0]))
    expected = [float(direct_logits("AASIST-L.pth", wav)[1]) for wav in (short, long)]
    np.testing.assert_allclose(scores.numpy(), expected, atol=1e-4)


@pytest.mark.slow
def test_score_files_batches_like_single_files(aasist_l):
    paths = [EDGE / "very_short_0p1s_16k.wav", BONAFIDE]
    batched = dict(aasist_l.score_files(paths, batch_size=2))
    for path in paths:
        assert batched[str(path)] == pytest.approx(aasist_l.score_file(path), abs=1e-4)


def test_unknown_sources_fail_without_going_online(tmp_path):
    with pytest.raises(FileNotFoundError, match="neither a folder"):
        SpoofDetector.from_hparams(str(tmp_path / "no_such_model"))
    with pytest.raises(FileNotFoundError, match="has no 'hyperparams.yaml'"):
        SpoofDetector.from_hparams(tmp_path)
