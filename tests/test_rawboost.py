"""RawBoost: each noise type checked against an independent computation of its defining
property (numpy FFTs, scipy.signal.freqz / lfilter, energy ratios)."""

import numpy as np
import pytest
import scipy.signal
import torch
from speechbrain.augment.augmenter import Augmenter

from speechbrain_ssdctx.augment import RawBoost
from speechbrain_ssdctx.augment.rawboost import (
    NotchParameters,
    lnl_convolutive_noise,
    notch_filter,
)
from speechbrain_ssdctx.method.masking import fir_filter_same

FS = 16000


def gain_db_at(taps: np.ndarray, freqs_hz) -> np.ndarray:
    """Magnitude response (dB) of ``taps`` at the given frequencies (scipy.signal.freqz)."""
    _, response = scipy.signal.freqz(taps, 1, worN=np.asarray(freqs_hz, dtype=float), fs=FS)
    return 20 * np.log10(np.abs(response) + 1e-300)


def snr_db(clean: np.ndarray, noisy: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(clean**2) / np.sum((noisy - clean) ** 2)))


def tone(freq: float, seconds: float = 1.0, amplitude: float = 0.3) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * freq * np.arange(int(seconds * FS)) / FS)


def spectrum_db(signal: np.ndarray, freqs_hz) -> np.ndarray:
    """Energy (dB) of ``signal`` at exact FFT bins (1 s signals: 1 Hz bins)."""
    spectrum = np.abs(np.fft.rfft(signal)) ** 2
    return 10 * np.log10(spectrum[np.asarray(freqs_hz, dtype=int)] + 1e-300)


# ---- the convolutive filter ---------------------------------------------------------------

@pytest.mark.parametrize(
    ("centres", "widths", "gain"),
    [((1000.0,), (600.0,), 0.0), ((500.0, 3000.0, 6000.0), (800.0, 1000.0, 900.0), -7.5)],
)
def test_notch_filter_stops_its_bands_and_peaks_at_its_gain(centres, widths, gain):
    params = NotchParameters(centres, widths, (99,) * len(centres), gain)
    taps = notch_filter(params)
    grid = np.linspace(0, FS / 2, 8001)
    response = gain_db_at(taps, grid)
    # Peak gain: the design normalises on freqz's 512-point grid, a finer grid sees at
    # most a fraction of a dB more.
    assert gain - 1e-9 <= response.max() <= gain + 0.3
    for centre in centres:
        assert gain_db_at(taps, [centre])[0] <= gain - 20  # a notch
    far = np.ones_like(grid, dtype=bool)  # well outside every band: close to the peak gain
    for centre, width in zip(centres, widths, strict=True):
        far &= np.abs(grid - centre) > width / 2 + 300
    assert np.abs(response[far] - gain).max() < 1.5
    assert np.allclose(taps, taps[::-1])  # linear phase


def test_notch_filter_matches_scipy_cascade_of_firwin_bandstops():
    params = NotchParameters((1200.0, 5000.0), (400.0, 700.0), (31, 51), 3.0)
    first, second = (
        scipy.signal.firwin(taps, band, window="hamming", pass_zero="bandstop", fs=FS)
        for taps, band in [(31, [1000.0, 1400.0]), (51, [4650.0, 5350.0])]
    )
    cascade = np.convolve(first, second)
    peak = np.abs(scipy.signal.freqz(cascade, 1, worN=512)[1]).max()
    np.testing.assert_allclose(notch_filter(params), 10 ** (3 / 20) * cascade / peak, atol=1e-12)


def test_fir_filter_same_is_lfilter_minus_the_delay():
    rng = np.random.default_rng(0)
    signal, taps = rng.standard_normal(1000), rng.standard_normal(41)
    delayed = scipy.signal.lfilter(taps, 1, np.concatenate([signal, np.zeros(20)]))
    np.testing.assert_allclose(fir_filter_same(signal, taps), delayed[20:], atol=1e-10)
    with pytest.raises(ValueError, match="odd"):
        fir_filter_same(signal, taps[:40])


def test_linear_convolutive_noise_is_the_filtered_signal_minus_its_mean():
    rng = np.random.default_rng(1)
    signal = 0.2 * rng.standard_normal(4000)
    taps = notch_filter(NotchParameters((2000.0,), (500.0,), (61,), 0.0))
    expected = np.convolve(signal, taps)[30:-30]
    np.testing.assert_allclose(
        lnl_convolutive_noise(signal, [taps]), expected - expected.mean(), atol=1e-10
    )


def test_nonlinear_components_add_harmonics_linear_ones_do_not():
    """x^2 and x^3 terms of a 440 Hz tone put energy at 880 and 1320 Hz."""
    signal = tone(440.0)
    passthrough = np.array([1.0])
    linear = lnl_convolutive_noise(signal, [passthrough])
    nonlinear = lnl_convolutive_noise(signal, [passthrough] * 3)
    fundamental = spectrum_db(linear, [440])[0]
    assert (spectrum_db(linear, [880, 1320]) < fundamental - 150).all()
    assert (spectrum_db(nonlinear, [880, 1320]) > spectrum_db(nonlinear, [440])[0] - 40).all()


def test_drawn_convolutive_filters_follow_the_ranges():
    rawboost = RawBoost(min_gain_db=-3.0, max_gain_db=2.0, seed=3)
    draw = rawboost.sample_notch_parameters
    linear = [draw(rawboost.gain_range) for _ in range(200)]
    nonlinear = [draw(rawboost.nonlinear_gain_range) for _ in range(200)]
    # Linear gain in [minG, maxG]; non-linear in [minG - maxBias, maxG - minBias] = [-23, -3],
    # both covered (200 uniform draws reach within 2 dB of each end).
    for params, low, high in [(linear, -3.0, 2.0), (nonlinear, -23.0, -3.0)]:
        gains = np.array([p.gain_db for p in params])
        assert low <= gains.min() < low + 2 and high - 2 < gains.max() <= high
    for params in linear[:10] + nonlinear[:10]:
        assert len(params.centres) == 5
        assert all(20.0 <= c <= 8000.0 for c in params.centres)
        assert all(100.0 <= w <= 1000.0 for w in params.bandwidths)
        assert all(n % 2 == 1 and 11 <= n <= 99 for n in params.num_taps)
        peak = gain_db_at(notch_filter(params), np.linspace(0, FS / 2, 4097)).max()
        assert params.gain_db - 1e-9 <= peak <= params.gain_db + 0.5


# ---- the additive noises, drawn by the module --------------------------------------------

def test_impulsive_noise_touches_at_most_p_percent_within_gain():
    rawboost = RawBoost(algorithm=2, max_impulse_percent=10.0, impulse_gain=2.0, seed=4)
    signal = np.clip(0.1 * np.random.default_rng(2).standard_normal(8000), -0.3, 0.3)
    signal = torch.from_numpy(signal).reshape(1, -1).repeat(300, 1)
    boosted, _ = rawboost(signal)
    clean, out = signal.numpy(), boosted.numpy()
    touched = out != clean
    fractions = touched.mean(axis=1)
    # |x| <= 0.3 and |1 + 2 f| <= 3: no peak normalisation, untouched samples are exact.
    assert (fractions <= 0.10).all()
    assert abs(fractions.mean() - 0.05) < 0.005  # beta ~ U(0, 10) %: mean 5 %
    ratios = (out[touched] - clean[touched]) / (2.0 * clean[touched])  # the factors f
    assert np.abs(ratios).max() <= 1.0
    # f = u1 * u2 with u1, u2 ~ U(-1, 1): E|f| = 1/4 and E f^2 = 1/9.
    assert abs(np.abs(ratios).mean() - 0.25) < 0.01
    assert abs((ratios**2).mean() - 1 / 9) < 0.01


@pytest.mark.slow
def test_coloured_noise_snr_is_in_range_and_uniform():
    rawboost = RawBoost(algorithm=3, min_snr_db=10.0, max_snr_db=40.0, seed=5)
    signal = torch.from_numpy(tone(300.0, seconds=0.5)).reshape(1, -1).repeat(200, 1)
    boosted, _ = rawboost(signal.double())
    snrs = np.array([snr_db(a, b) for a, b in zip(signal.numpy(), boosted.numpy(), strict=True)])
    assert snrs.min() >= 10.0 - 1e-6 and snrs.max() <= 40.0 + 1e-6
    assert abs(snrs.mean() - 25.0) < 2.0  # U(10, 40): mean 25, std of the mean 0.6
    assert snrs.std() > 7.0  # spread over the range (std of U(10, 40) = 8.7)


def test_coloured_noise_is_shaped_by_a_notch_filter():
    """The added noise is not white: its spectrum has the drawn notches (with a single
    wide band, the noise energy around the band centre falls well below the rest)."""
    rawboost = RawBoost(
        algorithm=3, num_bands=1, min_freq=4000.0, max_freq=4000.0, min_bandwidth=2000.0,
        max_bandwidth=2000.0, min_taps=99, max_taps=99, seed=6,
    )
    signal = torch.from_numpy(tone(300.0, seconds=2.0)).reshape(1, -1)
    noise = (rawboost(signal.double())[0] - signal).numpy()[0]
    freqs, power = scipy.signal.welch(noise, fs=FS, nperseg=1024)
    in_notch = power[(freqs > 3600) & (freqs < 4400)].mean()
    outside = power[(freqs > 500) & (freqs < 2500)].mean()
    assert 10 * np.log10(in_notch / outside) < -20


# ---- algorithms, batches, state ----------------------------------------------------------

@pytest.mark.parametrize("algorithm", range(1, 9))
def test_algorithms_chain_the_documented_steps(algorithm):
    signal = np.clip(0.1 * np.random.default_rng(7).standard_normal(3000), -0.5, 0.5)
    boosted, _ = RawBoost(algorithm=algorithm, seed=11)(torch.from_numpy(signal).reshape(1, -1))
    steps = RawBoost(algorithm=0, seed=11)
    if algorithm == 8:
        total = steps.convolutive(signal) + steps.impulsive(signal)
        expected = total / max(np.abs(total).max(), 1.0)
    else:
        chains = {1: "c", 2: "i", 3: "s", 4: "cis", 5: "ci", 6: "cs", 7: "is"}
        names = {"c": "convolutive", "i": "impulsive", "s": "coloured_noise"}
        expected = signal
        for step in chains[algorithm]:
            expected = getattr(steps, names[step])(expected)
    np.testing.assert_allclose(boosted.numpy()[0], expected, atol=1e-12)
    assert not np.allclose(expected, signal)


def test_batch_rows_are_boosted_on_their_valid_samples_only():
    waveforms = 0.1 * torch.randn(3, 4000, generator=torch.Generator().manual_seed(0))
    lengths = torch.tensor([1.0, 0.5, 0.25])
    boosted, out_lengths = RawBoost(algorithm=4, seed=1)(waveforms, lengths)
    assert boosted.dtype == waveforms.dtype and torch.equal(out_lengths, lengths)
    assert boosted[1, 2000:].eq(0).all() and boosted[2, 1000:].eq(0).all()
    assert not torch.allclose(boosted[1, :2000], waveforms[1, :2000])
    # Padding does not leak in: the valid part equals boosting the row alone with the
    # generator in the same state.
    twin = RawBoost(algorithm=4, seed=1)
    twin(waveforms[:1])
    alone, _ = twin(waveforms[1:2, :2000])
    torch.testing.assert_close(boosted[1, :2000], alone[0])


def test_seeded_and_state_dict_continues_the_stream():
    waveforms = 0.1 * torch.randn(2, 2000, generator=torch.Generator().manual_seed(1))
    first, second = RawBoost(seed=9), RawBoost(seed=9)
    torch.testing.assert_close(first(waveforms)[0], second(waveforms)[0])
    state = first.state_dict()
    expected = first(waveforms)[0]
    restored = RawBoost(seed=123)
    restored.load_state_dict(state)
    torch.testing.assert_close(restored(waveforms)[0], expected)
    assert not torch.allclose(RawBoost(seed=10)(waveforms)[0], expected)


def test_identity_algorithm_and_bad_arguments():
    waveforms = torch.randn(2, 100)
    assert torch.equal(RawBoost(algorithm=0)(waveforms)[0], waveforms)
    with pytest.raises(ValueError, match="algorithm must be an integer in 0-8, got 9"):
        RawBoost(algorithm=9)
    with pytest.raises(ValueError, match="min_snr_db/max_snr_db"):
        RawBoost(min_snr_db=40.0, max_snr_db=10.0)
    with pytest.raises(ValueError, match=r"\[batch, time\]"):
        RawBoost()(torch.randn(100))


def test_works_inside_speechbrain_augmenter():
    waveforms = 0.1 * torch.randn(2, 3000, generator=torch.Generator().manual_seed(2))
    augmenter = Augmenter(concat_original=True, augmentations=[RawBoost(algorithm=3, seed=0)])
    out, lengths = augmenter(waveforms, torch.ones(2))
    assert out.shape == (4, 3000) and lengths.shape == (4,)
    torch.testing.assert_close(out[:2], waveforms)
    reference, _ = RawBoost(algorithm=3, seed=0)(waveforms)
    torch.testing.assert_close(out[2:], reference)


def test_detector_brain_augments_training_batches_and_saves_rawboost_generators():
    import speechbrain as sb
    from speechbrain.utils.epoch_loop import EpochCounter

    from speechbrain_ssdctx.method.context import ContextLoss
    from speechbrain_ssdctx.training.brain import DetectorBrain

    class Probe(torch.nn.Module):
        """A detector that records the batches it sees."""

        embedding_dim = 2

        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(1, 2)
            self.seen = []

        def forward(self, wavs, lengths=None):
            self.seen.append(wavs.detach().clone())
            embedding = self.linear(wavs.mean(dim=1, keepdim=True))
            return embedding, embedding

    detector, rawboost = Probe(), RawBoost(algorithm=3, seed=0)
    augment = Augmenter(concat_original=True, augmentations=[rawboost])
    brain = DetectorBrain(
        modules={"detector": detector,
                 "context": ContextLoss(detector, use_inf=False, use_ini=False)},
        opt_class=lambda params: torch.optim.SGD(params, lr=0.1),
        hparams={"epoch_counter": EpochCounter(1), "wav_augment": augment},
        run_opts={"noprogressbar": True},
    )
    assert brain.rng_state.generators["wav_augment.RawBoost0"] is rawboost.generator
    brain.init_optimizers()
    brain.on_stage_start(sb.Stage.TRAIN)
    wavs = 0.1 * torch.randn(2, 1000, generator=torch.Generator().manual_seed(3))
    batch = sb.dataio.batch.PaddedBatch(
        [{"id": str(i), "sig": wavs[i], "label_id": i} for i in range(2)]
    )
    brain.fit_batch(batch)
    (seen,) = detector.seen
    assert seen.shape == (4, 1000)  # originals + boosted copies, labels replicated
    torch.testing.assert_close(seen[:2], wavs)
    torch.testing.assert_close(seen[2:], RawBoost(algorithm=3, seed=0)(wavs)[0])
    brain.evaluate_batch(batch, sb.Stage.VALID)  # evaluation sees the clean batch
    assert detector.seen[-1].shape == (2, 1000)
