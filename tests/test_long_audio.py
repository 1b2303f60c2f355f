"""Long audio: streamed reading, sliding windows, length-grouped batches, bad samples."""

import math
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from tiny_detector import load, reference_logits

from speechbrain_ssdctx.data.audio import AudioFileError, load_audio
from speechbrain_ssdctx.data.stream import AudioStream

EDGE = Path(__file__).parent / "fixtures" / "edge_cases"
RATE = 16000


def write_noise(path: Path, seconds: float, rate: int = RATE, seed: int = 0, channels=1) -> Path:
    rng = np.random.default_rng(seed)
    data = (0.1 + rng.random((int(seconds * rate), channels))) * 0.3
    soundfile.write(path, data.astype(np.float32), rate, subtype="FLOAT")
    return path


def naive_windows(wav: torch.Tensor, window: int, hop: int) -> list[int]:
    """Window starts: every hop while a whole window fits, plus one ending at the end."""
    starts = list(range(0, len(wav) - window + 1, hop))
    if starts[-1] + window < len(wav):
        starts.append(len(wav) - window)
    return starts


@pytest.mark.slow
@pytest.mark.parametrize(("rate", "block"), [(22050, 0.05), (44100, 0.5), (8000, 0.37),
                                              (16000, 0.1)])
def test_stream_equals_whole_file_reading(tmp_path, rate, block):
    path = write_noise(tmp_path / "x.wav", 2.3, rate, channels=2)
    whole = load_audio(path, RATE, resample=True)
    stream = AudioStream(path, RATE, block_seconds=block)
    blocks = list(stream)
    assert max(b.numel() for b in blocks) <= math.ceil(block * RATE) + 160
    streamed = torch.cat(blocks)
    assert streamed.shape == whole.shape and stream.num_samples == whole.numel()
    # Equal up to float rounding (the 16-bit quantum is 3e-5).
    torch.testing.assert_close(streamed, whole, atol=1e-5, rtol=0)


def test_full_policy_scores_with_sliding_windows_like_a_naive_loop(tmp_path):
    detector = load(tmp_path / "model")  # stored policy "full": 1 s windows, 0.5 s hop
    assert detector.window_policy == "sliding"
    path = write_noise(tmp_path / "long.wav", 10.3)
    wav = load_audio(path)
    (result,) = detector.score_each([path], batch_size=3, window_scores=True)
    starts = naive_windows(wav, RATE, RATE // 2)
    expected = torch.stack([reference_logits(wav[s: s + RATE]) for s in starts])
    assert [w.start for w in result.windows] == [s / RATE for s in starts]
    assert result.windows[-1].end == pytest.approx(len(wav) / RATE)
    np.testing.assert_allclose([w.score for w in result.windows], expected[:, 1], rtol=1e-5)
    assert result.score == pytest.approx(float(expected[:, 1].mean()), rel=1e-5)
    detector.set_window(aggregate="min")
    assert detector.score_file(path) == pytest.approx(float(expected[:, 1].min()), rel=1e-5)

    # Explicitly "full": the whole file in one window.
    detector.set_window("full")
    assert detector.score_file(path) == pytest.approx(float(reference_logits(wav)[1]), rel=1e-5)


def test_short_file_is_scored_whole_and_batches_are_never_padded(tmp_path):
    detector = load(tmp_path / "model", window=2.0, hop=1.0)
    paths = [write_noise(tmp_path / f"{name}.wav", seconds, seed=i) for i, (name, seconds) in
             enumerate([("long", 7.7), ("short", 0.6), ("mid", 1.3), ("short2", 0.6)])]
    alone = [detector.score_file(p) for p in paths]
    wav = load_audio(paths[1])
    assert alone[1] == pytest.approx(float(reference_logits(wav)[1]), rel=1e-5)

    detector.mods.detector.shapes.clear()
    together = [r.score for r in detector.score_each(paths, batch_size=8)]
    np.testing.assert_allclose(together, alone, rtol=1e-6)
    shapes = detector.mods.detector.shapes
    # Equal lengths only: the two 0.6 s files together, the 1.3 s one alone, the long
    # file's 2 s windows together; at most 8 windows of at most one window each.
    assert (2, 9600) in shapes and (1, 20800) in shapes
    assert all(rows <= 8 and length <= 2 * RATE for rows, length in shapes)


@pytest.mark.slow
def test_long_file_is_read_and_scored_in_bounded_pieces(tmp_path):
    detector = load(tmp_path / "model")
    path = write_noise(tmp_path / "long.wav", 120.0)
    detector.mods.detector.shapes.clear()
    (result,) = detector.score_each([path], batch_size=4, window_scores=True)
    assert len(result.windows) == 239
    assert max(rows * length for rows, length in detector.mods.detector.shapes) <= 4 * RATE


def test_nan_and_inf_samples_and_scores_are_failures_of_their_file(tmp_path):
    detector = load(tmp_path / "model")
    good = write_noise(tmp_path / "good.wav", 3.0)
    data = soundfile.read(good, dtype="float32")[0]
    data[20000] = np.nan
    soundfile.write(tmp_path / "nan.wav", data, RATE, subtype="FLOAT")
    data[20000] = np.inf
    soundfile.write(tmp_path / "inf.wav", data, RATE, subtype="FLOAT")
    soundfile.write(tmp_path / "silent.wav", np.zeros(RATE, dtype=np.float32), RATE)
    paths = [tmp_path / f"{n}.wav" for n in ("nan", "good", "inf", "silent")]
    results = list(detector.score_each(paths, batch_size=2))
    assert [r.path for r in results] == [str(p) for p in paths]
    assert results[1].error is None
    assert results[1].score == pytest.approx(detector.score_file(good))
    assert "nan.wav holds NaN or infinite samples (first at 1.250 s)" in results[0].error
    assert "inf.wav holds NaN or infinite samples" in results[2].error
    assert "silent.wav: the detector gave a non-finite score (-inf)" in results[3].error
    assert all(r.score is None for r in (results[0], results[2], results[3]))
    with pytest.raises(AudioFileError, match="nan.wav"):
        detector.score_file(paths[0])


@pytest.mark.slow
def test_bundled_model_keeps_its_official_window_on_long_files(tmp_path):
    from speechbrain_ssdctx.inference.spoof_detector import SpoofDetector

    detector = SpoofDetector.from_hparams("aasist-l")
    assert detector.window_policy == "official"
    path = write_noise(tmp_path / "long.wav", 30.0)
    wav = load_audio(path)
    expected = float(detector.score_batch(wav[:64600][None])[0])  # the first 64,600 samples
    assert detector.score_file(path) == pytest.approx(expected, abs=1e-5)
    with pytest.raises(ValueError, match="hop must be in"):
        detector.set_window("sliding", window_seconds=1.0, hop_seconds=2.0)


def test_in_memory_batch_uses_the_same_windows(tmp_path):
    detector = load(tmp_path / "model")
    wavs = torch.rand(2, RATE * 5) * 0.5 + 0.1
    lengths = torch.tensor([1.0, 0.5])
    scores = detector.score_batch(wavs, lengths)
    for row, n in enumerate((RATE * 5, RATE * 5 // 2)):
        wav = wavs[row, :n]
        logits = torch.stack([reference_logits(wav[s: s + RATE])
                              for s in naive_windows(wav, RATE, RATE // 2)])
        assert float(scores[row]) == pytest.approx(float(logits[:, 1].mean()), rel=1e-5)
