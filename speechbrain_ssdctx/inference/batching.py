"""Batches of equal-length windows, from files streamed in bounded memory or from waveforms.

A batch is never padded: windows are grouped with windows of the same length only, so a
file's score does not depend on the other files scored with it. Files are read block by
block (:class:`~speechbrain_ssdctx.data.stream.AudioStream`) in order of length, so that
once a file's windows are cut, no shorter window can come any more and the batches of
shorter windows run at once (memory stays bounded by the batches being filled).

Authors
 * speechbrain-ssdctx contributors 2025
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import torch

from speechbrain_ssdctx.data.audio import AudioFileError
from speechbrain_ssdctx.data.stream import AudioStream
from speechbrain_ssdctx.inference.windows import Windowing

#: Runs a detector on windows of equal length: their logits ``[windows, 2]`` (CPU).
Detect = Callable[[Sequence[torch.Tensor]], torch.Tensor]


@dataclass
class ScoredFile:
    """A file being scored: its windows' logits as they come back, or its error.

    Arguments
    ---------
    path : str
        The file.
    windows : dict
        ``{window number: (start sample, length, logits [2])}``.
    expected : int or None
        The number of windows, known once the file is read.
    warnings : list of str
        What is wrong with the file although it can be scored (from its stream).
    error : str or None
        Why the file cannot be scored.
    """

    path: str
    windows: dict[int, tuple[int, int, torch.Tensor]] = field(default_factory=dict)
    expected: int | None = None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def done(self) -> bool:
        """Whether every window is scored (or the file failed)."""
        return self.error is not None or (
            self.expected is not None and len(self.windows) == self.expected
        )


def stream_files(
    paths: Iterable[str | os.PathLike],
    windowing: Windowing,
    sample_rate: int,
    detect: Detect,
    batch_size: int,
) -> Iterator[ScoredFile]:
    """Scores the windows of every file; yields each file, in order, once it is done.

    Arguments
    ---------
    paths : iterable of str or os.PathLike
        Audio files.
    windowing : Windowing
        Cuts each file into windows.
    sample_rate : int
        Files are read at this rate.
    detect : callable
        Logits ``[n, 2]`` of ``n`` windows of equal length.
    batch_size : int
        Windows per call of ``detect``.

    Yields
    ------
    ScoredFile
        With its ``error`` set when it could not be read or holds no samples.

    Example
    -------
    >>> from speechbrain_ssdctx.inference.settings import InferenceSettings
    >>> windowing = Windowing(InferenceSettings(window_policy="official").in_use())
    >>> detect = lambda windows: torch.zeros(len(windows), 2)
    >>> edge = "tests/fixtures/edge_cases/"
    >>> files = [edge + "empty.wav", edge + "stereo_16k.wav"]
    >>> done = stream_files(files, windowing, 16000, detect, batch_size=4)
    >>> [(item.error is None, len(item.windows)) for item in done]
    [(False, 0), (True, 1)]
    """
    pending = [ScoredFile(os.fspath(path)) for path in paths]
    streams: dict[int, AudioStream] = {}
    for index, item in enumerate(pending):
        try:
            streams[index] = AudioStream(item.path, sample_rate)
        except AudioFileError as error:
            item.error = str(error)
    buckets = _Buckets(pending, detect, batch_size)
    emitted = 0
    for index in sorted(streams, key=lambda i: streams[i].num_samples):
        item = pending[index]
        try:
            count = 0
            for count, (start, segment) in enumerate(windowing.segments(streams[index]), 1):
                buckets.add(index, count - 1, start, segment)
            item.expected = count
            item.warnings = streams[index].warnings
        except AudioFileError as error:
            message = str(error)
            item.error = message if item.path in message else f"{item.path} {message}"
        while emitted < len(pending) and pending[emitted].done:
            yield pending[emitted]
            emitted += 1
    buckets.run_all()
    yield from pending[emitted:]


class _Buckets:
    """Windows waiting for a batch, by length; a full bucket runs at once."""

    def __init__(self, pending: list[ScoredFile], detect: Detect, batch_size: int):
        self.pending, self.detect, self.batch_size = pending, detect, batch_size
        self.buckets: dict[int, list] = defaultdict(list)

    def add(self, index: int, number: int, start: int, segment: torch.Tensor) -> None:
        length = segment.numel()
        bucket = self.buckets[length]
        bucket.append((index, number, start, segment))
        if len(bucket) == self.batch_size:
            self._run(self.buckets.pop(length))
        # Shorter windows cannot come any more (files go by length): run them.
        for shorter in [k for k in self.buckets if k < length]:
            self._run(self.buckets.pop(shorter))

    def run_all(self) -> None:
        for length in list(self.buckets):
            self._run(self.buckets.pop(length))

    def _run(self, bucket: list) -> None:
        """Scores a batch of equal-length windows and files them with their files."""
        live = [entry for entry in bucket if self.pending[entry[0]].error is None]
        if not live:
            return
        logits = self.detect([segment for *_, segment in live])
        for (index, number, start, segment), row in zip(live, logits, strict=True):
            self.pending[index].windows[number] = (start, segment.numel(), row)


def batches_by_length(items: Sequence[tuple], size: int) -> Iterator[list[tuple]]:
    """Batches of at most ``size`` items whose last element (a window) has one length.

    Example
    -------
    >>> items = [(0, torch.ones(3)), (1, torch.ones(2)), (2, torch.ones(3)), (3, torch.ones(3))]
    >>> [[i for i, _ in batch] for batch in batches_by_length(items, 2)]
    [[0, 2], [3], [1]]
    """
    groups: dict[int, list[tuple]] = defaultdict(list)
    for item in items:
        groups[item[-1].numel()].append(item)
    for group in groups.values():
        for first in range(0, len(group), size):
            yield group[first: first + size]
