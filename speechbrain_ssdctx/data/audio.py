"""Reading, cropping and padding waveforms for synthetic speech detection.

``load_audio`` reads any file libsndfile reads (FLAC, WAV, ...) into a mono float32
tensor at 16 kHz; a file at another rate is an error unless ``resample=True`` (then it is
resampled with :class:`~speechbrain_ssdctx.data.resampling.Resampler`, torchaudio's
filter in memory bounded for any rate). A truncated WAV file or a dangling link is an
error, samples far outside [-1, 1] a warning (``speechbrain_ssdctx.data.audio_checks``).
``crop_or_pad`` makes the fixed-length training crops (random crop when longer, repeat
padding when shorter, as the official AASIST code) and ``apply_window`` applies an
explicit evaluation policy.

Authors
 * speechbrain-ssdctx contributors 2025
"""

from __future__ import annotations

import os
import warnings

import soundfile
import torch

from speechbrain_ssdctx.data.audio_checks import (
    AudioRangeWarning,
    dangling_link,
    out_of_range,
    truncated_wav,
)
from speechbrain_ssdctx.data.resampling import resampler

__all__ = [
    "AudioFileError",
    "EVAL_POLICIES",
    "OFFICIAL_NUM_SAMPLES",
    "WINDOW_POLICIES",
    "apply_window",
    "check_audio_file",
    "crop_or_pad",
    "load_audio",
]

#: Number of samples the official AASIST evaluation keeps (about 4 s at 16 kHz).
OFFICIAL_NUM_SAMPLES = 64600

#: Window policies: which part of a file a detector scores. "official": the first
#: ``OFFICIAL_NUM_SAMPLES`` (repeat-padded when shorter, as the official AASIST code);
#: "first": the first ``num_samples``; "sliding": every window of a file, their logits
#: aggregated (``speechbrain_ssdctx.inference.SpoofDetector``); "full": the whole file.
WINDOW_POLICIES = ("official", "first", "sliding", "full")

#: The policies that make one window of a file, which ``apply_window`` applies (the
#: recipes' ``eval_window`` choices).
EVAL_POLICIES = tuple(policy for policy in WINDOW_POLICIES if policy != "sliding")


class AudioFileError(ValueError):
    """An audio file that cannot be used; the message names the file and the problem."""


def check_audio_file(path: str | os.PathLike) -> None:
    """Raises :class:`AudioFileError` for a dangling link or a truncated WAV file, which
    libsndfile would read without a word (as nothing, or as a shorter file).

    Example
    -------
    >>> check_audio_file("tests/fixtures/edge_cases/silence_1s_16k.wav")
    """
    reason = dangling_link(path) or truncated_wav(path)
    if reason:
        raise AudioFileError(f"Audio file {os.fspath(path)} {reason}")


def load_audio(
    path: str | os.PathLike, sample_rate: int = 16000, resample: bool = False
) -> torch.Tensor:
    """Reads an audio file as a mono float32 waveform.

    Multi-channel audio is mixed down (channel mean). Unreadable, empty or truncated
    files and dangling links raise ``AudioFileError`` naming the file; samples far outside
    [-1, 1] give an :class:`~speechbrain_ssdctx.data.audio_checks.AudioRangeWarning`.

    Arguments
    ---------
    path : str or path-like
        The audio file.
    sample_rate : int
        The expected sample rate.
    resample : bool
        If True, audio at another rate is resampled to ``sample_rate``; if False (the
        default), it is an error: ASVspoof audio is 16 kHz, so another rate usually
        means the wrong files.

    Returns
    -------
    torch.Tensor
        1-D float32 waveform in [-1, 1].

    Example
    -------
    >>> wav = load_audio("tests/fixtures/edge_cases/silence_1s_16k.wav")
    >>> wav.shape, wav.dtype
    (torch.Size([16000]), torch.float32)
    """
    check_audio_file(path)
    try:
        data, file_rate = soundfile.read(os.fspath(path), dtype="float32", always_2d=True)
    except (soundfile.SoundFileError, RuntimeError) as error:
        raise AudioFileError(f"Cannot read audio file {path}: {error}") from None
    if data.shape[0] == 0:
        raise AudioFileError(f"Audio file {path} holds no samples.")
    far = out_of_range(data, 0, file_rate)
    if far:
        warnings.warn(f"Audio file {path} {far}", AudioRangeWarning, stacklevel=2)
    wav = torch.from_numpy(data).mean(dim=1)
    if file_rate != sample_rate:
        if not resample:
            raise AudioFileError(
                f"Audio file {path} is at {file_rate} Hz, expected {sample_rate} Hz "
                "(pass resample=True to resample it)."
            )
        wav = resampler(file_rate, sample_rate)(wav)
    return wav


def crop_or_pad(
    wav: torch.Tensor,
    num_samples: int,
    random: bool = True,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Returns exactly ``num_samples`` samples: a crop when longer, repeat padding when shorter.

    A longer waveform is cropped at a uniformly drawn start (``random=True``, training)
    or at its start (``random=False``). A shorter one is repeated end to end and cut, as
    the official AASIST ``pad`` does (no zero padding, so no silence cue).

    Arguments
    ---------
    wav : torch.Tensor
        1-D waveform with at least one sample.
    num_samples : int
        Output length.
    random : bool
        Random crop start when True, start 0 when False.
    generator : torch.Generator, optional
        Random source for the crop start (default: torch's global generator, which
        DataLoader workers seed differently; a generator passed here is copied to every
        worker, so use it only for single-process, reproducible runs).

    Returns
    -------
    torch.Tensor
        1-D waveform of ``num_samples`` samples.

    Example
    -------
    >>> crop_or_pad(torch.tensor([1.0, 2.0, 3.0]), 7).tolist()
    [1.0, 2.0, 3.0, 1.0, 2.0, 3.0, 1.0]
    >>> crop_or_pad(torch.arange(10.0), 4, random=False).tolist()
    [0.0, 1.0, 2.0, 3.0]
    """
    if wav.dim() != 1 or wav.numel() == 0:
        raise ValueError(f"crop_or_pad needs a non-empty 1-D waveform, got {tuple(wav.shape)}.")
    if num_samples <= 0:
        raise ValueError(f"num_samples must be positive, got {num_samples}.")
    length = wav.numel()
    if length < num_samples:
        repeats = -(-num_samples // length)
        return wav.repeat(repeats)[:num_samples]
    start = 0
    if random and length > num_samples:
        start = int(torch.randint(length - num_samples + 1, (1,), generator=generator))
    return wav[start : start + num_samples]


def apply_window(
    wav: torch.Tensor, policy: str = "official", num_samples: int | None = None
) -> torch.Tensor:
    """Applies an evaluation policy to a whole utterance.

    Policies:

    - ``"official"``: the first 64,600 samples, repeat-padded when shorter (the official
      AASIST evaluation; ``num_samples`` must be None);
    - ``"first"``: the first ``num_samples`` samples, repeat-padded when shorter;
    - ``"full"``: the whole utterance unchanged (``num_samples`` must be None).

    Arguments
    ---------
    wav : torch.Tensor
        1-D waveform.
    policy : str
        One of ``"official"``, ``"first"``, ``"full"``.
    num_samples : int, optional
        Window length for ``"first"``.

    Returns
    -------
    torch.Tensor
        1-D waveform.

    Example
    -------
    >>> apply_window(torch.ones(16000)).shape
    torch.Size([64600])
    >>> apply_window(torch.arange(5.0), "first", num_samples=3).tolist()
    [0.0, 1.0, 2.0]
    >>> apply_window(torch.ones(7), "full").shape
    torch.Size([7])
    """
    if policy not in EVAL_POLICIES:
        raise ValueError(f"Unknown evaluation policy {policy!r}; use one of {EVAL_POLICIES}.")
    if policy == "first":
        if num_samples is None:
            raise ValueError('The "first" policy needs num_samples.')
        return crop_or_pad(wav, num_samples, random=False)
    if num_samples is not None:
        raise ValueError(f'num_samples is only for the "first" policy, not {policy!r}.')
    if policy == "official":
        return crop_or_pad(wav, OFFICIAL_NUM_SAMPLES, random=False)
    if wav.dim() != 1 or wav.numel() == 0:
        raise ValueError(f"Expected a non-empty 1-D waveform, got {tuple(wav.shape)}.")
    return wav
