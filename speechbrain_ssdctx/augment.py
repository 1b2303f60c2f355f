"""Waveform augmentation: band-pass masking (InF) and RawBoost.

The InF module of the paper keeps one random 2 kHz band of every training utterance and
asks the detector to give the same class distribution for the masked view as for the
clean one: :class:`BandPassMasking` makes the masked view. :class:`RawBoost` (Tak et al.
2022) distorts training waveforms with convolutive, impulsive and coloured additive noise.

As in ``torchaudio.functional`` / ``torchaudio.transforms`` (or SpeechBrain's ``DropFreq``
over ``notch_filter``), the signal processing is public pure functions
(:func:`design_bandpass`, :func:`draw_low_freqs`, :func:`fir_filter_same`,
:func:`fir_filter_batch`, :func:`notch_filter` and RawBoost's noise functions); the modules
hold the settings, the random generator (:func:`rank_generator`) and the filter cache.

Authors:
- speechbrain-ssdctx contributors (2025)
"""

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import scipy.fft
import scipy.signal
import torch
from speechbrain.dataio.dataio import length_to_mask

from speechbrain_ssdctx.utils.distributed import get_rank


def rank_generator(seed: int | None = None) -> torch.Generator:
    """A CPU generator seeded with ``seed`` plus this process's data-parallel rank.

    Ranks thus draw different augmentations from the same configuration. ``None`` uses
    ``torch.initial_seed()`` (which SpeechBrain's ``seed_everything`` sets).

    Example
    -------
    >>> a, b = rank_generator(5), rank_generator(5)
    >>> torch.equal(torch.rand(3, generator=a), torch.rand(3, generator=b))
    True
    """
    base_seed = torch.initial_seed() if seed is None else seed
    return torch.Generator().manual_seed((base_seed + get_rank()) % 2**63)


def generator_state(generator: torch.Generator) -> dict:
    """A generator's state and the rank it belongs to, for a module's checkpoint
    (``get_extra_state``); :func:`restore_generator` reads it back."""
    return {"generator": generator.get_state(), "rank": get_rank()}


def restore_generator(generator: torch.Generator, state: dict) -> None:
    """Restores a :func:`generator_state`; a different rank derives its own stream from it.

    A checkpoint is written by the main process only, so every rank reloads the main
    process's state: the rank that saved it continues its exact stream, the other ranks
    reseed deterministically from it plus their rank, so that their draws stay different
    from one another.

    Example
    -------
    >>> generator = rank_generator(1)
    >>> saved = generator_state(generator)
    >>> expected = torch.rand(2, generator=generator)
    >>> restore_generator(generator, saved)
    >>> torch.equal(torch.rand(2, generator=generator), expected)
    True
    """
    generator.set_state(state["generator"])
    rank = get_rank()
    if rank != state["rank"]:
        seed = int(torch.randint(2**62, (1,), generator=generator)) + rank
        generator.manual_seed(seed)


def design_bandpass(
    low_freq: float,
    band_width: float = 2000.0,
    transition: float = 160.0,
    numtaps: int = 143,
    stop_weight: float = 10.0,
    sample_rate: int = 16000,
) -> np.ndarray:
    """Designs a linear-phase band-pass FIR with the Remez exchange algorithm.

    The filter passes ``[low_freq, low_freq + band_width]`` and stops
    ``[0, low_freq - transition]`` and ``[low_freq + band_width + transition,
    sample_rate / 2]`` (``scipy.signal.remez``, stop bands weighted ``stop_weight``
    against the pass band). Edges beyond 0 Hz or the Nyquist frequency are clipped:
    a zero-width stop band (e.g. ``[0, 0]`` for ``low_freq = 160``) still pins the gain
    at 0 Hz / Nyquist, which is what the stop-band definition asks.

    Arguments
    ---------
    low_freq : float
        Lower pass edge, in Hz.
    band_width : float
        Width of the pass band, in Hz (paper: 2000).
    transition : float
        Width of each transition band, in Hz (paper: 160).
    numtaps : int
        Number of taps; odd for a type I filter with an integer delay.
    stop_weight : float
        Weight of the stop bands against the pass band.
    sample_rate : int
        Sampling rate, in Hz.

    Returns
    -------
    numpy.ndarray
        The ``numtaps`` float64 taps (symmetric).

    Example
    -------
    >>> taps = design_bandpass(2000.0)
    >>> taps.shape, bool(np.allclose(taps, taps[::-1]))
    ((143,), True)
    """
    nyquist = sample_rate / 2
    high_freq = low_freq + band_width
    bands = [
        0.0,
        max(low_freq - transition, 0.0),
        low_freq,
        high_freq,
        min(high_freq + transition, nyquist),
        nyquist,
    ]
    return scipy.signal.remez(
        numtaps, bands, [0.0, 1.0, 0.0], weight=[stop_weight, 1.0, stop_weight], fs=sample_rate
    )


def low_freq_grid_size(low_min: float, low_max: float, grid_step: float) -> int:
    """Number of lower edges ``low_min + k * grid_step`` that do not exceed ``low_max``.

    Example
    -------
    >>> low_freq_grid_size(160.0, 5840.0, 1.0)
    5681
    """
    return int(np.floor((low_max - low_min) / grid_step + 1e-9)) + 1


def draw_low_freqs(
    batch_size: int,
    low_min: float,
    low_max: float,
    grid_step: float | None,
    generator: torch.Generator,
) -> torch.Tensor:
    """Draws lower pass edges uniformly in ``[low_min, low_max]``, on a grid if one is given.

    With a grid, each of the :func:`low_freq_grid_size` edges ``low_min + k * grid_step``
    is equally likely; without, the edges are continuous.

    Arguments
    ---------
    batch_size : int
        Number of edges to draw.
    low_min, low_max : float
        Range of the edges, in Hz.
    grid_step : float or None
        Grid step in Hz; ``None`` for continuous draws.
    generator : torch.Generator
        The source of randomness (the only state this function touches).

    Returns
    -------
    torch.Tensor
        ``[batch_size]`` float64 lower edges in Hz.

    Example
    -------
    >>> lows = draw_low_freqs(100, 160.0, 5840.0, 1.0, torch.Generator().manual_seed(0))
    >>> bool(((lows >= 160.0) & (lows <= 5840.0) & (lows == lows.round())).all())
    True
    """
    if grid_step is None:
        unit = torch.rand(batch_size, generator=generator, dtype=torch.float64)
        return low_min + unit * (low_max - low_min)
    num_grid = low_freq_grid_size(low_min, low_max, grid_step)
    index = torch.randint(num_grid, (batch_size,), generator=generator)
    return low_min + index.double() * grid_step


def fir_filter_same(
    signals: np.ndarray | torch.Tensor, taps: np.ndarray | torch.Tensor
) -> np.ndarray | torch.Tensor:
    """Filters rows with odd-length linear-phase FIRs, delay compensated ("same" length).

    Row ``j`` of ``signals`` is convolved with row ``j`` of ``taps`` (or all rows with one
    filter) through one real FFT of a fast length (``scipy.fft.next_fast_len``; the
    length ``time + num_taps - 1`` that ``np.convolve`` or
    ``torchaudio.functional.fftconvolve`` use often has a large prime factor, three
    times slower for 6 s utterances), and the output is shifted by the filter delay
    ``(num_taps - 1) / 2`` so that it is aligned with the input: it equals
    ``np.convolve(signal, taps, mode="same")``. NumPy arrays are transformed with
    ``scipy.fft``, torch tensors with ``torch.fft`` (on their device, in their dtype).

    Arguments
    ---------
    signals : numpy.ndarray or torch.Tensor
        ``[time]`` or ``[rows, time]`` samples.
    taps : numpy.ndarray or torch.Tensor
        ``[num_taps]`` or ``[rows, num_taps]`` taps (same type as ``signals``),
        ``num_taps`` odd.

    Returns
    -------
    numpy.ndarray or torch.Tensor
        The filtered signals, shaped like ``signals``.

    Example
    -------
    >>> out = fir_filter_same(np.array([0.0, 1.0, 0.0, 0.0]), np.array([0.25, 0.5, 0.25]))
    >>> np.round(out, 6)
    array([0.25, 0.5 , 0.25, 0.  ])
    >>> fir_filter_same(torch.tensor([0.0, 1.0, 0.0]), torch.tensor([0.25, 0.5, 0.25]))
    tensor([0.2500, 0.5000, 0.2500])
    """
    time, num_taps = signals.shape[-1], taps.shape[-1]
    if num_taps % 2 == 0:
        raise ValueError(f"fir_filter_same: taps must have an odd length, got {num_taps}")
    fft = torch.fft if isinstance(signals, torch.Tensor) else scipy.fft
    n_fft = scipy.fft.next_fast_len(time + num_taps - 1, real=True)
    spectrum = fft.rfft(signals, n=n_fft) * fft.rfft(taps, n=n_fft)
    delay = (num_taps - 1) // 2
    return fft.irfft(spectrum, n=n_fft)[..., delay : delay + time]


def fir_filter_batch(
    waveforms: torch.Tensor, taps: torch.Tensor, lengths: torch.Tensor | None = None
) -> torch.Tensor:
    """Filters each utterance of a padded batch with its own FIR, on its valid samples.

    Samples beyond each utterance's relative length are zeroed before filtering (no
    leak into the utterance) and after (no filter tail in the padding); the filtering
    (:func:`fir_filter_same`) runs in float32 even inside autocast.

    Arguments
    ---------
    waveforms : torch.Tensor
        ``[batch, time]`` waveforms.
    taps : torch.Tensor
        ``[batch, num_taps]`` (or ``[num_taps]``) odd-length linear-phase filters.
    lengths : torch.Tensor or None
        ``[batch]`` relative lengths in (0, 1] (SpeechBrain convention); ``None``: all
        full.

    Returns
    -------
    torch.Tensor
        ``[batch, time]`` filtered waveforms, in the input's dtype and device.

    Example
    -------
    >>> taps = torch.tensor([[0.0, 1.0, 0.0], [0.5, 0.0, 0.5]])
    >>> fir_filter_batch(torch.ones(2, 4), taps, torch.tensor([1.0, 0.5]))
    tensor([[1.0000, 1.0000, 1.0000, 1.0000],
            [0.5000, 0.5000, 0.0000, 0.0000]])
    """
    time = waveforms.shape[-1]
    with torch.autocast(device_type=waveforms.device.type, enabled=False):
        signals = waveforms.float()
        taps = taps.to(device=waveforms.device, dtype=torch.float32)
        padded = False
        if lengths is not None:
            num_samples = torch.round(lengths * time)
            padded = bool((num_samples < time).any())
        if padded:
            mask = length_to_mask(num_samples, max_len=time).to(signals)
            signals = signals * mask
        filtered = fir_filter_same(signals, taps)
        if padded:
            filtered = filtered * mask
    return filtered.to(waveforms.dtype)


class BandPassMasking(torch.nn.Module):
    """Keeps one random band of each utterance with a linear-phase Remez FIR band-pass.

    For every utterance a lower pass edge ``low`` is drawn uniformly in
    ``[low_min, low_max]`` (:func:`draw_low_freqs`); the filter (:func:`design_bandpass`)
    passes ``[low, low + band_width]`` and stops ``[0, low - transition]`` and
    ``[low + band_width + transition, sample_rate / 2]``. The filter has an odd number of
    symmetric taps (type I), so its delay of ``(numtaps - 1) / 2`` samples is compensated
    exactly and the output is aligned with the input and has its length
    (:func:`fir_filter_batch`). Samples beyond each utterance's relative length are zero
    in the output (and are ignored in the input). The module holds the settings, the
    random generator and the cache of designed filters; the signal processing is in
    those public functions.

    The default ``numtaps=143`` with ``stop_weight=10`` is the smallest odd length for
    which every lower edge on a 1 Hz grid over [160, 5840] Hz has its stop bands at
    least 40 dB down and its pass band within 1 dB of unity (measured with
    ``scipy.signal.freqz`` on 32768 points: worst stop band -40.3 dB, pass band
    -0.85 / +0.78 dB; 141 taps reach only -39.7 dB at one edge).

    Arguments
    ---------
    sample_rate : int
        Sampling rate of the waveforms, in Hz.
    band_width : float
        Width of the pass band, in Hz (paper: 2000).
    transition : float
        Width of each transition band, in Hz (paper: 160).
    low_min : float
        Smallest lower pass edge, in Hz (paper: 160).
    low_max : float
        Largest lower pass edge, in Hz (paper: 5840, so that the upper stop band
        ends at 8 kHz).
    numtaps : int
        Number of filter taps; must be odd (linear phase with an integer delay).
    stop_weight : float
        Weight of the stop bands against the pass band in the Remez design. 10 trades
        a ~0.1 pass-band ripple (under 1 dB) for a ~0.01 stop-band ripple (40 dB).
    grid_step : float or None
        Lower edges are snapped to the grid ``low_min + k * grid_step`` (Hz) and each
        grid filter is designed once, when first needed, then reused. ``None`` designs
        the exact filter of every utterance (about 1 ms of Remez per utterance).
    seed : int or None
        Seed of this module's random generator. Each data-parallel rank adds its rank
        so that ranks draw different bands. ``None`` uses ``torch.initial_seed()``
        (which SpeechBrain's ``seed_everything`` sets) plus the rank.

    Example
    -------
    >>> masking = BandPassMasking(seed=1)
    >>> waveforms = torch.randn(2, 16000)
    >>> masked, lengths = masking(waveforms, torch.tensor([1.0, 0.5]))
    >>> masked.shape
    torch.Size([2, 16000])
    >>> bool(masked[1, 8000:].eq(0).all())
    True
    >>> masking.design(1000.0).shape
    torch.Size([143])
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        band_width: float = 2000.0,
        transition: float = 160.0,
        low_min: float = 160.0,
        low_max: float = 5840.0,
        numtaps: int = 143,
        stop_weight: float = 10.0,
        grid_step: float | None = 1.0,
        seed: int | None = None,
    ):
        super().__init__()
        nyquist = sample_rate / 2
        if numtaps < 3 or numtaps % 2 == 0:
            raise ValueError(f"BandPassMasking: numtaps must be odd and >= 3, got {numtaps}")
        if band_width <= 0 or transition <= 0:
            raise ValueError(
                f"BandPassMasking: band_width ({band_width}) and transition ({transition}) "
                "must be positive"
            )
        if not 0 <= low_min <= low_max or low_max + band_width > nyquist:
            raise ValueError(
                f"BandPassMasking: need 0 <= low_min <= low_max and low_max + band_width "
                f"<= {nyquist} Hz, got low_min={low_min}, low_max={low_max}, "
                f"band_width={band_width}"
            )
        if grid_step is not None and grid_step <= 0:
            raise ValueError(f"BandPassMasking: grid_step must be positive, got {grid_step}")
        self.sample_rate = sample_rate
        self.band_width = band_width
        self.transition = transition
        self.low_min = low_min
        self.low_max = low_max
        self.numtaps = numtaps
        self.stop_weight = stop_weight
        self.grid_step = grid_step
        if grid_step is not None:
            num_grid = low_freq_grid_size(low_min, low_max, grid_step)
            self._bank = torch.zeros(num_grid, numtaps)
            self._designed = torch.zeros(num_grid, dtype=torch.bool)
        self.generator = rank_generator(seed)

    def design(self, low_freq: float) -> torch.Tensor:
        """The module's band-pass filter for one lower pass edge (:func:`design_bandpass`).

        Arguments
        ---------
        low_freq : float
            Lower pass edge, in Hz.

        Returns
        -------
        torch.Tensor
            The ``numtaps`` float32 taps (symmetric).

        Example
        -------
        >>> taps = BandPassMasking().design(2000.0)
        >>> bool(torch.allclose(taps, taps.flip(0)))
        True
        """
        taps = design_bandpass(
            low_freq,
            band_width=self.band_width,
            transition=self.transition,
            numtaps=self.numtaps,
            stop_weight=self.stop_weight,
            sample_rate=self.sample_rate,
        )
        return torch.from_numpy(taps).float()

    def sample_low_freqs(self, batch_size: int) -> torch.Tensor:
        """Draws one lower pass edge per utterance from the module's generator
        (:func:`draw_low_freqs`, on the grid if any).

        Arguments
        ---------
        batch_size : int
            Number of edges to draw.

        Returns
        -------
        torch.Tensor
            ``[batch_size]`` float64 lower edges in Hz.

        Example
        -------
        >>> lows = BandPassMasking(seed=0).sample_low_freqs(100)
        >>> bool(((lows >= 160.0) & (lows <= 5840.0)).all())
        True
        """
        return draw_low_freqs(
            batch_size, self.low_min, self.low_max, self.grid_step, self.generator
        )

    def filters(self, low_freqs: torch.Tensor) -> torch.Tensor:
        """Taps for a batch of lower edges (snapped to the grid when there is one).

        Arguments
        ---------
        low_freqs : torch.Tensor
            ``[batch]`` lower pass edges in Hz, within ``[low_min, low_max]``.

        Returns
        -------
        torch.Tensor
            ``[batch, numtaps]`` float32 taps, on the CPU.

        Example
        -------
        >>> BandPassMasking().filters(torch.tensor([160.0, 5840.0])).shape
        torch.Size([2, 143])
        """
        low_freqs = low_freqs.detach().double().cpu().reshape(-1)
        tolerance = 1e-6
        outside = (low_freqs < self.low_min - tolerance) | (low_freqs > self.low_max + tolerance)
        if outside.any():
            raise ValueError(
                f"BandPassMasking: low_freqs must lie in [{self.low_min}, {self.low_max}] Hz, "
                f"got {low_freqs[outside].tolist()}"
            )
        if self.grid_step is None:
            return torch.stack([self.design(float(low)) for low in low_freqs])
        index = torch.round((low_freqs - self.low_min) / self.grid_step).long()
        index = index.clamp(max=len(self._bank) - 1)
        for i in torch.unique(index[~self._designed[index]]).tolist():
            self._bank[i] = self.design(self.low_min + i * self.grid_step)
            self._designed[i] = True
        return self._bank[index]

    def forward(
        self,
        waveforms: torch.Tensor,
        lengths: torch.Tensor | None = None,
        low_freqs: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Band-passes every utterance with its own filter.

        Arguments
        ---------
        waveforms : torch.Tensor
            ``[batch, time]`` waveforms.
        lengths : torch.Tensor or None
            ``[batch]`` relative lengths in (0, 1] (SpeechBrain convention); ``None``
            means all utterances fill the batch.
        low_freqs : torch.Tensor or None
            ``[batch]`` lower pass edges in Hz; ``None`` draws them.

        Returns
        -------
        masked : torch.Tensor
            ``[batch, time]`` masked waveforms, in the input's dtype and device.
        lengths : torch.Tensor
            The relative lengths, unchanged.
        """
        if waveforms.dim() != 2:
            raise ValueError(
                f"BandPassMasking: waveforms must be [batch, time], got {tuple(waveforms.shape)}"
            )
        batch = waveforms.shape[0]
        if lengths is None:
            lengths = torch.ones(batch, device=waveforms.device)
        if low_freqs is None:
            low_freqs = self.sample_low_freqs(batch)
        elif low_freqs.numel() != batch:
            raise ValueError(
                f"BandPassMasking: got {low_freqs.numel()} low_freqs for a batch of {batch}"
            )
        return fir_filter_batch(waveforms, self.filters(low_freqs), lengths), lengths

    def get_extra_state(self) -> dict:
        """The random generator's state and the rank it belongs to (for checkpoints)."""
        return generator_state(self.generator)

    def set_extra_state(self, state: dict) -> None:
        """Restores the generator; a different rank derives its own stream from it
        (:func:`restore_generator`)."""
        restore_generator(self.generator, state)


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
