"""The training loop: a SpeechBrain ``Brain`` for any (embedding, logits) spoofing detector.

``DetectorBrain`` trains a detector with the paper's context strategy (``ContextLoss``:
InF and InI, each switchable in YAML, both off = plain training), keeps the checkpoint
with the lowest dev EER, and scores test sets. It expects:

- ``modules``: ``detector`` (forward(wavs, lengths) -> (embedding, logits[B, 2])) and
  ``context`` (a ``speechbrain_ssdctx.context.ContextLoss``);
- batches with ``id``, ``sig`` (padded waveforms) and ``label_id`` (bona fide =
  ``hparams.bonafide_index``, default 1);
- hparams: ``epoch_counter``, optionally ``lr_scheduler`` (a callable taking the
  optimiser, stepped once per epoch), ``train_logger``, ``wav_augment`` (applied to
  training waveforms before the context loss, e.g. ``RawBoost`` or SpeechBrain's
  ``Augmenter``; InF masks the augmented waveform) and ``score_stats`` (a callable making
  the evaluation stages' metric-stats object; default
  :class:`~speechbrain_ssdctx.score_stats.ScoreStats` with ``score_type`` and
  ``bonafide_index``).

The checkpointer is used as a
:class:`~speechbrain_ssdctx.checkpoints.SafeCheckpointer` (a plain SpeechBrain one is
wrapped): every checkpoint gets a ``COMPLETE`` marker and the run's scalar hyperparameters,
and recovery never unpickles code, sets damaged checkpoints aside and names the
hyperparameters of a checkpoint of another model. SpeechBrain's ``on_fit_start`` and
``on_evaluate_start`` recover through it unchanged.

Authors
 * speechbrain-ssdctx contributors
"""

from __future__ import annotations

import logging
from collections import defaultdict

import speechbrain as sb
import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DistributedSampler

from speechbrain_ssdctx.allocator import retain_freed_memory
from speechbrain_ssdctx.checkpoints import COMPLETE_MARKER, SafeCheckpointer, scalar_hparams
from speechbrain_ssdctx.contract import split_outputs
from speechbrain_ssdctx.reproducibility import RNGState
from speechbrain_ssdctx.score_stats import ScoreStats
from speechbrain_ssdctx.scores import DEFAULT_SCORE_TYPE

logger = logging.getLogger(__name__)

__all__ = ["COMPLETE_MARKER", "DetectorBrain"]


class DetectorBrain(sb.Brain):
    """Trains a spoofing detector with optional InF / InI and picks the best dev-EER model.

    After ``evaluate``, ``self.score_stats.scores`` holds ``{utt_id: score}`` of the
    evaluated set and ``self.stage_stats`` the stage's loss and EER. Scores follow
    ``hparams.score_type`` (default: the bona fide log-odds, see
    ``speechbrain_ssdctx.scores``), in float32.

    Example
    -------
    >>> from types import SimpleNamespace
    >>> from speechbrain.utils.epoch_loop import EpochCounter
    >>> from speechbrain_ssdctx.context import ContextLoss
    >>> from speechbrain_ssdctx.models import LCNN
    >>> detector = LCNN()
    >>> context = ContextLoss(detector, embedding_dim=detector.embedding_dim, use_ini=False)
    >>> brain = DetectorBrain(
    ...     modules={"detector": detector, "context": context},
    ...     opt_class=lambda params: torch.optim.Adam(params, lr=3e-4),
    ...     hparams={"epoch_counter": EpochCounter(1)},
    ...     run_opts={"noprogressbar": True},
    ... )
    >>> brain.init_optimizers()
    >>> brain.on_stage_start(sb.Stage.TRAIN)
    >>> batch = SimpleNamespace(
    ...     id=["a", "b"], sig=(torch.randn(2, 8000), torch.ones(2)),
    ...     label_id=torch.tensor([0, 1]),
    ... )
    >>> loss = brain.fit_batch(batch)
    >>> sorted(brain.train_parts)
    ['cls', 'cls_masked', 'inf']
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.rng_state = RNGState(self._module_generators())
        self.checkpointer = SafeCheckpointer.of(self.checkpointer)
        if self.checkpointer is not None:
            self.checkpointer.run_hparams = scalar_hparams(self.hparams)
            self.checkpointer.add_recoverable("rng", self.rng_state)
        self.lr_scheduler = None
        self.train_parts: dict[str, float] = {}
        self.stage_stats: dict[str, float] = {}
        self.score_stats = self.make_score_stats()

    @property
    def bonafide_index(self) -> int:
        """The class index of bona fide in the labels and logits (``hparams.bonafide_index``,
        default 1)."""
        return getattr(self.hparams, "bonafide_index", 1)

    def _module_generators(self) -> dict[str, torch.Generator]:
        """The ``generator`` attributes of submodules (e.g. the masking's) and of the
        ``wav_augment`` hyperparameter's modules (e.g. RawBoost's), by name."""
        named = list(self.modules.named_modules())
        augment = getattr(self.hparams, "wav_augment", None)
        if isinstance(augment, torch.nn.Module):
            named += augment.named_modules(prefix="wav_augment")
            # SpeechBrain's Augmenter keeps its augmentations in a plain dict.
            for key, augmentation in getattr(augment, "augmentations", {}).items():
                named += augmentation.named_modules(prefix=f"wav_augment.{key}")
        return {
            name or "root": module.generator
            for name, module in named
            if isinstance(getattr(module, "generator", None), torch.Generator)
        }

    def init_optimizers(self):
        """Creates the optimiser, then the per-epoch learning-rate scheduler on it."""
        super().init_optimizers()
        make_scheduler = getattr(self.hparams, "lr_scheduler", None)
        if make_scheduler is not None and self.opt_class is not None:
            self.lr_scheduler = make_scheduler(self.optimizer)
            if self.checkpointer is not None:
                self.checkpointer.add_recoverable("lr_scheduler", self.lr_scheduler)

    def make_score_stats(self) -> ScoreStats:
        """A new metric-stats object for an evaluation stage (``hparams.score_stats``)."""
        make = getattr(self.hparams, "score_stats", None)
        if make is not None:
            return make()
        return ScoreStats(
            getattr(self.hparams, "score_type", DEFAULT_SCORE_TYPE), self.bonafide_index
        )

    def on_fit_start(self):
        """On the CPU with ``hparams.cpu_retain_freed_memory``, makes the allocator keep
        freed memory (``speechbrain_ssdctx.allocator``: about twice faster steps), then
        SpeechBrain's (compile, DDP, optimisers, safe recovery)."""
        if self.device_type == "cpu" and getattr(self.hparams, "cpu_retain_freed_memory", False):
            retain_freed_memory()
        super().on_fit_start()

    def _wrap_distributed(self):
        """DDP as in SpeechBrain, but SyncBatchNorm only on GPUs (DDP refuses it on the CPU).

        On the CPU (gloo) every rank keeps its own BatchNorm batch statistics; DDP still
        broadcasts rank 0's running statistics at each forward.
        """
        if not self.distributed_launch or self.device_type == "cuda":
            super()._wrap_distributed()
            return
        for name, module in self.modules.items():
            if any(p.requires_grad for p in module.parameters()):
                self.modules[name] = DDP(
                    module, device_ids=None, find_unused_parameters=self.find_unused_parameters
                )

    def compute_forward(self, batch, stage):
        """Training: the context loss's parts; evaluation: the detector's logits."""
        wavs, lens = batch.sig
        wavs, lens = wavs.to(self.device), lens.to(self.device)
        if stage == sb.Stage.TRAIN:
            labels = batch.label_id.to(self.device)
            augment = getattr(self.hparams, "wav_augment", None)
            if augment is not None:
                wavs, lens = augment(wavs, lens)
                if wavs.shape[0] != labels.shape[0]:  # an Augmenter that adds copies
                    labels = augment.replicate_labels(labels)
            return self.modules.context(self.modules.detector, wavs, lens, labels)
        _, logits = split_outputs(self.modules.detector(wavs, lens), wavs.shape[0])
        return logits

    def compute_objectives(self, predictions, batch, stage):
        """Training: the total loss (its parts kept for logging); else cross-entropy."""
        if stage == sb.Stage.TRAIN:
            total, parts = predictions
            self._accumulate_parts(parts)
            return total
        labels = batch.label_id.to(predictions.device)
        self.score_stats.append(batch.id, predictions, labels)
        if bool((labels < 0).all()):  # a set without keys (label -1): scores only
            return predictions.new_zeros(())
        return F.cross_entropy(predictions.float(), labels, ignore_index=-1)

    def _accumulate_parts(self, parts: dict[str, torch.Tensor]) -> None:
        for name, value in parts.items():
            self._part_sums[name] += float(value.detach())
        self._part_count += 1
        self.train_parts = {k: v / self._part_count for k, v in self._part_sums.items()}

    def on_fit_batch_end(self, batch, outputs, loss, should_step):
        """After each optimiser step: momentum update of the encoder, then enqueue."""
        if should_step:
            self.modules.context.after_step(self.modules.detector)

    def on_stage_start(self, stage, epoch=None):
        """Resets the per-stage accumulators: loss parts, a new metric-stats object."""
        self._part_sums: dict[str, float] = defaultdict(float)
        self._part_count = 0
        if stage != sb.Stage.TRAIN:
            self.score_stats = self.make_score_stats()

    def make_dataloader(self, dataset, stage, ckpt_prefix="dataloader-", **loader_kwargs):
        """Shards dev and test sets over DDP ranks too (SpeechBrain only shards training);
        the stage's ``ScoreStats`` gathers the scores back."""
        if stage != sb.Stage.TRAIN and self.distributed_launch:
            loader_kwargs["sampler"] = DistributedSampler(dataset, shuffle=False)
        return super().make_dataloader(dataset, stage, ckpt_prefix, **loader_kwargs)

    def on_stage_end(self, stage, stage_loss, epoch=None):
        """Logs the epoch, steps the scheduler and keeps the best dev-EER checkpoint."""
        if stage == sb.Stage.TRAIN:
            self.train_stats = {"loss": stage_loss, **self.train_parts}
            return
        self.score_stats.gather()
        self.stage_stats = {"loss": stage_loss}
        if stage == sb.Stage.VALID or self.score_stats.has_both_classes:  # not keyless
            self.stage_stats.update(self.score_stats.summarize())
        if stage == sb.Stage.TEST:
            self._log({"Epoch loaded": self.hparams.epoch_counter.current},
                      test_stats=self.stage_stats)
            return
        lr = self.optimizer.param_groups[0]["lr"]
        if self.lr_scheduler is not None:
            self.lr_scheduler.step()
        self._log({"epoch": epoch, "lr": lr}, train_stats=self.train_stats,
                  valid_stats=self.stage_stats)
        self.checkpointer.save_and_keep_only(
            meta={"EER": self.stage_stats["EER"], "threshold": self.stage_stats["threshold"]},
            min_keys=["EER"],
        )

    def _log(self, meta: dict, **stats) -> None:
        train_logger = getattr(self.hparams, "train_logger", None)
        if train_logger is not None:
            train_logger.log_stats(stats_meta=meta, **stats)
