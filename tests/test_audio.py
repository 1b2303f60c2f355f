"""Audio reading, cropping, padding and evaluation windows on the real edge-case files."""

from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from speechbrain_ssdctx.data.audio import (
    OFFICIAL_NUM_SAMPLES,
    AudioFileError,
    apply_window,
    crop_or_pad,
    load_audio,
)

EDGE = Path(__file__).parent / "fixtures" / "edge_cases"


@pytest.mark.parametrize(
    "name, message",
    [
        ("corrupt_truncated.flac", "Cannot read"),
        ("not_audio.flac", "Cannot read"),
        ("empty.wav", "Cannot read"),
        ("ljspeech_22050hz.wav", "22050 Hz, expected 16000"),
    ],
)
def test_bad_files_raise_naming_the_file(name, message):
    with pytest.raises(AudioFileError, match=message) as error:
        load_audio(EDGE / name)
    assert name in str(error.value)


def test_stereo_is_mixed_down_to_the_channel_mean():
    data, _ = soundfile.read(EDGE / "stereo_16k.wav", dtype="float32")
    wav = load_audio(EDGE / "stereo_16k.wav")
    assert wav.dtype == torch.float32 and wav.dim() == 1
    np.testing.assert_allclose(wav.numpy(), data.mean(axis=1), atol=1e-7)


def test_resampling_on_request():
    wav = load_audio(EDGE / "ljspeech_22050hz.wav", resample=True)
    assert wav.numel() == int(np.ceil(168861 * 16000 / 22050))


def test_short_and_silent_files_load():
    assert load_audio(EDGE / "very_short_0p1s_16k.wav").numel() == 1600
    assert torch.count_nonzero(load_audio(EDGE / "silence_1s_16k.wav")) == 0


def test_repeat_padding_matches_numpy_tile():
    wav = load_audio(EDGE / "very_short_0p1s_16k.wav")
    expected = np.tile(wav.numpy(), 100)[:96000]
    np.testing.assert_array_equal(crop_or_pad(wav, 96000).numpy(), expected)


def test_random_crop_is_a_slice_and_covers_both_ends():
    wav = torch.arange(10.0)
    generator = torch.Generator().manual_seed(0)
    starts = set()
    for _ in range(300):
        crop = crop_or_pad(wav, 7, generator=generator)
        start = int(crop[0])
        assert crop.tolist() == list(range(start, start + 7))
        starts.add(start)
    assert starts == {0, 1, 2, 3}


def test_crop_is_reproducible_with_a_generator():
    wav = torch.randn(50000)
    first = crop_or_pad(wav, 16000, generator=torch.Generator().manual_seed(1))
    second = crop_or_pad(wav, 16000, generator=torch.Generator().manual_seed(1))
    assert torch.equal(first, second)


def test_official_policy_is_the_first_64600_samples_repeat_padded():
    long = torch.randn(100000)
    assert torch.equal(apply_window(long, "official"), long[:OFFICIAL_NUM_SAMPLES])
    short = torch.randn(16000)
    expected = np.tile(short.numpy(), 5)[:64600]
    np.testing.assert_array_equal(apply_window(short, "official").numpy(), expected)


def test_first_and_full_policies():
    wav = torch.randn(32000)
    assert torch.equal(apply_window(wav, "first", num_samples=16000), wav[:16000])
    assert torch.equal(apply_window(wav, "full"), wav)


@pytest.mark.parametrize(
    "policy, num_samples, message",
    [
        ("middle", None, "Unknown evaluation policy"),
        ("first", None, "needs num_samples"),
        ("official", 100, 'only for the "first" policy'),
    ],
)
def test_bad_policies(policy, num_samples, message):
    with pytest.raises(ValueError, match=message):
        apply_window(torch.ones(10), policy, num_samples)


def test_empty_waveform_is_rejected():
    with pytest.raises(ValueError, match="non-empty"):
        crop_or_pad(torch.zeros(0), 10)
