"""The windows a detector scores, and how their logits become a file's.

Window policies (``window_policy`` of
:class:`~speechbrain_ssdctx.inference.settings.InferenceSettings`):

- ``"official"``: the first 64,600 samples, repeat-padded (the official AASIST code);
- ``"first"``: the first ``window_samples``, repeat-padded;
- ``"sliding"``: windows of ``window_seconds`` every ``hop_seconds`` (the last one ends at
  the end of the signal), their logits aggregated (``"mean"``, or the logits of the
  window with the ``"min"`` / ``"max"`` score); a signal no longer than one window is
  scored whole. Memory stays bounded whatever the signal's length;
- ``"full"``: the whole signal in one window.

Authors
 * speechbrain-ssdctx contributors 2025
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import torch

from speechbrain_ssdctx.data.audio import OFFICIAL_NUM_SAMPLES, AudioFileError, crop_or_pad
from speechbrain_ssdctx.evaluation.scores import bonafide_scores
from speechbrain_ssdctx.inference.settings import InferenceSettings


class Windowing:
    """Cuts signals into the windows of a policy and merges the windows' logits.

    Arguments
    ---------
    settings : InferenceSettings
        The settings in use (:meth:`InferenceSettings.in_use`: policy, sliding window,
        hop and aggregation filled in and checked).
    min_samples : int
        Shortest input of the detector; shorter windows are repeat-padded to it.

    Example
    -------
    >>> windowing = Windowing(InferenceSettings(sample_rate=4).in_use("sliding", 2, 1))
    >>> [(start, len(window)) for start, window in windowing.segments([torch.ones(11)])]
    [(0, 8), (3, 8)]
    """

    def __init__(self, settings: InferenceSettings, min_samples: int = 1):
        self.settings = settings
        self.policy = settings.window_policy
        self.window = max(1, round(settings.window_seconds * settings.sample_rate))
        self.hop = max(1, round(settings.hop_seconds * settings.sample_rate))
        self.min_samples = min_samples

    def segments(self, blocks: Iterable[torch.Tensor]) -> Iterator[tuple[int, torch.Tensor]]:
        """The windows to score of one signal, as ``(start sample, window)`` pairs.

        Arguments
        ---------
        blocks : iterable of torch.Tensor
            The signal's consecutive 1-D blocks at the model's sample rate (one tensor, or
            an :class:`~speechbrain_ssdctx.data.stream.AudioStream`); only as much of it
            as a window needs is held in memory.

        Yields
        ------
        tuple of (int, torch.Tensor)

        Raises
        ------
        AudioFileError
            If the signal has no samples.
        """
        if self.policy in ("official", "first"):
            size = OFFICIAL_NUM_SAMPLES if self.policy == "official" else \
                self.settings.window_samples
            head = _take(blocks, size)
            yield 0, self._padded(crop_or_pad(head, size, random=False) if head.numel() else head)
        elif self.policy == "full":
            yield 0, self._padded(torch.cat([b.reshape(-1) for b in blocks] or [torch.zeros(0)]))
        else:
            yield from self._sliding(blocks)

    def merge(self, logits: torch.Tensor) -> torch.Tensor:
        """One signal's logits ``[2]`` from its windows' ``[windows, 2]`` (the aggregation).

        Example
        -------
        >>> windowing = Windowing(InferenceSettings().in_use(aggregate="max"))
        >>> windowing.merge(torch.tensor([[0.0, 1.0], [0.0, 3.0], [1.0, 0.0]]))
        tensor([0., 3.])
        """
        aggregate = self.settings.aggregate
        if logits.shape[0] == 1 or aggregate == "mean":
            return logits.mean(0)
        scores = bonafide_scores(logits, self.settings.score_type)
        return logits[scores.argmin() if aggregate == "min" else scores.argmax()]

    def _sliding(self, blocks: Iterable[torch.Tensor]) -> Iterator[tuple[int, torch.Tensor]]:
        window, hop = self.window, self.hop
        buffer, offset, start, covered, total = torch.zeros(0), 0, 0, 0, 0
        for block in blocks:
            buffer = torch.cat([buffer, block.reshape(-1).float()])
            total += block.numel()
            while start + window <= total:
                yield start, buffer[start - offset: start - offset + window].clone()
                covered, start = start + window, start + hop
            keep_from = min(start, total - window)  # the tail may become the last window
            if keep_from > offset:
                buffer, offset = buffer[keep_from - offset:], keep_from
        if covered == 0:  # no longer than one window: the whole signal
            yield 0, self._padded(buffer)
        elif covered < total:  # a last window that ends with the signal
            yield total - window, buffer[total - window - offset:].clone()

    def _padded(self, wav: torch.Tensor) -> torch.Tensor:
        if wav.numel() == 0:
            raise AudioFileError("holds no audio samples")
        if wav.numel() < self.min_samples:
            wav = crop_or_pad(wav, self.min_samples, random=False)
        return wav


def _take(blocks: Iterable[torch.Tensor], size: int) -> torch.Tensor:
    """The first ``size`` samples of consecutive blocks (fewer if the signal is shorter)."""
    parts, have = [], 0
    for block in blocks:
        parts.append(block.reshape(-1)[: size - have])
        have += parts[-1].numel()
        if have >= size:
            break
    return torch.cat(parts).float() if parts else torch.zeros(0)
