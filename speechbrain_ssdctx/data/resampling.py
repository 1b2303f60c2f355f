"""Resampling audio between any two integer rates in memory that does not grow with their gcd.

``torchaudio.functional.resample`` builds a dense kernel of ``new x (orig + 2 width)``
taps, where ``orig`` and ``new`` are the rates divided by their gcd: for 44,100 Hz to
16 kHz that is 160 x 475 taps, but for 44,101 Hz (a prime) it is 16,000 x 44,135 taps,
2.8 GB in float32, for any file, even 0.2 s long. Almost all of those taps are zero: each
output phase has only ``2 width + 1`` taps inside the filter's reach.

:class:`Resampler` computes the same filter (torchaudio's windowed sinc, ``sinc_interp_hann``
with ``lowpass_filter_width=6`` and ``rolloff=0.99``, evaluated at the same instants) but
keeps only those taps, polyphase: ``new x (2 width + 1)`` taps, about 12 times the larger
of the two reduced rates (at most about 15 x the larger rate in Hz), whatever the gcd. The
ratio is exact (no rational approximation); the output equals torchaudio's to float
rounding (about 1e-6), and a sine keeps its frequency (``tests/test_resampling.py``).

Authors
 * speechbrain-ssdctx contributors 2025
"""

from __future__ import annotations

import functools
import math

import torch

__all__ = ["Resampler", "resampler"]

#: Input samples copied per pass (windows of taps for a group of periods): 16 MB of float32.
_GATHERED = 1 << 22


class Resampler:
    """Band-limited resampling from ``orig_freq`` to ``new_freq`` (torchaudio's filter, polyphase).

    Output sample ``n`` is the band-limited signal at time ``n / new_freq``; the output of
    ``length`` samples has ``ceil(length * new_freq / orig_freq)`` samples, as torchaudio's.

    Arguments
    ---------
    orig_freq : int
        Rate of the input, in Hz.
    new_freq : int
        Rate of the output, in Hz.
    lowpass_filter_width : int
        Zero crossings of the sinc on each side (torchaudio's default, 6).
    rolloff : float
        Cut-off as a fraction of the lower Nyquist frequency (torchaudio's default, 0.99).

    Example
    -------
    >>> resampler = Resampler(44101, 16000)
    >>> resampler.kernel.shape  # torchaudio's kernel would be [16000, 1, 44135]
    torch.Size([16000, 35])
    >>> resampler(torch.zeros(8820)).shape  # 0.2 s
    torch.Size([3200])
    """

    def __init__(
        self,
        orig_freq: int,
        new_freq: int,
        lowpass_filter_width: int = 6,
        rolloff: float = 0.99,
    ):
        if any(rate <= 0 or int(rate) != rate for rate in (orig_freq, new_freq)):
            raise ValueError(f"Rates must be positive integers, got {orig_freq} and {new_freq}")
        divisor = math.gcd(int(orig_freq), int(new_freq))
        #: Input samples per period (the filters repeat every period).
        self.in_period = int(orig_freq) // divisor
        #: Output samples per period (one filter, or phase, each).
        self.out_period = int(new_freq) // divisor
        base = min(self.in_period, self.out_period) * rolloff
        #: The filter's reach, in input samples on each side of an output instant.
        self.width = math.ceil(lowpass_filter_width * self.in_period / base)
        phase = torch.arange(self.out_period, dtype=torch.int64)
        # Phase j sits at input time j * in / out: its taps are the input samples from
        # floor(that) - width to floor(that) + width, the only ones inside the reach.
        first = phase * self.in_period // self.out_period - self.width
        taps = first[:, None] + torch.arange(2 * self.width + 1)
        time = taps.double() / self.in_period - phase[:, None].double() / self.out_period
        time = (time * base).clamp(-lowpass_filter_width, lowpass_filter_width)
        window = torch.cos(time * math.pi / lowpass_filter_width / 2) ** 2
        time = time * math.pi
        sinc = torch.where(time == 0, torch.ones_like(time), time.sin() / time)
        #: ``[out_period, 2 width + 1]`` filter taps, one row per output phase.
        self.kernel = (sinc * window * base / self.in_period).to(torch.float32)
        #: Column of each tap in a frame that starts ``width`` samples before its period.
        self.columns = taps + self.width

    def __call__(self, wav: torch.Tensor) -> torch.Tensor:
        """Resamples the last dimension of ``wav`` (float; any leading dimensions)."""
        if self.in_period == self.out_period:
            return wav
        length = wav.shape[-1]
        target = -(-self.out_period * length // self.in_period)
        periods = -(-target // self.out_period)
        taps = self.kernel.shape[1]
        right = max(0, periods * self.in_period + taps - self.width - length)
        # Every window of `taps` input samples (a view); phase j of period k reads the one
        # starting at k * in_period + columns[j, 0].
        windows = torch.nn.functional.pad(wav, (self.width, right)).unfold(-1, taps, 1)
        kernel, first = self.kernel.to(wav), self.columns[:, 0].to(wav.device)
        step = max(1, _GATHERED // (self.out_period * taps))  # periods per pass
        out = []
        for start in range(0, periods, step):
            period = torch.arange(start, min(periods, start + step), device=wav.device)
            where = (period[:, None] * self.in_period + first).reshape(-1)
            chosen = windows[..., where, :].unflatten(-2, (period.numel(), self.out_period))
            out.append(torch.einsum("...pjm,jm->...pj", chosen, kernel).flatten(-2))
        return torch.cat(out, dim=-1)[..., :target]


@functools.lru_cache(maxsize=8)
def resampler(orig_freq: int, new_freq: int) -> Resampler:
    """The :class:`Resampler` between two rates, built once (its filter takes a moment for
    large reduced rates) and shared.

    Example
    -------
    >>> resampler(22050, 16000) is resampler(22050, 16000)
    True
    """
    return Resampler(orig_freq, new_freq)
