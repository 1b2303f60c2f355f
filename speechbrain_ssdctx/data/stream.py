"""Reading audio files block by block, in bounded memory, at the model's sample rate.

:class:`AudioStream` yields the same samples as ``load_audio(path, rate, resample=True)``
(channels averaged, then :class:`~speechbrain_ssdctx.data.resampling.Resampler`), but a
block at a time: a file of any length is read with a few seconds of it in memory.
Resampling is done per block on a stretch of input whose start is aligned to the
resampler's period and that overlaps its neighbours by more than the filter's reach, so
the blocks join into exactly the whole-file result (up to float rounding, about 1e-6).
Samples that are NaN or infinite raise
:class:`~speechbrain_ssdctx.data.audio.AudioFileError` naming the file and the time, as
do a truncated WAV file and a dangling link; samples far outside [-1, 1] are noted in
:attr:`AudioStream.warnings`.

Authors
 * speechbrain-ssdctx contributors
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator

import numpy as np
import soundfile
import torch

from speechbrain_ssdctx.data.audio import AudioFileError, check_audio_file
from speechbrain_ssdctx.data.audio_checks import out_of_range
from speechbrain_ssdctx.data.resampling import resampler

__all__ = ["AudioStream"]


class AudioStream:
    """A mono float32 audio file at ``sample_rate``, read block by block.

    Arguments
    ---------
    path : str or os.PathLike
        Any file libsndfile reads.
    sample_rate : int
        The rate of the yielded samples (the file is resampled if needed).
    block_seconds : float
        Seconds of output per block (the last block is shorter).

    Raises
    ------
    AudioFileError
        When the file cannot be opened, is a truncated WAV file or a dangling link (at
        construction), cannot be read, or holds NaN or infinite samples (while
        iterating); the message names the file.

    Example
    -------
    >>> stream = AudioStream("tests/fixtures/edge_cases/silence_1s_16k.wav", 16000, 0.25)
    >>> [block.numel() for block in stream]
    [4000, 4000, 4000, 4000]
    >>> stream.num_samples
    16000
    """

    def __init__(self, path: str | os.PathLike, sample_rate: int, block_seconds: float = 10.0):
        self.path = os.fspath(path)
        self.sample_rate = int(sample_rate)
        #: What is wrong but not fatal in the samples read so far (e.g. out of range).
        self.warnings: list[str] = []
        check_audio_file(self.path)
        try:
            info = soundfile.info(self.path)
        except (soundfile.SoundFileError, RuntimeError) as error:
            raise AudioFileError(f"Cannot read audio file {self.path}: {error}") from None
        self.file_rate, self.frames = int(info.samplerate), int(info.frames)
        rates = resampler(self.file_rate, self.sample_rate)
        self._in_period = rates.in_period  # input samples per resampler period
        self._out_period = rates.out_period  # output samples per period
        self._periods_per_block = max(1, round(block_seconds * self.sample_rate / self._out_period))
        self._margin_periods = rates.width // self._in_period + 2

    @property
    def num_samples(self) -> int:
        """Samples at ``sample_rate`` according to the file header (a damaged file may
        hold fewer)."""
        return math.ceil(self.frames * self._out_period / self._in_period)

    def __iter__(self) -> Iterator[torch.Tensor]:
        """Yields consecutive 1-D float32 blocks of the mono signal at ``sample_rate``."""
        if self.file_rate == self.sample_rate:
            size = self._periods_per_block * self._out_period
            yield from (torch.from_numpy(block) for block in self._read_native(size))
            return
        yield from self._resampled_blocks()

    def _read_native(self, size: int) -> Iterator[np.ndarray]:
        """Consecutive mono blocks of ``size`` frames at the file's rate, checked."""
        position = 0
        try:
            with soundfile.SoundFile(self.path) as audio:
                while True:
                    data = audio.read(size, dtype="float32", always_2d=True)
                    if data.shape[0] == 0:
                        return
                    far = not self.warnings and out_of_range(data, position, self.file_rate)
                    if far:
                        self.warnings.append(f"Audio file {self.path} {far}")
                    block = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
                    if not np.isfinite(block).all():
                        where = position + int(np.flatnonzero(~np.isfinite(block))[0])
                        raise AudioFileError(
                            f"Audio file {self.path} holds NaN or infinite samples "
                            f"(first at {where / self.file_rate:.3f} s)"
                        )
                    position += block.shape[0]
                    yield np.ascontiguousarray(block)
        except (soundfile.SoundFileError, RuntimeError) as error:
            raise AudioFileError(f"Cannot read audio file {self.path}: {error}") from None

    def _resampled_blocks(self) -> Iterator[torch.Tensor]:
        """Output blocks [b0, b1) (in resampler periods) from input periods
        [b0 - margin, b1 + margin): the margins hold the filter's reach on both sides."""
        step, margin = self._periods_per_block, self._margin_periods
        buffer = np.zeros(0, dtype=np.float32)
        buffer_start = 0  # input period at which buffer begins
        first, ended = 0, False  # first output period of the next block
        reader = self._read_native(step * self._in_period)
        while True:
            wanted = (first + step + margin - buffer_start) * self._in_period
            while not ended and buffer.shape[0] < wanted:
                block = next(reader, None)
                if block is None:
                    ended = True
                else:
                    buffer = np.concatenate([buffer, block])
            total_periods = buffer_start + buffer.shape[0] / self._in_period
            if first >= total_periods:
                return
            start = max(0, first - margin)
            piece = torch.from_numpy(buffer[(start - buffer_start) * self._in_period:])
            resampled = resampler(self.file_rate, self.sample_rate)(
                piece[: (first + step + margin - start) * self._in_period]
            )
            offset = (first - start) * self._out_period
            out = resampled[offset: offset + step * self._out_period]
            if ended and first + step >= total_periods:
                total = math.ceil(
                    (buffer_start * self._in_period + buffer.shape[0])
                    * self._out_period / self._in_period
                )
                out = out[: max(0, total - first * self._out_period)]
            if out.numel():
                yield out.contiguous()
            first += step
            drop = max(0, first - margin - buffer_start)
            buffer = buffer[drop * self._in_period:]
            buffer_start += drop

