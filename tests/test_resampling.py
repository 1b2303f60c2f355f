"""Resampling any rate in bounded memory: torchaudio's filter, polyphase."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.signal
import soundfile
import torch
import torchaudio

from speechbrain_ssdctx.data.audio import load_audio
from speechbrain_ssdctx.data.resampling import Resampler
from speechbrain_ssdctx.data.stream import AudioStream

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("rate", [8000, 11025, 22050, 44100, 48000, 96000])
def test_equals_torchaudio_for_the_usual_rates(rate):
    wav = torch.rand(2 * rate + 37, generator=torch.Generator().manual_seed(rate)) * 2 - 1
    expected = torchaudio.transforms.Resample(rate, 16000)(wav)
    got = Resampler(rate, 16000)(wav)
    assert got.shape == expected.shape
    # torchaudio evaluates its filter's instants in float32: differences of 3e-5 at most,
    # the size of one 16-bit step.
    torch.testing.assert_close(got, expected, atol=5e-5, rtol=0)


def test_upsampling_and_leading_dimensions_equal_torchaudio():
    wav = torch.rand(3, 2, 16000 + 5, generator=torch.Generator().manual_seed(0))
    expected = torchaudio.functional.resample(wav, 16000, 44100)
    torch.testing.assert_close(Resampler(16000, 44100)(wav), expected, atol=5e-5, rtol=0)


@pytest.mark.parametrize("frequency", [440.0, 1000.0, 3000.0])
def test_a_prime_rate_keeps_a_sine_where_it_was(frequency):
    rate = 44101  # prime: gcd with 16 kHz is 1
    x = np.sin(2 * np.pi * frequency * np.arange(rate // 2) / rate)
    y = Resampler(rate, 16000)(torch.tensor(x, dtype=torch.float32)).numpy()
    assert y.size == int(np.ceil(x.size * 16000 / rate))
    inner = slice(100, y.size - 100)  # away from the zero padding at the edges
    analytic = np.sin(2 * np.pi * frequency * np.arange(y.size) / 16000)
    np.testing.assert_allclose(y[inner], analytic[inner], atol=1e-3)
    # scipy's polyphase resampler (a Kaiser-windowed filter) with the exact ratio.
    reference = scipy.signal.resample_poly(x, 16000, rate)[: y.size]
    np.testing.assert_allclose(y[inner], reference[inner], atol=3e-3)


def test_a_prime_rate_removes_what_is_above_the_new_nyquist():
    rate = 44101
    x = np.sin(2 * np.pi * 10000 * np.arange(rate // 2) / rate)
    y = Resampler(rate, 16000)(torch.tensor(x, dtype=torch.float32)).numpy()
    assert np.sqrt(np.mean(y[100:-100] ** 2)) < 0.01  # from 0.71: -37 dB at least


@pytest.mark.parametrize("rate", [44101, 16001, 7919, 96001, 192007])
def test_the_filter_grows_with_the_rates_not_with_their_gcd(rate):
    resampler = Resampler(rate, 16000)
    # torchaudio's kernel has out x (in + 2 width) taps: 16000 x 44135 for 44,101 Hz.
    assert resampler.kernel.numel() <= 15 * max(rate, 16000)


SCRIPT = """
import re, resource, sys, torch
torch.set_num_threads(1)
from speechbrain_ssdctx.data.audio import load_audio
from speechbrain_ssdctx.data.stream import AudioStream
status = open("/proc/self/status").read()
size = int(re.search(r"VmSize:\\s+(\\d+) kB", status).group(1)) * 1024
resource.setrlimit(resource.RLIMIT_AS, (size + 512 * 2**20, resource.RLIM_INFINITY))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
streamed = torch.cat(list(AudioStream(sys.argv[1], 16000)))
whole = load_audio(sys.argv[1], 16000, resample=True)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(streamed.numel(), whole.numel(), (after - before) // 1024)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc, sets RLIMIT_AS")
def test_a_short_file_at_a_prime_rate_needs_little_memory(tmp_path):
    """0.2 s at 44,101 Hz: torchaudio's kernel alone is 2.8 GB; here the process may not
    grow by more than 512 MB of address space (and its resident set grows by a few MB)."""
    path = tmp_path / "prime.wav"
    soundfile.write(path, np.full(8820, 0.1, dtype=np.float32), 44101)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(path)], capture_output=True, text=True,
        cwd=ROOT, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    streamed, whole, grown_mb = map(int, done.stdout.split())
    assert streamed == whole == 3200
    assert grown_mb < 100


def test_stream_and_whole_file_agree_at_a_prime_rate(tmp_path):
    path = tmp_path / "prime.wav"
    rng = np.random.default_rng(0)
    soundfile.write(path, (rng.random(44101 * 2) - 0.5).astype(np.float32), 44101,
                    subtype="FLOAT")
    streamed = torch.cat(list(AudioStream(path, 16000, block_seconds=0.7)))
    whole = load_audio(path, 16000, resample=True)
    assert streamed.shape == whole.shape
    torch.testing.assert_close(streamed, whole, atol=1e-5, rtol=0)


def test_rates_must_be_positive_integers():
    with pytest.raises(ValueError, match="positive integers"):
        Resampler(44100.5, 16000)
    with pytest.raises(ValueError, match="positive integers"):
        Resampler(0, 16000)
