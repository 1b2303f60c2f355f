"""Masked speech modelling (MSM) by band-pass filtering of the raw waveform.

The InF module of the paper keeps one random 2 kHz band of every training utterance and
asks the detector to give the same class distribution for the masked view as for the
clean one. This module makes the masked view.

Authors:
- speechbrain-ssdctx contributors (2025)
"""

import os

import numpy as np
import scipy.fft
import scipy.signal
import torch
import torch.distributed as dist
from speechbrain.dataio.dataio import length_to_mask


def ddp_rank() -> int:
    """Rank of this process in a data-parallel job (0 when there is none).

    Uses ``torch.distributed`` once it is initialised and the ``RANK`` environment
    variable (set by ``torchrun``) before that, so that modules built from the hparams
    before the process group exists still see their rank.

    Returns
    -------
    int
        The global rank.

    Example
    -------
    >>> ddp_rank() >= 0
    True
    """
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return int(os.environ.get("RANK", "0"))


class BandPassMasking(torch.nn.Module):
    """Keeps one random band of each utterance with a linear-phase Remez FIR band-pass.

    For every utterance a lower pass edge ``low`` is drawn uniformly in
    ``[low_min, low_max]``; the filter passes ``[low, low + band_width]`` and stops
    ``[0, low - transition]`` and ``[low + band_width + transition, sample_rate / 2]``.
    The filter has an odd number of symmetric taps (type I), so its delay of
    ``(numtaps - 1) / 2`` samples is compensated exactly and the output is aligned with
    the input and has its length. Samples beyond each utterance's relative length are
    zero in the output (and are ignored in the input).

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
            num_grid = int(np.floor((low_max - low_min) / grid_step + 1e-9)) + 1
            self._bank = torch.zeros(num_grid, numtaps)
            self._designed = torch.zeros(num_grid, dtype=torch.bool)
        base_seed = torch.initial_seed() if seed is None else seed
        self.generator = torch.Generator().manual_seed((base_seed + ddp_rank()) % 2**63)

    def design(self, low_freq: float) -> torch.Tensor:
        """Designs the band-pass filter for one lower pass edge (Remez algorithm).

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
        nyquist = self.sample_rate / 2
        high_freq = low_freq + self.band_width
        # Zero-width stop bands at the ends (e.g. [0, 0] for low = 160 Hz) still pin
        # the gain at 0 Hz / Nyquist, which is what the stop-band definition asks.
        bands = [
            0.0,
            max(low_freq - self.transition, 0.0),
            low_freq,
            high_freq,
            min(high_freq + self.transition, nyquist),
            nyquist,
        ]
        taps = scipy.signal.remez(
            self.numtaps,
            bands,
            [0.0, 1.0, 0.0],
            weight=[self.stop_weight, 1.0, self.stop_weight],
            fs=self.sample_rate,
        )
        return torch.from_numpy(taps).float()

    def sample_low_freqs(self, batch_size: int) -> torch.Tensor:
        """Draws one lower pass edge per utterance, uniformly (on the grid if any).

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
        if self.grid_step is None:
            unit = torch.rand(batch_size, generator=self.generator, dtype=torch.float64)
            return self.low_min + unit * (self.low_max - self.low_min)
        index = torch.randint(len(self._bank), (batch_size,), generator=self.generator)
        return self.low_min + index.double() * self.grid_step

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
        batch, time = waveforms.shape
        if lengths is None:
            lengths = torch.ones(batch, device=waveforms.device)
        if low_freqs is None:
            low_freqs = self.sample_low_freqs(batch)
        elif low_freqs.numel() != batch:
            raise ValueError(
                f"BandPassMasking: got {low_freqs.numel()} low_freqs for a batch of {batch}"
            )
        taps = self.filters(low_freqs).to(waveforms.device)
        with torch.autocast(device_type=waveforms.device.type, enabled=False):
            signals = waveforms.float()
            num_samples = torch.round(lengths * time)
            padded = bool((num_samples < time).any())
            if padded:  # zero the padding before (no leak) and after (no tail) filtering
                mask = length_to_mask(num_samples, max_len=time).to(signals)
                signals = signals * mask
            masked = _convolve_same(signals, taps)
            if padded:
                masked = masked * mask
        return masked.to(waveforms.dtype), lengths

    def get_extra_state(self) -> dict:
        """The random generator's state and the rank it belongs to (for checkpoints)."""
        return {"generator": self.generator.get_state(), "rank": ddp_rank()}

    def set_extra_state(self, state: dict) -> None:
        """Restores the generator; a different rank derives its own stream from it.

        A checkpoint is written by the main process only, so every rank reloads the
        main process's state: the rank that saved it continues its exact stream, the
        other ranks reseed deterministically from it plus their rank, so that their
        draws stay different from one another.
        """
        self.generator.set_state(state["generator"])
        rank = ddp_rank()
        if rank != state["rank"]:
            seed = int(torch.randint(2**62, (1,), generator=self.generator)) + rank
            self.generator.manual_seed(seed)


def _convolve_same(signals: torch.Tensor, taps: torch.Tensor) -> torch.Tensor:
    """Convolves each row with its own odd-length filter, centred ("same" length).

    torchaudio.functional.fftconvolve does this too, but with the FFT length
    ``time + numtaps - 1``, often a large prime factor: padding to a fast length
    (scipy.fft.next_fast_len) is three times faster for 6 s utterances.
    """
    time, numtaps = signals.shape[-1], taps.shape[-1]
    n_fft = scipy.fft.next_fast_len(time + numtaps - 1, real=True)
    spectrum = torch.fft.rfft(signals, n=n_fft) * torch.fft.rfft(taps, n=n_fft)
    delay = (numtaps - 1) // 2
    return torch.fft.irfft(spectrum, n=n_fft)[..., delay : delay + time]
