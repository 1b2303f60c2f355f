"""Training a detector: :class:`DetectorBrain` (SpeechBrain's ``Brain`` with InF / InI, best
dev-EER checkpoint, DDP, exact resume), safe checkpoints, the recipe's start-up (checked
arguments, demo schedule), its experiment steps (data preparation, datasets, scoring of
the test sets) and typed hyperparameters."""

from speechbrain_ssdctx.training.brain import DetectorBrain
from speechbrain_ssdctx.training.checkpoints import (
    CheckpointError,
    SafeCheckpointer,
    load_weights_only,
)
from speechbrain_ssdctx.training.experiment import (
    build_datasets,
    prepare_manifests,
    score_test_sets,
)
from speechbrain_ssdctx.training.startup import RecipeStart, run_hparams, start_recipe
from speechbrain_ssdctx.training.typed_hparams import HparamError, check_hparams

__all__ = [
    "CheckpointError",
    "DetectorBrain",
    "HparamError",
    "RecipeStart",
    "SafeCheckpointer",
    "build_datasets",
    "check_hparams",
    "load_weights_only",
    "prepare_manifests",
    "run_hparams",
    "score_test_sets",
    "start_recipe",
]
