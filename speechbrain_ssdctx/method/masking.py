"""InF's masked speech modelling: a random band-pass view of every training utterance.

The InF module of the paper keeps one random 2 kHz band of every training utterance and
asks the detector to give the same class distribution for the masked view as for the
clean one: :class:`BandPassMasking` makes the masked view.

As in ``torchaudio.functional`` / ``torchaudio.transforms`` (or SpeechBrain's ``DropFreq``
over ``notch_filter``), the signal processing is public pure functions
(:func:`design_bandpass`, :func:`draw_low_freqs`, :func:`fir_filter_same`,
:func:`fir_filter_batch`); the module holds the settings, the random generator
(:func:`~speechbrain_ssdctx.utils.reproducibility.rank_generator`) and the filter cache.

Authors:
- speechbrain-ssdctx contributors (2025)
"""


import numpy as np
import scipy.fft
import scipy.signal
import torch
from speechbrain.dataio.dataio import length_to_mask

from speechbrain_ssdctx.utils.reproducibility import (
    generator_state,
    rank_generator,
    restore_generator,
)


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
