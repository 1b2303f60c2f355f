"""Noise and reverberation per utterance: SpeechBrain's ``AddNoise`` / ``AddReverb``, one
file drawn per call from torch's global generator.

SpeechBrain's modules read their noise / impulse-response files through a data loader
whose order is fixed by a ``ReproducibleRandomSampler`` (seeded from ``SB_GLOBAL_SEED``,
not from torch's generator), and keep one iterator over it across calls: the file an
utterance gets is the next one of that order, so it depends on how many utterances the
same process augmented before (the number of loader workers, the batch order, a resume),
not on the utterance. :class:`UtteranceAddNoise` and :class:`UtteranceAddReverb` reseed
that sampler from torch's global CPU generator and start a fresh iterator at every call:
under :class:`~speechbrain_ssdctx.augment.AugmentationChain`, which seeds the global
generator per (seed, epoch, utterance), an utterance gets the same file, gain and offset
wherever and whenever it is augmented. Everything else (CSV format, SNR, padding,
convolution, rescaling) is SpeechBrain's.

The files' loader is built lazily, at the first call (the constructors only store their
arguments, so a switched-off augmentation costs nothing); that first build reads one file
under a forked generator so that it leaves the draws of the call unchanged. The CSVs are
those of :func:`~speechbrain_ssdctx.data.noise.prepare_musan` and
:func:`~speechbrain_ssdctx.data.noise.prepare_rirs_noises`.

Authors
 * speechbrain-ssdctx contributors 2026
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from speechbrain.augment.time_domain import AddNoise, AddReverb

__all__ = ["UtteranceAddNoise", "UtteranceAddReverb"]

#: The loader state the modules build lazily; left out of pickles (rebuilt in each worker).
_LAZY_STATE = ("data_loader", "noise_data", "rir_data", "resampler")


class _PerCallDraw:
    """Reseeds the files' sampler from torch's global generator and restarts its iterator."""

    _iterator_name: str

    def _draw_afresh(self, build_loader: Callable[[], None]) -> None:
        """Builds the files' loader at the first call (under a forked generator: it draws
        nothing), then reseeds its sampler and restarts its iterator."""
        if not hasattr(self, "data_loader"):
            with torch.random.fork_rng(devices=[]):
                build_loader()
        sampler = self.data_loader.sampler
        sampler.seed = int(torch.randint(2**62, ()))  # ReproducibleRandomSampler: seed + epoch
        sampler.epoch = 0
        setattr(self, self._iterator_name, iter(self.data_loader))

    def __getstate__(self) -> dict:
        """Pickled without the files' loader and iterator (each process builds its own)."""
        state = self.__dict__.copy()
        for name in _LAZY_STATE:
            state.pop(name, None)
        return state


class UtteranceAddNoise(_PerCallDraw, AddNoise):
    """SpeechBrain's ``AddNoise`` whose noise file is drawn from torch's global generator.

    Arguments
    ---------
    csv_file : str or None
        The noise CSV (``ID,duration,wav,wav_format,wav_opts``: ``prepare_musan``);
        ``None`` adds white noise (SpeechBrain's default).
    snr_low, snr_high : float
        The range the signal-to-noise ratio (dB) is drawn from.
    **kwargs
        ``AddNoise``'s other arguments (``pad_noise``, ``normalize``, ``replacements``,
        ``noise_sample_rate``, ``clean_sample_rate``, ...), not ``sorting`` (random).

    Example
    -------
    >>> import numpy, soundfile
    >>> from speechbrain_ssdctx.data.noise import write_noise_csv
    >>> folder = getfixture("tmp_path")
    >>> for name, hz in (("low", 200), ("high", 3000)):
    ...     soundfile.write(folder / f"{name}.wav",
    ...                     numpy.sin(2 * numpy.pi * hz * numpy.arange(8000) / 16000), 16000)
    >>> _ = write_noise_csv([(n, folder / f"{n}.wav") for n in ("low", "high")],
    ...                     folder / "noise.csv")
    >>> add_noise = UtteranceAddNoise(str(folder / "noise.csv"), snr_low=0, snr_high=0)
    >>> def noisy(seed):
    ...     torch.manual_seed(seed)
    ...     return add_noise(torch.zeros(1, 4000), torch.ones(1))
    >>> torch.equal(noisy(1), noisy(1))  # whatever was drawn in between
    True
    """

    _iterator_name = "noise_data"

    def __init__(
        self, csv_file: str | None = None, snr_low: float = 0, snr_high: float = 0, **kwargs
    ):
        super().__init__(csv_file=csv_file, snr_low=snr_low, snr_high=snr_high,
                         sorting="random", **kwargs)

    def forward(self, waveforms: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Adds noise to ``[batch, time]`` waveforms (``lengths`` relative, as SpeechBrain's)."""
        if self.csv_file is not None:
            self._draw_afresh(lambda: self._load_noise(
                (lengths * waveforms.shape[1]).unsqueeze(1), waveforms.shape[1]))
        return super().forward(waveforms, lengths)


class UtteranceAddReverb(_PerCallDraw, AddReverb):
    """SpeechBrain's ``AddReverb`` whose impulse response is drawn from torch's global
    generator.

    Arguments
    ---------
    csv_file : str or None
        The impulse responses' CSV (``prepare_rirs_noises``' ``rirs_simulated`` or
        ``rirs_real``); ``None`` only where the module is never called (a switched-off
        augmentation).
    **kwargs
        ``AddReverb``'s other arguments (``rir_scale_factor``, ``replacements``,
        ``reverb_sample_rate``, ``clean_sample_rate``), not ``sorting`` (random).

    Example
    -------
    >>> import numpy, soundfile
    >>> from speechbrain_ssdctx.data.noise import write_noise_csv
    >>> folder = getfixture("tmp_path")
    >>> for delay in (10, 50):
    ...     rir = numpy.zeros(100)
    ...     rir[0], rir[delay] = 1.0, 0.5
    ...     soundfile.write(folder / f"echo{delay}.wav", rir, 16000)
    >>> _ = write_noise_csv([(f"echo{d}", folder / f"echo{d}.wav") for d in (10, 50)],
    ...                     folder / "rirs.csv")
    >>> add_reverb = UtteranceAddReverb(str(folder / "rirs.csv"))
    >>> clean = torch.randn(1, 4000, generator=torch.Generator().manual_seed(0))
    >>> def reverberant(seed):
    ...     torch.manual_seed(seed)
    ...     return add_reverb(clean)
    >>> torch.equal(reverberant(3), reverberant(3))
    True
    """

    _iterator_name = "rir_data"

    def __init__(self, csv_file: str | None = None, **kwargs):
        super().__init__(csv_file=csv_file, sorting="random", **kwargs)

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        """Convolves ``[batch, time]`` waveforms with one drawn impulse response."""
        self._draw_afresh(lambda: self._load_rir(
            waveforms.unsqueeze(-1) if waveforms.dim() == 2 else waveforms))
        return super().forward(waveforms)
