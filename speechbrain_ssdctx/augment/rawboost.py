"""RawBoost (Tak et al., ICASSP 2022): convolutive, impulsive and coloured additive noise
on raw training waveforms.

The signal processing is public pure functions (:func:`notch_filter` and the noise
functions); :class:`RawBoost` holds the settings and the random generator
(:func:`~speechbrain_ssdctx.utils.reproducibility.rank_generator`).

Authors:
- speechbrain-ssdctx contributors (2025)
"""

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import scipy.fft
import scipy.signal
import torch

from speechbrain_ssdctx.method.masking import fir_filter_same
from speechbrain_ssdctx.utils.reproducibility import (
    generator_state,
    rank_generator,
    restore_generator,
)


class NotchParameters(NamedTuple):
    """The random draw behind one RawBoost convolutive filter (see :func:`notch_filter`).

    Arguments
    ---------
    centres : tuple of float
        Centre frequency of each stop band, in Hz.
    bandwidths : tuple of float
        Width of each stop band, in Hz.
    num_taps : tuple of int
        Odd number of taps of each band-stop FIR.
    gain_db : float
        Peak gain of the cascade, in dB.
    """

    centres: tuple[float, ...]
    bandwidths: tuple[float, ...]
    num_taps: tuple[int, ...]
    gain_db: float


def notch_filter(params: NotchParameters, sample_rate: int = 16000) -> np.ndarray:
    """A cascade of windowed-sinc band-stop FIRs scaled to a peak gain (RawBoost's filter).

    Each band ``[centre - bandwidth / 2, centre + bandwidth / 2]`` (clipped to
    ``(0, sample_rate / 2)``) is stopped by a Hamming-windowed FIR of ``num_taps`` taps
    (``scipy.signal.firwin``); the filters are convolved into one linear-phase FIR whose
    largest magnitude response (on ``scipy.signal.freqz``'s 512-point grid, as Tak et al.)
    is ``gain_db``.

    Arguments
    ---------
    params : NotchParameters
        Bands, tap counts (odd) and peak gain.
    sample_rate : int
        Sampling rate, in Hz.

    Returns
    -------
    numpy.ndarray
        The float64 taps (odd length, symmetric).

    Example
    -------
    >>> taps = notch_filter(NotchParameters((1000.0,), (400.0,), (51,), 0.0))
    >>> taps.shape, bool(np.allclose(taps, taps[::-1]))
    ((51,), True)
    """
    nyquist = sample_rate / 2
    taps = np.ones(1)
    for centre, width, num_taps in zip(
        params.centres, params.bandwidths, params.num_taps, strict=True
    ):
        if num_taps % 2 == 0:
            raise ValueError(f"notch_filter: a band-stop FIR needs an odd num_taps, got {num_taps}")
        low = max(centre - width / 2, 1e-3)
        high = min(centre + width / 2, nyquist - 1e-3)
        band = scipy.signal.firwin(num_taps, [low, high], window="hamming", fs=sample_rate)
        taps = np.convolve(band, taps)
    _, response = scipy.signal.freqz(taps, 1, fs=sample_rate)
    return 10 ** (params.gain_db / 20) * taps / np.abs(response).max()


def _centre_pad(filters: Sequence[np.ndarray]) -> np.ndarray:
    """Stacks odd-length FIRs, zero-padded on both sides to the longest (same delay)."""
    longest = max(len(taps) for taps in filters)
    return np.stack([np.pad(taps, (longest - len(taps)) // 2) for taps in filters])


def normalize_if_clipping(signal: np.ndarray) -> np.ndarray:
    """Divides by the peak magnitude when it exceeds 1 (RawBoost's ``normWav(x, 0)``).

    Example
    -------
    >>> normalize_if_clipping(np.array([0.5, -2.0]))
    array([ 0.25, -1.  ])
    """
    peak = np.abs(signal).max(initial=0.0)
    return signal / peak if peak > 1 else signal


def lnl_convolutive_noise(signal: np.ndarray, filters: Sequence[np.ndarray]) -> np.ndarray:
    """Linear and non-linear convolutive noise: ``sum_j h_j * x^j``, de-meaned.

    Filter ``j`` (from 1) shapes the ``j``-th power of the signal, so one filter is a
    plain convolutive channel and more add harmonic distortion. The sum has its mean
    removed and is scaled down if its peak exceeds 1.

    Arguments
    ---------
    signal : numpy.ndarray
        ``[time]`` samples.
    filters : sequence of numpy.ndarray
        ``N_f`` odd-length FIRs, for the powers 1 .. ``N_f``.

    Returns
    -------
    numpy.ndarray
        ``[time]``.

    Example
    -------
    >>> lnl_convolutive_noise(np.array([0.5, -0.5, 0.5, -0.5]), [np.ones(1)])
    array([ 0.5, -0.5,  0.5, -0.5])
    """
    powers = np.stack([signal**power for power in range(1, len(filters) + 1)])
    out = fir_filter_same(powers, _centre_pad(filters)).sum(axis=0)
    return normalize_if_clipping(out - out.mean())


def isd_additive_noise(
    signal: np.ndarray, positions: np.ndarray, factors: np.ndarray, gain: float
) -> np.ndarray:
    """Impulsive signal-dependent noise: ``y[p] = x[p] + gain * x[p] * f[p]`` at some samples.

    Arguments
    ---------
    signal : numpy.ndarray
        ``[time]`` samples.
    positions : numpy.ndarray
        Indices of the touched samples (distinct).
    factors : numpy.ndarray
        One factor per position, in [-1, 1] (RawBoost: a product of two uniform draws).
    gain : float
        ``g_sd``.

    Returns
    -------
    numpy.ndarray
        ``[time]``, scaled down if its peak exceeds 1.

    Example
    -------
    >>> isd_additive_noise(np.full(3, 0.1), np.array([1]), np.array([0.5]), 2.0)
    array([0.1, 0.2, 0.1])
    """
    out = signal.copy()
    out[positions] = signal[positions] * (1 + gain * factors)
    return normalize_if_clipping(out)


def ssi_additive_noise(signal: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """Stationary signal-independent noise: ``x + n``, with ``n`` scaled to an SNR.

    Arguments
    ---------
    signal : numpy.ndarray
        ``[time]`` samples.
    noise : numpy.ndarray
        ``[time]`` noise (RawBoost: coloured Gaussian noise), rescaled here.
    snr_db : float
        ``10 log10(||x||^2 / ||n||^2)`` of the result.

    Returns
    -------
    numpy.ndarray
        ``[time]`` (not normalised, as in RawBoost).

    Example
    -------
    >>> noisy = ssi_additive_noise(np.ones(4), np.array([1.0, -1.0, 1.0, -1.0]), 20.0)
    >>> round(float(10 * np.log10(np.sum(np.ones(4) ** 2) / np.sum((noisy - 1) ** 2))), 9)
    20.0
    """
    norm = np.linalg.norm(noise)
    if norm == 0:
        return signal.copy()
    return signal + noise / norm * np.linalg.norm(signal) / 10 ** (snr_db / 20)


class RawBoost(torch.nn.Module):
    """RawBoost data augmentation of raw waveforms (Tak et al., ICASSP 2022).

    Three kinds of distortion, each a method here, and the paper's algorithms that
    chain them (``algorithm``):

    ===  =========================================================================
    0    none (the input is returned)
    1    :meth:`convolutive`: linear and non-linear convolutive noise (LnL)
    2    :meth:`impulsive`: impulsive signal-dependent additive noise (ISD)
    3    :meth:`coloured_noise`: stationary signal-independent additive noise (SSI)
    4    1, then 2, then 3 (in series)
    5    1, then 2 (the default of Tak et al.'s 2021 LA recipe)
    6    1, then 3
    7    2, then 3
    8    1 and 2 in parallel on the same input, summed, scaled down if above 1
    ===  =========================================================================

    Defaults are those of Tak et al.'s code (github.com/TakHemlata/SSL_Anti-spoofing):
    5 notch bands with centres in [20, 8000] Hz, widths in [100, 1000] Hz and
    [10, 100) taps (made odd), linear gain in [0, 0] dB, non-linear components
    [5, 20] dB below it, non-linearity order 5; up to 10 % of the samples touched by
    impulses of gain 2; SNR in [10, 40] dB. Their ``args.minF`` ... names are given with
    each argument below.

    Each utterance of a batch is processed alone (on its valid samples, in float64;
    padding stays zero). Deviation from the reference code: filtering is delay
    compensated exactly (``(taps - 1) / 2`` samples; theirs is one sample off) and
    RawBoost runs on the training crop of a batch, not on the whole file before
    cropping. All draws come from this module's ``torch.Generator``, which is in its
    ``state_dict`` (``get_extra_state``) and found by ``DetectorBrain``'s ``RNGState``,
    so a resumed run continues the same stream.

    Arguments
    ---------
    algorithm : int
        0-8, see the table above.
    sample_rate : int
        Sampling rate, in Hz.
    num_bands : int
        Notch bands per filter (``nBands``).
    min_freq, max_freq : float
        Range of the band centres in Hz (``minF``, ``maxF``).
    min_bandwidth, max_bandwidth : float
        Range of the band widths in Hz (``minBW``, ``maxBW``).
    min_taps, max_taps : int
        Range of the tap count of each band's FIR (``minCoeff``, ``maxCoeff``): drawn
        in ``[min_taps, max_taps)``, then made odd.
    min_gain_db, max_gain_db : float
        Range of the linear filter's peak gain (``minG``, ``maxG``).
    min_nonlinear_drop_db, max_nonlinear_drop_db : float
        The non-linear filters' gains are drawn in
        ``[min_gain_db - max_nonlinear_drop_db, max_gain_db - min_nonlinear_drop_db]``
        (``minBiasLinNonLin``, ``maxBiasLinNonLin``).
    nonlinearity_order : int
        Number of powers of the signal that are filtered and summed (``N_f``; 1 = linear).
    max_impulse_percent : float
        The fraction of samples touched by ISD is drawn in ``[0, max_impulse_percent]`` %
        (``P``).
    impulse_gain : float
        ISD gain (``g_sd``).
    min_snr_db, max_snr_db : float
        SSI signal-to-noise ratio range (``SNRmin``, ``SNRmax``).
    seed : int or None
        Seed of the module's generator (plus the data-parallel rank); ``None`` uses
        ``torch.initial_seed()``.

    Example
    -------
    >>> rawboost = RawBoost(algorithm=5, seed=1)
    >>> waveforms = 0.1 * torch.randn(2, 16000)
    >>> boosted, lengths = rawboost(waveforms, torch.tensor([1.0, 0.5]))
    >>> boosted.shape, bool(boosted[1, 8000:].eq(0).all())
    (torch.Size([2, 16000]), True)

    In SpeechBrain's ``Augmenter`` (e.g. with other augmentations):

    >>> from speechbrain.augment.augmenter import Augmenter
    >>> augment = Augmenter(augmentations=[RawBoost(algorithm=3, seed=0)])
    >>> augment(waveforms, torch.ones(2))[0].shape
    torch.Size([2, 16000])
    """

    ALGORITHMS = {
        0: (),
        1: ("convolutive",),
        2: ("impulsive",),
        3: ("coloured_noise",),
        4: ("convolutive", "impulsive", "coloured_noise"),
        5: ("convolutive", "impulsive"),
        6: ("convolutive", "coloured_noise"),
        7: ("impulsive", "coloured_noise"),
    }
    PARALLEL = 8

    def __init__(
        self,
        algorithm: int = 5,
        sample_rate: int = 16000,
        num_bands: int = 5,
        min_freq: float = 20.0,
        max_freq: float = 8000.0,
        min_bandwidth: float = 100.0,
        max_bandwidth: float = 1000.0,
        min_taps: int = 10,
        max_taps: int = 100,
        min_gain_db: float = 0.0,
        max_gain_db: float = 0.0,
        min_nonlinear_drop_db: float = 5.0,
        max_nonlinear_drop_db: float = 20.0,
        nonlinearity_order: int = 5,
        max_impulse_percent: float = 10.0,
        impulse_gain: float = 2.0,
        min_snr_db: float = 10.0,
        max_snr_db: float = 40.0,
        seed: int | None = None,
    ):
        super().__init__()
        if algorithm not in self.ALGORITHMS and algorithm != self.PARALLEL:
            raise ValueError(f"RawBoost: algorithm must be an integer in 0-8, got {algorithm!r}")
        ranges = {
            "min_freq/max_freq": (min_freq, max_freq),
            "min_bandwidth/max_bandwidth": (min_bandwidth, max_bandwidth),
            "min_taps/max_taps": (min_taps, max_taps),
            "min_gain_db/max_gain_db": (min_gain_db, max_gain_db),
            "min_nonlinear_drop_db/max_nonlinear_drop_db": (
                min_nonlinear_drop_db, max_nonlinear_drop_db,
            ),
            "min_snr_db/max_snr_db": (min_snr_db, max_snr_db),
        }
        for name, (low, high) in ranges.items():
            if low > high:
                raise ValueError(
                    f"RawBoost: {name} must be an increasing range, got {low} > {high}"
                )
        if num_bands < 1 or nonlinearity_order < 1 or min_taps < 1:
            raise ValueError(
                "RawBoost: num_bands, nonlinearity_order and min_taps must be >= 1, got "
                f"{num_bands}, {nonlinearity_order}, {min_taps}"
            )
        if not 0 <= max_impulse_percent <= 100 or impulse_gain < 0:
            raise ValueError(
                "RawBoost: max_impulse_percent must be in [0, 100] and impulse_gain >= 0, got "
                f"{max_impulse_percent}, {impulse_gain}"
            )
        self.algorithm = algorithm
        self.sample_rate = sample_rate
        self.num_bands = num_bands
        self.freq_range = (min_freq, max_freq)
        self.bandwidth_range = (min_bandwidth, max_bandwidth)
        self.taps_range = (min_taps, max_taps)
        self.gain_range = (min_gain_db, max_gain_db)
        self.nonlinear_gain_range = (
            min_gain_db - max_nonlinear_drop_db, max_gain_db - min_nonlinear_drop_db,
        )
        self.nonlinearity_order = nonlinearity_order
        self.max_impulse_percent = max_impulse_percent
        self.impulse_gain = impulse_gain
        self.snr_range = (min_snr_db, max_snr_db)
        self.generator = rank_generator(seed)

    def _uniform(self, low: float, high: float, size: int | None = None):
        """Uniform draws in [low, high) from the module's generator (float64)."""
        count = 1 if size is None else size
        unit = torch.rand(count, generator=self.generator, dtype=torch.float64)
        values = (low + (high - low) * unit).numpy()
        return float(values[0]) if size is None else values

    def sample_notch_parameters(self, gain_range: tuple[float, float]) -> NotchParameters:
        """Draws the bands, tap counts and peak gain of one convolutive filter.

        Arguments
        ---------
        gain_range : tuple of float
            ``(low, high)`` peak gain range in dB.

        Returns
        -------
        NotchParameters

        Example
        -------
        >>> params = RawBoost(seed=0).sample_notch_parameters((0.0, 0.0))
        >>> len(params.centres), all(n % 2 == 1 for n in params.num_taps)
        (5, True)
        """
        centres, widths, taps = [], [], []
        for _ in range(self.num_bands):
            centres.append(self._uniform(*self.freq_range))
            widths.append(self._uniform(*self.bandwidth_range))
            num_taps = int(self._uniform(*self.taps_range))
            taps.append(num_taps + 1 if num_taps % 2 == 0 else num_taps)
        gain_db = self._uniform(*gain_range)
        return NotchParameters(tuple(centres), tuple(widths), tuple(taps), gain_db)

    def convolutive(self, signal: np.ndarray) -> np.ndarray:
        """LnL: draws ``nonlinearity_order`` filters and applies
        :func:`lnl_convolutive_noise` (the first one at the linear gain, the others at
        the non-linear gains)."""
        gains = [self.gain_range] + [self.nonlinear_gain_range] * (self.nonlinearity_order - 1)
        filters = [
            notch_filter(self.sample_notch_parameters(gain), self.sample_rate) for gain in gains
        ]
        return lnl_convolutive_noise(signal, filters)

    def impulsive(self, signal: np.ndarray) -> np.ndarray:
        """ISD: touches a random ``[0, max_impulse_percent]`` % of the samples
        (:func:`isd_additive_noise`; factors are products of two uniforms in [-1, 1])."""
        percent = self._uniform(0.0, self.max_impulse_percent)
        count = int(len(signal) * percent / 100)
        positions = torch.randperm(len(signal), generator=self.generator)[:count].numpy()
        factors = self._uniform(-1.0, 1.0, count) * self._uniform(-1.0, 1.0, count)
        return isd_additive_noise(signal, positions, factors, self.impulse_gain)

    def coloured_noise(self, signal: np.ndarray) -> np.ndarray:
        """SSI: Gaussian noise shaped by a drawn notch filter, added at a drawn SNR
        (:func:`ssi_additive_noise`)."""
        white = torch.randn(len(signal), generator=self.generator, dtype=torch.float64).numpy()
        taps = notch_filter(self.sample_notch_parameters(self.gain_range), self.sample_rate)
        noise = fir_filter_same(white, taps)
        return ssi_additive_noise(signal, noise, self._uniform(*self.snr_range))

    def boost(self, signal: np.ndarray) -> np.ndarray:
        """Applies the configured algorithm to one utterance.

        Arguments
        ---------
        signal : numpy.ndarray
            ``[time]`` float64 samples.

        Returns
        -------
        numpy.ndarray
            ``[time]``.
        """
        if self.algorithm == self.PARALLEL:
            return normalize_if_clipping(self.convolutive(signal) + self.impulsive(signal))
        for step in self.ALGORITHMS[self.algorithm]:
            signal = getattr(self, step)(signal)
        return signal

    def forward(
        self, waveforms: torch.Tensor, lengths: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Boosts every utterance of a batch (on its valid samples).

        Arguments
        ---------
        waveforms : torch.Tensor
            ``[batch, time]`` waveforms.
        lengths : torch.Tensor or None
            ``[batch]`` relative lengths (SpeechBrain convention); ``None``: all full.

        Returns
        -------
        boosted : torch.Tensor
            ``[batch, time]``, the input's dtype and device; padding is zero.
        lengths : torch.Tensor
            The relative lengths, unchanged.
        """
        if waveforms.dim() != 2:
            raise ValueError(
                f"RawBoost: waveforms must be [batch, time], got {tuple(waveforms.shape)}"
            )
        batch, time = waveforms.shape
        if lengths is None:
            lengths = torch.ones(batch, device=waveforms.device)
        if self.algorithm == 0:
            return waveforms, lengths
        signals = waveforms.detach().double().cpu().numpy()
        boosted = np.zeros_like(signals)
        for row, num_samples in enumerate(torch.round(lengths * time).long().tolist()):
            if num_samples > 0:
                boosted[row, :num_samples] = self.boost(signals[row, :num_samples])
        out = torch.from_numpy(boosted).to(device=waveforms.device, dtype=waveforms.dtype)
        return out, lengths

    def get_extra_state(self) -> dict:
        """The random generator's state and the rank it belongs to (for checkpoints)."""
        return generator_state(self.generator)

    def set_extra_state(self, state: dict) -> None:
        """Restores the generator (another rank reseeds from it: :func:`restore_generator`)."""
        restore_generator(self.generator, state)
