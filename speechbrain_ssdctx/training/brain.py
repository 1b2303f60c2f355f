"""The training loop: a SpeechBrain ``Brain`` for any (embedding, logits) spoofing detector.

``DetectorBrain`` trains a detector with the paper's context strategy (``ContextLoss``:
InF and InI, each switchable in YAML, both off = plain training), keeps the checkpoint
with the lowest dev EER, and scores test sets. It expects:

- ``modules``: ``detector`` (forward(wavs, lengths) -> (embedding, logits[B, 2])) and
  ``context`` (a ``speechbrain_ssdctx.method.context.ContextLoss``);
- batches with ``id``, ``sig`` (padded waveforms) and ``label_id`` (bona fide =
  ``hparams.bonafide_index``, default 1);
- hparams: ``epoch_counter``, optionally ``lr_scheduler`` (a callable taking the
  optimiser, stepped once per epoch), ``train_logger``, ``wav_augment_chain`` (an
  ``speechbrain_ssdctx.augment.AugmentationChain`` that the training set applies to each
  crop, in the data loader's workers: told the epoch when one starts), ``wav_augment``
  (applied to the training batch inside the step, before the context loss, e.g.
  SpeechBrain's ``Augmenter``: the step waits for it, so CPU-heavy augmentations such as
  ``RawBoost`` belong in the chain; InF masks the augmented waveform either way) and
  ``score_stats`` (a callable making the evaluation stages' metric-stats object; default
  :class:`~speechbrain_ssdctx.evaluation.score_stats.ScoreStats` with ``score_type`` and
  ``bonafide_index``);
- the multi-GPU and precision settings of ``docs/multi_gpu.md`` (SpeechBrain run options
  such as ``precision``, ``grad_accumulation_factor``, ``find_unused_parameters``, plus
  ``sync_batchnorm``, ``batch_size`` and ``batch_semantics``, ``num_workers`` and
  ``pin_memory``), each of which may be ``auto`` where the docs say so.

The checkpointer is used as a
:class:`~speechbrain_ssdctx.training.checkpoints.SafeCheckpointer` (a plain SpeechBrain one is
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
import torch.distributed as dist
from speechbrain.utils.distributed import if_main_process, is_distributed_initialized
from speechbrain.utils.run_opts import RunOptions
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DistributedSampler

from speechbrain_ssdctx.data.mixture import CorpusMixture, corpus_column
from speechbrain_ssdctx.data.sampling import CorpusSampler
from speechbrain_ssdctx.evaluation.eer import compute_eer
from speechbrain_ssdctx.evaluation.score_stats import ScoreStats
from speechbrain_ssdctx.evaluation.scores import DEFAULT_SCORE_TYPE
from speechbrain_ssdctx.method.contract import split_outputs
from speechbrain_ssdctx.training.checkpoints import (
    COMPLETE_MARKER,
    SafeCheckpointer,
    scalar_hparams,
)
from speechbrain_ssdctx.utils.allocator import retain_freed_memory
from speechbrain_ssdctx.utils.distributed import (
    BATCH_SEMANTICS,
    get_world_size,
    per_process_batch_size,
    resolve_num_workers,
    resolve_run_options,
    resolve_switch,
)
from speechbrain_ssdctx.utils.reproducibility import RNGState, rank_generator

logger = logging.getLogger(__name__)

__all__ = ["COMPLETE_MARKER", "DetectorBrain"]


class DetectorBrain(sb.Brain):
    """Trains a spoofing detector with optional InF / InI and picks the best dev-EER model.

    After ``evaluate``, ``self.score_stats.scores`` holds ``{utt_id: score}`` of the
    evaluated set and ``self.stage_stats`` the stage's loss and EER. Scores follow
    ``hparams.score_type`` (default: the bona fide log-odds, see
    ``speechbrain_ssdctx.evaluation.scores``), in float32.

    Example
    -------
    >>> from types import SimpleNamespace
    >>> from speechbrain.utils.epoch_loop import EpochCounter
    >>> from speechbrain_ssdctx.method.context import ContextLoss
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

    def __init__(self, modules=None, opt_class=None, hparams=None, run_opts=None,
                 checkpointer=None):
        # The YAML may declare run options as "auto": settle them for this device first
        # (recipes/train.py already did, to start the process group with the backend).
        if not isinstance(run_opts, RunOptions):
            run_opts = RunOptions.from_dictionary(run_opts or {})
        run_opts = resolve_run_options(run_opts, hparams or {})
        super().__init__(modules, opt_class, hparams, run_opts, checkpointer)
        self.loader_generator = rank_generator()
        self._loader_seed = self.loader_generator.initial_seed()
        self.rng_state = RNGState(self._module_generators())
        self.checkpointer = SafeCheckpointer.of(self.checkpointer)
        if self.checkpointer is not None:
            self.checkpointer.run_hparams = scalar_hparams(self.hparams)
            self.checkpointer.add_recoverable("rng", self.rng_state)
        self.lr_scheduler = None
        self.corpus_sampler: CorpusSampler | None = None
        self._dev_corpora: dict[str, str] = {}
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
        freed memory (``speechbrain_ssdctx.utils.allocator``: about twice faster steps), then
        SpeechBrain's (compile, DDP, optimisers, safe recovery); logs the run's multi-GPU
        and precision settings (:meth:`run_settings`)."""
        if self.device_type == "cpu" and getattr(self.hparams, "cpu_retain_freed_memory", False):
            retain_freed_memory()
        super().on_fit_start()
        if if_main_process():
            logger.info("Run settings: %s", self.run_settings())

    def _wrap_distributed(self):
        """DDP as in SpeechBrain, with BatchNorm synchronised only where ``sync_batchnorm``.

        SpeechBrain converts every BatchNorm to ``SyncBatchNorm`` unconditionally, which
        DDP refuses on the CPU (gloo) and which some GPU set-ups do not want, and it has
        no public hook for the wrapping: hence this override of a private method.
        ``hparams.sync_batchnorm`` is ``auto`` (synchronised on GPUs only, the default),
        True or False. Unsynchronised, every process normalises with its own batch
        statistics; DDP still broadcasts rank 0's running statistics at each forward.
        """
        if not self.distributed_launch:
            super()._wrap_distributed()  # DataParallel or nothing
            return
        sync = self.sync_batchnorm
        if sync and self.device_type != "cuda":
            raise ValueError(
                "sync_batchnorm: True needs GPUs (DDP's SyncBatchNorm does not run on the "
                f"{self.device_type}); set it to auto or False"
            )
        device_ids = [self.device] if self.device_type == "cuda" else None
        for name, module in self.modules.items():
            if any(p.requires_grad for p in module.parameters()):
                if sync:
                    module = torch.nn.SyncBatchNorm.convert_sync_batchnorm(module)
                self.modules[name] = DDP(
                    module, device_ids=device_ids,
                    find_unused_parameters=self.find_unused_parameters,
                )

    @property
    def sync_batchnorm(self) -> bool:
        """``hparams.sync_batchnorm`` settled for this device (``auto``: on GPUs)."""
        value = getattr(self.hparams, "sync_batchnorm", "auto")
        return resolve_switch(value, "sync_batchnorm", self.device_type)

    def batch_size(self) -> int:
        """Utterances per forward pass of this process.

        ``hparams.batch_semantics``: ``per_process`` (SpeechBrain's convention, and the
        default when the hparams do not say) takes ``batch_size`` as is; ``global`` reads
        ``batch_size`` as the utterances of one optimiser step over all processes and
        divides it by the number of processes and ``grad_accumulation_factor`` (an error
        if it does not divide).
        """
        semantics = getattr(self.hparams, "batch_semantics", "per_process")
        if semantics == "per_process":
            return self.hparams.batch_size
        if semantics == "global":
            return per_process_batch_size(
                self.hparams.batch_size, get_world_size(), self.grad_accumulation_factor
            )
        raise ValueError(
            f"batch_semantics must be one of {', '.join(BATCH_SEMANTICS)}, got {semantics!r}"
        )

    def loader_kwargs(self, stage: sb.Stage) -> dict:
        """DataLoader options of a stage, from the hparams and the device.

        Training: :meth:`batch_size`, shuffled (SpeechBrain shards it over DDP processes),
        the last short batch kept unless ``hparams.drop_last``. Evaluation:
        ``eval_batch_size`` per process. Both: ``num_workers`` and ``pin_memory``
        (``auto``: see ``speechbrain_ssdctx.utils.distributed``), workers kept across
        epochs.
        """
        workers = resolve_num_workers(getattr(self.hparams, "num_workers", 0), self.device_type)
        pin = resolve_switch(getattr(self.hparams, "pin_memory", "auto"), "pin_memory",
                             self.device_type)
        kwargs = {"num_workers": workers, "pin_memory": pin}
        if workers > 0:
            kwargs["persistent_workers"] = True
        if stage == sb.Stage.TRAIN:
            drop_last = getattr(self.hparams, "drop_last", False)
            return {"batch_size": self.batch_size(), "shuffle": True, "drop_last": drop_last,
                    **kwargs}
        return {"batch_size": self.hparams.eval_batch_size, **kwargs}

    def run_settings(self) -> dict:
        """The settings this run uses, for the log (rank 0 logs them at the first epoch)."""
        batch = self.batch_size()
        return {
            "processes": get_world_size(),
            "device": self.device,
            "distributed_backend": (
                dist.get_backend() if is_distributed_initialized() else None
            ),
            "precision": self.precision,
            "eval_precision": self.eval_precision,
            "sync_batchnorm": self.sync_batchnorm if self.distributed_launch else False,
            "find_unused_parameters": self.find_unused_parameters,
            "grad_accumulation_factor": self.grad_accumulation_factor,
            "batch_per_process": batch,
            "global_batch": batch * get_world_size() * self.grad_accumulation_factor,
        }

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
            return self.modules.context(
                self.modules.detector, wavs, lens, labels, scale_loss=self.scale_loss
            )
        _, logits = split_outputs(self.modules.detector(wavs, lens), wavs.shape[0])
        return logits

    def scale_loss(self, loss: torch.Tensor) -> torch.Tensor:
        """A loss as :meth:`fit_batch` scales it before ``backward()``: divided by
        ``grad_accumulation_factor``, then by the fp16 ``GradScaler`` (when enabled).
        ``ContextLoss`` in sequential mode runs its backward passes with it; the total
        it returns then back-propagates nothing, so no gradient is counted twice."""
        return self.scaler.scale(loss / self.grad_accumulation_factor)

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
        keyed = labels >= 0  # label -1: a set without keys, scored only
        # The training's classification loss (class weights included), in SpeechBrain's
        # layout as ContextLoss calls it: a validation loss comparable with the training's.
        return self.modules.context.classification_loss_fn(
            predictions[keyed].unsqueeze(1), labels[keyed].unsqueeze(1)
        )

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
        """Resets the per-stage accumulators: loss parts, a new metric-stats object; seeds
        the training loader's generator for the epoch (see :meth:`make_dataloader`) and
        gives the epoch to ``hparams.wav_augment_chain`` (its draws depend on it)."""
        self._part_sums: dict[str, float] = defaultdict(float)
        self._part_count = 0
        if stage == sb.Stage.TRAIN and epoch is not None:
            self.loader_generator.manual_seed((self._loader_seed + epoch) % 2**63)
            chain = getattr(self.hparams, "wav_augment_chain", None)
            if chain is not None:
                chain.set_epoch(epoch)
        if stage != sb.Stage.TRAIN:
            self.score_stats = self.make_score_stats()

    def make_dataloader(self, dataset, stage, ckpt_prefix="dataloader-", **loader_kwargs):
        """Shards dev and test sets over DDP ranks too (SpeechBrain only shards training);
        the stage's ``ScoreStats`` gathers the scores back.

        The training loader draws from its own generator (:attr:`loader_generator`,
        seeded from the run's seed, the rank and the epoch when the epoch starts) rather
        than from the global one: a DataLoader draws its workers' base seed when an
        epoch's iterator is made, which, after a resume from an intra-epoch checkpoint,
        would shift the restored global stream (crops, dropout) by one draw.
        """
        if stage == sb.Stage.TRAIN:
            loader_kwargs.setdefault("generator", self.loader_generator)
            self._use_corpus_sampler(dataset, loader_kwargs)
        elif stage == sb.Stage.VALID:
            self._dev_corpora = corpus_column(dataset) or {}
        if stage != sb.Stage.TRAIN and self.distributed_launch:
            loader_kwargs["sampler"] = DistributedSampler(dataset, shuffle=False)
        return super().make_dataloader(dataset, stage, ckpt_prefix, **loader_kwargs)

    def _use_corpus_sampler(self, dataset, loader_kwargs: dict) -> None:
        """With ``hparams.train_corpora`` (a training set with a ``corpus`` column), the
        loader draws through a :class:`~speechbrain_ssdctx.data.sampling.CorpusSampler`
        (seeded by ``hparams.seed``, the same on every process; SpeechBrain shards it over
        DDP processes) instead of shuffling."""
        entries = getattr(self.hparams, "train_corpora", None)
        corpora = corpus_column(dataset)
        if entries is None or corpora is None:
            return
        mixture = CorpusMixture.from_entries(entries, vars(self.hparams))
        self.corpus_sampler = CorpusSampler(
            list(corpora.values()), mixture.weights,
            num_samples=getattr(self.hparams, "train_corpora_samples", None),
            seed=getattr(self.hparams, "seed", 0),
        )
        self.train_sampler = self.corpus_sampler  # Brain.fit calls its set_epoch
        loader_kwargs.pop("shuffle", None)
        loader_kwargs["sampler"] = self.corpus_sampler

    def per_corpus_eer(self) -> dict[str, float]:
        """The dev EER (percent) of each training corpus (``train_corpora``), from the last
        validation's gathered scores; corpora without both classes are left out."""
        stats, found = self.score_stats, {}
        for name in dict.fromkeys(self._dev_corpora.values()):
            utterances = [u for u in stats.scores if self._dev_corpora.get(u) == name]
            bonafide = [stats.scores[u] for u in utterances
                        if stats.labels[u] == self.bonafide_index]
            spoof = [stats.scores[u] for u in utterances
                     if stats.labels[u] == 1 - self.bonafide_index]
            if bonafide and spoof:
                found[name] = 100 * compute_eer(bonafide, spoof)[0]
        return found

    def on_stage_end(self, stage, stage_loss, epoch=None):
        """Logs the epoch, steps the scheduler and keeps the best dev-EER checkpoint (the
        best and last ``average_checkpoints`` ones, when averaging).

        With ``train_corpora``, the log also gives the utterances of each corpus the
        epoch drew (``utterances_<corpus>``, all processes together) and the dev EER of
        each corpus (``EER_<corpus>``).
        """
        if stage == sb.Stage.TRAIN:
            self.train_stats = {"loss": stage_loss, **self.train_parts}
            if self.corpus_sampler is not None:
                counts = self.corpus_sampler.epoch_counts(epoch)
                self.train_stats.update({f"utterances_{k}": v for k, v in counts.items()})
            return
        self.score_stats.gather()
        self.stage_stats = {"loss": stage_loss}
        if stage == sb.Stage.VALID or self.score_stats.has_both_classes:  # not keyless
            self.stage_stats.update(self.score_stats.summarize())
        if stage == sb.Stage.VALID:
            self.stage_stats.update({f"EER_{k}": v for k, v in self.per_corpus_eer().items()})
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
            num_to_keep=max(1, getattr(self.hparams, "average_checkpoints", 0)),
        )

    def _log(self, meta: dict, **stats) -> None:
        train_logger = getattr(self.hparams, "train_logger", None)
        if train_logger is not None:
            train_logger.log_stats(stats_meta=meta, **stats)

