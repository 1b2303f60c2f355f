"""An epoch's draw over several training corpora, by weight (``train_corpora``).

:class:`CorpusSampler` is SpeechBrain's ``ReproducibleWeightedRandomSampler`` with the
weight of every utterance set to ``weight of its corpus / utterances of its corpus``: an
epoch of ``num_samples`` draws (with replacement) holds each corpus in proportion to its
weight, whatever the corpora's sizes. Its draw depends on its seed and epoch only
(``set_epoch``, which the ``Brain`` calls at each epoch): every DDP process draws the same
list, which SpeechBrain's ``DistributedSamplerWrapper`` deals out in disjoint shares, and
a run resumed inside an epoch draws that epoch's list again and skips the batches already
trained on (``SaveableDataLoader``).

Authors
 * speechbrain-ssdctx contributors 2025
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from speechbrain.dataio.sampler import ReproducibleWeightedRandomSampler

__all__ = ["CorpusSampler"]


class CorpusSampler(ReproducibleWeightedRandomSampler):
    """Draws utterances so that each corpus's share of an epoch follows its weight.

    Arguments
    ---------
    corpora : sequence of str
        The corpus of each utterance of the dataset, in its order.
    weights : Mapping of str to float
        Each corpus's weight (every corpus of ``corpora`` needs one).
    num_samples : int, optional
        Draws per epoch (default: ``len(corpora)``).
    seed : int
        The draws' seed (the same on every process).

    Example
    -------
    >>> sampler = CorpusSampler(["a", "a", "a", "b"], {"a": 1, "b": 1}, num_samples=1000)
    >>> counts = sampler.epoch_counts()
    >>> sorted(counts), 400 < counts["b"] < 600
    (['a', 'b'], True)
    """

    def __init__(self, corpora: Sequence[str], weights: Mapping[str, float],
                 num_samples: int | None = None, seed: int = 0):
        sizes = Counter(corpora)
        missing = sorted(set(sizes) - set(weights))
        if missing:
            raise ValueError(f"No weight for the corpora {missing}.")
        self.corpora = list(corpora)
        per_utterance = [weights[name] / sizes[name] for name in self.corpora]
        super().__init__(per_utterance, num_samples or len(self.corpora), replacement=True,
                         seed=seed)

    def epoch_counts(self, epoch: int | None = None) -> dict[str, int]:
        """How many utterances of each corpus the draw of ``epoch`` (default: the current
        one) holds, over all processes."""
        current = self.epoch
        if epoch is not None:
            self.set_epoch(epoch)
        try:
            counts = Counter(self.corpora[index] for index in self)
        finally:
            self.set_epoch(current)
        return {name: counts.get(name, 0) for name in dict.fromkeys(self.corpora)}
