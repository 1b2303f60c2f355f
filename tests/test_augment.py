"""Tests of BandPassMasking against independent computations (scipy, numpy)."""

import numpy as np
import pytest
import scipy.signal
import scipy.stats
import torch
from speechbrain.augment.augmenter import Augmenter

from speechbrain_ssdctx.method.masking import (
    BandPassMasking,
    design_bandpass,
    draw_low_freqs,
    fir_filter_batch,
    fir_filter_same,
)

FS = 16000
EDGES = [160.0, 161.0, 167.0, 275.0, 1000.0, 2020.0, 3080.0, 4321.0, 5000.0, 5833.0, 5840.0]


def band_energy(signal: np.ndarray, lo: float, hi: float) -> float:
    """Energy of ``signal`` between ``lo`` and ``hi`` Hz, from its numpy FFT."""
    spectrum = np.abs(np.fft.rfft(signal)) ** 2
    freqs = np.fft.rfftfreq(len(signal), 1 / FS)
    return float(spectrum[(freqs >= lo) & (freqs <= hi)].sum())


@pytest.fixture(scope="module")
def masking():
    return BandPassMasking(seed=123)


@pytest.mark.parametrize("low", EDGES + list(np.random.default_rng(0).uniform(160, 5840, 10)))
def test_filter_response_meets_spec(masking, low):
    taps = masking.design(float(low)).double().numpy()
    freqs, response = scipy.signal.freqz(taps, worN=16384, fs=FS)
    gain_db = 20 * np.log10(np.abs(response) + 1e-12)
    passband = (freqs >= low) & (freqs <= low + 2000)
    stopband = (freqs <= low - 160) | (freqs >= low + 2160)
    assert np.abs(gain_db[passband]).max() <= 1.0
    assert gain_db[stopband].max() <= -40.0
    assert np.allclose(taps, taps[::-1]) and len(taps) % 2 == 1


@pytest.mark.parametrize("low", [160.0, 1234.0, 3000.0, 5840.0])
def test_white_noise_energy_kept_in_band_and_removed_outside(masking, low):
    noise = torch.randn(4, 4 * FS, generator=torch.Generator().manual_seed(int(low)))
    masked, _ = masking(noise, low_freqs=torch.full((4,), low))
    for clean_row, masked_row in zip(noise.double().numpy(), masked.double().numpy(), strict=True):
        kept = band_energy(masked_row, low, low + 2000) / band_energy(clean_row, low, low + 2000)
        out_clean = band_energy(clean_row, 0, low - 160) + band_energy(clean_row, low + 2160, FS)
        out_masked = band_energy(masked_row, 0, low - 160) + band_energy(masked_row, low + 2160, FS)
        assert kept >= 0.95
        assert out_masked <= 0.01 * out_clean


def test_output_matches_numpy_convolution_with_remez_taps(masking):
    signal = np.random.default_rng(1).standard_normal((3, 5000))
    lows = [300.0, 2500.0, 5700.0]
    masked, _ = masking(torch.from_numpy(signal).float(), low_freqs=torch.tensor(lows))
    for row, low, out in zip(signal, lows, masked.numpy(), strict=True):
        taps = scipy.signal.remez(
            143,
            [0, low - 160, low, low + 2000, min(low + 2160, 8000), 8000],
            [0, 1, 0],
            weight=[10, 1, 10],
            fs=FS,
        )
        np.testing.assert_allclose(out, np.convolve(row, taps, mode="same"), atol=1e-4)


@pytest.mark.parametrize("low", [160.0, 2800.0, 5840.0])
def test_no_delay_against_zero_phase_band_passed_copy(masking, low):
    signal = np.random.default_rng(2).standard_normal(3 * FS)
    masked, _ = masking(torch.from_numpy(signal).float()[None], low_freqs=torch.tensor([low]))
    spectrum = np.fft.rfft(signal)
    freqs = np.fft.rfftfreq(len(signal), 1 / FS)
    spectrum[(freqs < low) | (freqs > low + 2000)] = 0
    reference = np.fft.irfft(spectrum, n=len(signal))
    xcorr = scipy.signal.correlate(masked[0].double().numpy(), reference, mode="full")
    lags = scipy.signal.correlation_lags(len(signal), len(signal), mode="full")
    assert lags[np.argmax(xcorr)] == 0


def test_draws_are_uniform_over_the_range():
    for grid_step in (1.0, 10.0, None):
        lows = BandPassMasking(seed=7, grid_step=grid_step).sample_low_freqs(20000).numpy()
        result = scipy.stats.kstest(lows, scipy.stats.uniform(loc=160, scale=5680).cdf)
        assert result.pvalue > 0.01, (grid_step, result)
        counts, _ = np.histogram(lows, bins=20, range=(160, 5840))
        assert scipy.stats.chisquare(counts).pvalue > 0.01
        assert lows.min() < 170 and lows.max() > 5830


@pytest.mark.slow
def test_grid_snaps_and_reuses_designed_filters():
    masking = BandPassMasking(grid_step=10.0)
    taps = masking.filters(torch.tensor([1003.0, 1007.0, 5840.0]))
    torch.testing.assert_close(taps[0], masking.design(1000.0))
    torch.testing.assert_close(taps[1], masking.design(1010.0))
    torch.testing.assert_close(taps[2], masking.design(5840.0))
    assert int(masking._designed.sum()) == 3
    exact = BandPassMasking(grid_step=None).filters(torch.tensor([1003.0]))
    torch.testing.assert_close(exact[0], masking.design(1003.0))


def test_padding_stays_zero_and_does_not_leak(masking):
    waveforms = torch.randn(3, 8000)
    lengths = torch.tensor([1.0, 0.5, 0.25])
    lows = torch.tensor([500.0, 2000.0, 4000.0])
    masked, out_lengths = masking(waveforms, lengths, low_freqs=lows)
    assert out_lengths is lengths
    assert masked[1, 4000:].abs().max() == 0 and masked[2, 2000:].abs().max() == 0
    assert masked[1, :4000].abs().max() > 0
    zero_padded = waveforms.clone()
    zero_padded[1, 4000:] = 0
    zero_padded[2, 2000:] = 0
    again, _ = masking(zero_padded, lengths, low_freqs=lows)
    torch.testing.assert_close(masked, again)


def test_float32_inside_autocast_and_dtype_kept(masking):
    waveforms = torch.randn(2, 4000)
    lows = torch.tensor([700.0, 3300.0])
    reference, _ = masking(waveforms, low_freqs=lows)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        under_autocast, _ = masking(waveforms, low_freqs=lows)
    assert under_autocast.dtype == torch.float32
    torch.testing.assert_close(under_autocast, reference)
    doubled, _ = masking(waveforms.double(), low_freqs=lows)
    assert doubled.dtype == torch.float64


def test_seeded_generator_and_state_dict_round_trip():
    first, second = BandPassMasking(seed=5), BandPassMasking(seed=5)
    torch.testing.assert_close(first.sample_low_freqs(8), second.sample_low_freqs(8))
    state = first.state_dict()
    expected = first.sample_low_freqs(16)
    restored = BandPassMasking(seed=999)
    restored.load_state_dict(state)
    torch.testing.assert_close(restored.sample_low_freqs(16), expected)


def test_ranks_draw_differently(monkeypatch):
    rank0 = BandPassMasking(seed=5)
    monkeypatch.setenv("RANK", "1")
    rank1 = BandPassMasking(seed=5)
    assert not torch.equal(rank0.sample_low_freqs(8), rank1.sample_low_freqs(8))
    # A checkpoint written by rank 0 and reloaded on rank 1 gives rank 1 its own stream.
    monkeypatch.setenv("RANK", "0")
    state = rank0.state_dict()
    expected_rank0 = rank0.sample_low_freqs(8)
    monkeypatch.setenv("RANK", "1")
    rank1.load_state_dict(state)
    assert not torch.equal(rank1.sample_low_freqs(8), expected_rank0)


def test_works_inside_speechbrain_augmenter(masking):
    augmenter = Augmenter(augmentations=[masking], concat_original=True)
    waveforms = torch.randn(2, 4000)
    lengths = torch.tensor([1.0, 0.5])
    output, out_lengths = augmenter(waveforms, lengths)
    assert output.shape == (4, 4000)
    torch.testing.assert_close(out_lengths, torch.cat([lengths, lengths]))
    assert output[3, 2000:].abs().max() == 0 and output[3, :2000].abs().max() > 0


def test_bad_inputs_raise_clear_errors(masking):
    with pytest.raises(ValueError, match="numtaps must be odd"):
        BandPassMasking(numtaps=142)
    with pytest.raises(ValueError, match="low_max"):
        BandPassMasking(low_max=6500.0)
    with pytest.raises(ValueError, match="low_freqs must lie"):
        masking(torch.randn(1, 100), low_freqs=torch.tensor([100.0]))
    with pytest.raises(ValueError, match=r"\[batch, time\]"):
        masking(torch.randn(100))
    with pytest.raises(ValueError, match="2 low_freqs for a batch of 1"):
        masking(torch.randn(1, 100), low_freqs=torch.tensor([500.0, 600.0]))


def test_pure_filtering_matches_numpy_convolve_and_scipy_lfilter():
    rng = np.random.default_rng(4)
    signal, taps = rng.standard_normal((2, 3001)), rng.standard_normal((2, 31))
    expected = np.stack([np.convolve(s, t, mode="same") for s, t in zip(signal, taps, strict=True)])
    np.testing.assert_allclose(fir_filter_same(signal, taps), expected, atol=1e-10)
    torch_out = fir_filter_same(torch.from_numpy(signal), torch.from_numpy(taps))
    np.testing.assert_allclose(torch_out.numpy(), expected, atol=1e-10)
    # lfilter is causal: its output delayed by (31 - 1) / 2 samples is the centred one
    delayed = scipy.signal.lfilter(taps[0], 1.0, np.concatenate([signal[0], np.zeros(15)]))
    np.testing.assert_allclose(torch_out[0].numpy(), delayed[15:], atol=1e-10)


def test_batch_filtering_is_convolution_of_the_valid_samples_only():
    rng = np.random.default_rng(5)
    signal = rng.standard_normal((2, 800))
    taps = np.stack([design_bandpass(500.0), design_bandpass(3000.0, sample_rate=16000)])
    out = fir_filter_batch(
        torch.from_numpy(signal).float(), torch.from_numpy(taps), torch.tensor([1.0, 0.5])
    ).double().numpy()
    np.testing.assert_allclose(out[0], np.convolve(signal[0], taps[0], "same"), atol=1e-5)
    valid = np.convolve(signal[1, :400], taps[1], "same")
    np.testing.assert_allclose(out[1, :400], valid, atol=1e-5)
    assert not out[1, 400:].any()


@pytest.mark.parametrize("sample_rate,low,numtaps", [(8000, 300.0, 101), (22050, 7000.0, 201)])
def test_design_bandpass_meets_its_bands_at_other_rates(sample_rate, low, numtaps):
    taps = design_bandpass(
        low, band_width=1000.0, transition=250.0, numtaps=numtaps, sample_rate=sample_rate
    )
    freqs, response = scipy.signal.freqz(taps, worN=8192, fs=sample_rate)
    gain_db = 20 * np.log10(np.abs(response) + 1e-12)
    assert np.abs(gain_db[(freqs >= low) & (freqs <= low + 1000)]).max() <= 1.0
    assert gain_db[(freqs <= low - 250) | (freqs >= low + 1250)].max() <= -30.0


def test_draw_low_freqs_is_the_modules_draw_and_stays_on_its_grid():
    lows = draw_low_freqs(5000, 100.0, 200.0, 10.0, torch.Generator().manual_seed(3))
    assert set(lows.tolist()) == {100.0 + 10 * k for k in range(11)}
    module = BandPassMasking(seed=11, grid_step=None)
    own = draw_low_freqs(6, 160.0, 5840.0, None, torch.Generator().manual_seed(11))
    torch.testing.assert_close(module.sample_low_freqs(6), own)
