"""Truncated WAV files, dangling links and samples far outside [-1, 1] are not passed over."""

import os
import struct
import warnings

import numpy as np
import pytest
import soundfile
import torch

from speechbrain_ssdctx.data.audio import AudioFileError, load_audio
from speechbrain_ssdctx.data.audio_checks import AudioRangeWarning, truncated_wav
from speechbrain_ssdctx.data.audio_files import find_audio
from speechbrain_ssdctx.data.stream import AudioStream

NOISE = (np.random.default_rng(0).standard_normal(16000) * 0.1).astype(np.float32)


def cut_in_half(tmp_path, subtype):
    whole = tmp_path / f"whole_{subtype}.wav"
    soundfile.write(whole, NOISE, 16000, subtype=subtype)
    data = whole.read_bytes()
    cut = tmp_path / f"cut_{subtype}.wav"
    cut.write_bytes(data[: len(data) // 2])
    return cut


@pytest.mark.parametrize("subtype", ["PCM_16", "FLOAT"])
def test_a_truncated_wav_is_an_error_not_a_shorter_file(tmp_path, subtype):
    cut = cut_in_half(tmp_path, subtype)
    assert 0 < soundfile.info(cut).frames < 16000  # libsndfile reads it, shorter, silently
    with pytest.raises(AudioFileError, match="is truncated: its header announces"):
        load_audio(cut)
    with pytest.raises(AudioFileError, match=str(cut)):
        AudioStream(cut, 16000)


def test_complete_and_streamed_wavs_are_not_truncated(tmp_path):
    whole = tmp_path / "whole.wav"
    soundfile.write(whole, NOISE, 16000, subtype="PCM_16")
    assert truncated_wav(whole) is None
    # A WAV written to a pipe announces 0xFFFFFFFF bytes: an unknown length, not a cut.
    data = bytearray(whole.read_bytes())
    at = data.index(b"data")
    data[at + 4: at + 8] = struct.pack("<I", 0xFFFFFFFF)
    streamed = tmp_path / "streamed.wav"
    streamed.write_bytes(bytes(data))
    assert truncated_wav(streamed) is None
    assert truncated_wav("tests/fixtures/asvspoof2019_la/LA/ASVspoof2019_LA_dev/flac/"
                         "LA_D_1003356.flac") is None


def test_a_dangling_link_in_a_folder_is_found_and_fails_naming_its_target(tmp_path):
    soundfile.write(tmp_path / "a.wav", NOISE, 16000)
    os.symlink(tmp_path / "gone.wav", tmp_path / "b.wav")
    files = find_audio([tmp_path])
    assert files == [str(tmp_path / "a.wav"), str(tmp_path / "b.wav")]
    with pytest.raises(AudioFileError, match="b.wav is a dangling symbolic link to .*gone.wav"):
        AudioStream(files[1], 16000)
    with pytest.raises(AudioFileError, match="dangling symbolic link"):
        load_audio(files[1])
    with pytest.raises(FileNotFoundError, match="dangling symbolic link"):
        find_audio([tmp_path / "b.wav"])


@pytest.mark.parametrize("gain", [30, 1000])
def test_samples_far_outside_the_unit_range_are_warned_about(tmp_path, gain):
    path = tmp_path / "loud.wav"
    soundfile.write(path, NOISE * gain, 16000, subtype="FLOAT")
    first = int(np.flatnonzero(np.abs(NOISE * gain) > 2)[0]) / 16000
    with pytest.warns(AudioRangeWarning, match=rf"far outside \[-1, 1\].* at {first:.3f} s"):
        wav = load_audio(path)
    np.testing.assert_allclose(wav.numpy(), NOISE * gain, rtol=1e-6)  # still read as it is
    stream = AudioStream(path, 16000, block_seconds=0.25)
    torch.cat(list(stream))
    assert len(stream.warnings) == 1 and "loud.wav holds samples far outside" in stream.warnings[0]


def test_mild_overs_and_integer_audio_give_no_warning(tmp_path):
    soundfile.write(tmp_path / "over.wav", np.clip(NOISE * 15, -1.5, 1.5), 16000, subtype="FLOAT")
    soundfile.write(tmp_path / "int.wav", np.clip(NOISE * 30, -1, 1), 16000, subtype="PCM_16")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in ("over.wav", "int.wav"):
            load_audio(tmp_path / name)
            stream = AudioStream(tmp_path / name, 16000)
            list(stream)
            assert stream.warnings == []
