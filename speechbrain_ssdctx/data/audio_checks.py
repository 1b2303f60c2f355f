"""Checks that an audio file holds what it claims: complete, reachable, in range.

libsndfile reads what it can and says nothing when a WAV file's data stops short of the
length its header announces (a copy cut off midway), a symbolic link points nowhere, or a
float file holds samples far outside [-1, 1] (a signal saved without scaling, e.g. 16-bit
integers written as floats). These functions find each case and describe it in words;
:func:`~speechbrain_ssdctx.data.audio.load_audio` and
:class:`~speechbrain_ssdctx.data.stream.AudioStream` turn the first two into errors (the
file is not scored) and the third into a warning (the file is scored, and the warning
listed by ``ssdctx-score``).

Authors
 * speechbrain-ssdctx contributors 2025
"""

from __future__ import annotations

import os
import stat
import struct

import numpy as np

__all__ = [
    "OUT_OF_RANGE_PEAK",
    "AudioRangeWarning",
    "dangling_link",
    "out_of_range",
    "truncated_wav",
]

#: Magnitude above which a sample is "far outside [-1, 1]": 6 dB over full scale. Mild
#: overs of float files (1.01 after processing) are common and harmless; x30 is not.
OUT_OF_RANGE_PEAK = 2.0

#: ``data`` chunk sizes that mean "unknown length" (WAV files written to a pipe).
_UNKNOWN_SIZE = 0x7FFFF000


class AudioRangeWarning(UserWarning):
    """An audio file whose samples go far outside [-1, 1]; it is scored, but the score
    may mean little (the detectors were trained on audio in [-1, 1])."""


def truncated_wav(path: str | os.PathLike) -> str | None:
    """Why a RIFF WAV file is truncated, or None (complete, not a WAV file, or not a
    regular file, which is not read here so that a pipe keeps its data).

    A file is truncated when its ``data`` chunk announces more bytes than follow it; the
    ``0`` and ``0xFFFFFFFF`` sizes of streamed WAV files are not lengths.

    Arguments
    ---------
    path : str or os.PathLike
        The audio file.

    Returns
    -------
    str or None

    Example
    -------
    >>> truncated_wav("tests/fixtures/edge_cases/silence_1s_16k.wav") is None
    True
    """
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None
        with open(path, "rb") as stream:
            size = os.fstat(stream.fileno()).st_size
            head = stream.read(12)
            if len(head) < 12 or head[:4] not in (b"RIFF", b"RIFX") or head[8:] != b"WAVE":
                return None
            order = "<" if head[:4] == b"RIFF" else ">"
            position = 12
            while position + 8 <= size:
                stream.seek(position)
                chunk, length = struct.unpack(order + "4sI", stream.read(8))
                if chunk == b"data":
                    held = size - position - 8
                    if 0 < length < _UNKNOWN_SIZE and held < length:
                        return (f"is truncated: its header announces {length} bytes of audio, "
                                f"the file holds {held} ({100 * held / length:.1f}%)")
                    return None
                position += 8 + length + length % 2
    except OSError:
        return None  # the reader reports what cannot be opened
    return None


def dangling_link(path: str | os.PathLike) -> str | None:
    """``"is a dangling symbolic link to '<target>'"`` when ``path`` is a link to nothing,
    else None.

    Example
    -------
    >>> dangling_link("tests/fixtures/edge_cases/silence_1s_16k.wav") is None
    True
    """
    if os.path.islink(path) and not os.path.exists(path):
        return f"is a dangling symbolic link to '{os.readlink(path)}'"
    return None


def out_of_range(samples: np.ndarray, start: int, rate: int) -> str | None:
    """Where samples first go beyond :data:`OUT_OF_RANGE_PEAK` in magnitude, or None.

    Arguments
    ---------
    samples : numpy.ndarray
        ``[frames]`` or ``[frames, channels]`` samples.
    start : int
        Frame of the file at which ``samples`` start.
    rate : int
        The file's sample rate.

    Returns
    -------
    str or None
        e.g. ``"holds samples far outside [-1, 1] (30 at 0.000 s; ...)"``.

    Example
    -------
    >>> print(out_of_range(np.array([0.5, -31.0, 2.0]), 16000, 16000))
    holds samples far outside [-1, 1] (-31 at 1.000 s), as if saved without scaling; ...
    >>> out_of_range(np.array([1.01, -1.5]), 0, 16000) is None
    True
    """
    far = np.abs(samples) > OUT_OF_RANGE_PEAK
    if not far.any():
        return None
    frame, *channel = np.unravel_index(int(np.flatnonzero(far)[0]), samples.shape)
    value = samples[(frame, *channel)]
    return (f"holds samples far outside [-1, 1] ({value:.3g} at {(start + frame) / rate:.3f} s), "
            "as if saved without scaling; its score may mean little")
