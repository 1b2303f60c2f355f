"""Per-utterance scores of an evaluation stage and their EER, as a SpeechBrain metric-stats object.

SpeechBrain recipes create a metric-stats object in ``on_stage_start``, append to it in
``compute_objectives`` and summarise it in ``on_stage_end``. :class:`ScoreStats` is that
object for spoofing detection (the ``clear`` / ``append`` / ``summarize`` interface of
``speechbrain.utils.metric_stats.MetricStats``, whose ids-and-metric bookkeeping does not
fit whole-set scores): it turns each batch's logits into bona fide scores
(``speechbrain_ssdctx.evaluation.scores``), keeps them with the labels by utterance id, unites the
processes' shares under DDP (each process scores a shard of the set) and summarises the
EER with the official ASVspoof computation (``speechbrain_ssdctx.evaluation.eer.compute_eer``;
SpeechBrain's ``metric_stats.EER`` is O(N^2) and resolves ties differently).

Authors
 * speechbrain-ssdctx contributors
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.distributed as dist
from speechbrain.utils.distributed import is_distributed_initialized

from speechbrain_ssdctx.evaluation.eer import compute_eer
from speechbrain_ssdctx.evaluation.scores import DEFAULT_SCORE_TYPE, bonafide_scores
from speechbrain_ssdctx.method.contract import bonafide_last, check_bonafide_index

__all__ = ["ScoreStats"]

class ScoreStats:
    """Collects the bona fide scores and labels of a stage; summarises the EER.

    Arguments
    ---------
    score_type : str
        How logits become scores (``speechbrain_ssdctx.evaluation.scores.SCORE_TYPES``).
    bonafide_index : int
        Class index of bona fide in the logits and the labels (the other is spoof; a
        label of -1 marks an utterance without a key).

    Example
    -------
    >>> stats = ScoreStats()
    >>> logits = torch.tensor([[0.0, 2.0], [1.0, 0.0], [0.0, 1.0], [3.0, 0.0]])
    >>> stats.append(["a", "b", "c", "d"], logits, torch.tensor([1, 0, 1, 0]))
    >>> stats.scores["a"], stats.scores["b"]
    (2.0, -1.0)
    >>> stats.summarize()
    {'EER': 0.0, 'threshold': -1.0}
    """

    def __init__(self, score_type: str = DEFAULT_SCORE_TYPE, bonafide_index: int = 1):
        self.score_type = score_type
        self.bonafide_index = check_bonafide_index(bonafide_index)
        self.clear()

    def clear(self) -> None:
        """Forgets everything appended (called at the start of each stage)."""
        self.scores: dict[str, float] = {}
        self.labels: dict[str, int] = {}
        self.summary: dict[str, float] = {}

    def append(self, ids: Sequence[str], logits: torch.Tensor, labels: torch.Tensor) -> None:
        """Adds a batch: its utterance ids, ``[batch, 2]`` logits and labels.

        Arguments
        ---------
        ids : sequence of str
            Utterance ids (an id seen before is overwritten: DDP samplers repeat a few).
        logits : torch.Tensor
            ``[batch, 2]`` logits, bona fide at ``bonafide_index``.
        labels : torch.Tensor
            ``[batch]`` class indices, -1 for utterances without a key.
        """
        ordered = bonafide_last(logits.detach().float(), self.bonafide_index)
        scores = bonafide_scores(ordered, self.score_type).tolist()
        self.scores.update(zip(ids, scores, strict=True))
        self.labels.update(zip(ids, labels.tolist(), strict=True))

    def gather(self) -> None:
        """Unites the scores and labels of all DDP processes (no-op in one process)."""
        if not is_distributed_initialized():
            return
        shares = [None] * dist.get_world_size()
        dist.all_gather_object(shares, (self.scores, self.labels))
        for scores, labels in shares:
            self.scores.update(scores)
            self.labels.update(labels)

    @property
    def has_both_classes(self) -> bool:
        """Whether the stage holds keyed bona fide and spoofed utterances."""
        return {0, 1} <= set(self.labels.values())

    def summarize(self, field: str | None = None):
        """The EER (percent) and its threshold (under DDP, call :meth:`gather` first).

        Arguments
        ---------
        field : str, optional
            ``"EER"`` or ``"threshold"`` to get one value; all by default.

        Returns
        -------
        dict or float

        Raises
        ------
        ValueError
            If the stage lacks bona fide or spoofed scores.
        """
        bonafide = [s for u, s in self.scores.items() if self.labels[u] == self.bonafide_index]
        spoof = [s for u, s in self.scores.items() if self.labels[u] == 1 - self.bonafide_index]
        if not bonafide or not spoof:
            raise ValueError(
                f"EER needs both classes: got {len(bonafide)} bona fide and "
                f"{len(spoof)} spoofed scores"
            )
        eer, threshold = compute_eer(bonafide, spoof)
        self.summary = {"EER": 100 * eer, "threshold": threshold}
        return self.summary if field is None else self.summary[field]
