"""The detector as one traceable graph: waveform windows in, contract logits out.

What ``ssdctx-export --format onnx`` and ``--format torchscript`` trace is
:class:`ScoringGraph`: ``wavs [batch, time] -> logits [batch, 2]`` (bona fide at index 1,
through :class:`~speechbrain_ssdctx.method.contract.ContractAdapter`), with the front end
(sinc filters, filter banks, SSL feature encoders) inside and both axes dynamic. The
window policy and the score convention stay in Python
(:mod:`speechbrain_ssdctx.inference.portable_detector`), as in
:class:`~speechbrain_ssdctx.inference.SpoofDetector`.

:func:`traceable` prepares a detector for tracing, and puts everything back afterwards:

- evaluation mode;
- modules whose ``state_dict`` holds SpeechBrain's hook-saved state (a dict, see
  :class:`~speechbrain_ssdctx.utils.module_state.HookedStateMixin`) hide it from the
  tracer, which only takes tensors (the state is still used, as constants);
- for ONNX, SpeechBrain's ``STFT`` computes the short-time Fourier transform as a
  convolution with a windowed DFT basis (:func:`dft_stft`): the ONNX exporter of
  TorchScript graphs has no complex tensors, which ``torch.stft`` returns.

Authors
 * speechbrain-ssdctx contributors 2025
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import torch
from torch.nn import functional as F

from speechbrain_ssdctx.method.contract import ContractAdapter
from speechbrain_ssdctx.utils.module_state import HookedStateMixin


class ScoringGraph(torch.nn.Module):
    """``wavs [batch, time] -> logits [batch, 2]`` of a detector, index 1 = bona fide.

    Every row is a whole window, as :class:`~speechbrain_ssdctx.inference.SpoofDetector`
    runs its windows (never padded): the detector gets ``lengths=None`` (whole rows, by the
    contract), so that no relative-length arithmetic freezes the traced shapes.

    Arguments
    ---------
    detector : torch.nn.Module
        A detector (``forward(wavs, lengths) -> (embedding, logits)``), or the
        :class:`ContractAdapter` of an exported model folder.

    Example
    -------
    >>> from speechbrain_ssdctx.models import LCNN
    >>> graph = ScoringGraph(LCNN(n_mels=32)).eval()
    >>> graph(torch.randn(2, 4000)).shape
    torch.Size([2, 2])
    """

    def __init__(self, detector: torch.nn.Module):
        super().__init__()
        self.scorer = detector if isinstance(detector, ContractAdapter) else \
            ContractAdapter(detector, bonafide_index=1)

    def forward(self, wavs: torch.Tensor) -> torch.Tensor:
        """The logits ``[batch, 2]`` of ``[batch, time]`` windows."""
        return self.scorer(wavs, None)[1]


def dft_stft(stft: torch.nn.Module, wavs: torch.Tensor) -> torch.Tensor:
    """SpeechBrain's ``STFT(wavs)`` as a strided convolution with a windowed DFT basis.

    The same output as ``speechbrain.processing.features.STFT`` for ``[batch, time]``
    inputs, ``[batch, frames, n_fft // 2 + 1, 2]`` (real, imaginary), to float32
    rounding: frames centred with the module's ``pad_mode``, its window (centred in
    ``n_fft``), one-sided, optionally normalised. Made of ``pad`` and ``conv1d`` only, so
    that it exports to ONNX.

    Arguments
    ---------
    stft : torch.nn.Module
        A ``speechbrain.processing.features.STFT`` (its settings and window are used).
    wavs : torch.Tensor
        ``[batch, time]`` waveforms.

    Returns
    -------
    torch.Tensor

    Example
    -------
    >>> from speechbrain.processing.features import STFT
    >>> stft = STFT(16000, n_fft=512, win_length=32, hop_length=8)
    >>> wavs = torch.randn(2, 4000)
    >>> torch.allclose(dft_stft(stft, wavs), stft(wavs), atol=1e-3)
    True
    """
    if wavs.dim() != 2 or not stft.onesided:
        raise ValueError("dft_stft computes one-sided STFTs of [batch, time] waveforms only")
    n_fft = stft.n_fft
    window = stft.window.double()
    left = (n_fft - window.numel()) // 2
    window = F.pad(window, (left, n_fft - window.numel() - left))
    frequencies = torch.arange(n_fft // 2 + 1, dtype=torch.float64)[:, None]
    phase = 2 * math.pi * frequencies * torch.arange(n_fft, dtype=torch.float64) / n_fft
    basis = torch.cat([torch.cos(phase), -torch.sin(phase)]) * window
    if stft.normalized_stft:
        basis = basis / math.sqrt(n_fft)
    signal = wavs.unsqueeze(1)
    if stft.center:
        signal = F.pad(signal, (n_fft // 2, n_fft // 2), mode=stft.pad_mode)
    spectrum = F.conv1d(signal, basis.to(wavs.dtype).unsqueeze(1), stride=stft.hop_length)
    real, imaginary = spectrum.chunk(2, dim=1)
    return torch.stack([real, imaginary], dim=-1).transpose(1, 2)


@contextlib.contextmanager
def traceable(module: torch.nn.Module, onnx: bool) -> Iterator[torch.nn.Module]:
    """``module`` ready to trace, in the block (see the module description); restored after.

    Arguments
    ---------
    module : torch.nn.Module
        The graph to trace (e.g. a :class:`ScoringGraph`).
    onnx : bool
        Also replace ``torch.stft`` by :func:`dft_stft` (for the ONNX exporter).

    Yields
    ------
    torch.nn.Module
        ``module``.
    """
    from speechbrain.processing.features import STFT

    modes = [(sub, sub.training) for sub in module.modules()]
    swapped = [(sub, type(sub)) for sub in module.modules() if isinstance(sub, HookedStateMixin)]
    stfts = [sub for sub in module.modules() if isinstance(sub, STFT)] if onnx else []
    module.eval()
    try:
        for sub, cls in swapped:
            sub.__class__ = _without_extra_state(cls)
        for stft in stfts:
            stft.forward = dft_stft.__get__(stft)
        yield module
    finally:
        for sub, cls in swapped:
            sub.__class__ = cls
        for stft in stfts:
            del stft.forward
        for sub, training in modes:
            sub.training = training


@contextlib.contextmanager
def quiet_tracing() -> Iterator[None]:
    """Silences the tracers' deprecation and tracer warnings (the graph is checked
    against the detector after every export instead)."""
    import warnings

    with warnings.catch_warnings():
        for category in (torch.jit.TracerWarning, DeprecationWarning, FutureWarning, UserWarning):
            warnings.simplefilter("ignore", category)
        yield


_PLAIN_CLASSES: dict[type, type] = {}


def _without_extra_state(cls: type) -> type:
    """A subclass of ``cls`` whose ``state_dict`` has no ``_extra_state`` (cached)."""
    if cls not in _PLAIN_CLASSES:
        _PLAIN_CLASSES[cls] = type(cls.__name__, (cls,), {
            "get_extra_state": torch.nn.Module.get_extra_state,
            "set_extra_state": torch.nn.Module.set_extra_state,
        })
    return _PLAIN_CLASSES[cls]


__all__ = ["ScoringGraph", "dft_stft", "quiet_tracing", "traceable"]
