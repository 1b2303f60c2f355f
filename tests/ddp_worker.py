"""Launched by test_ddp.py under torchrun: runs ``recipes/train.py`` as is, watching it.

Usage: torchrun --nproc_per_node=2 tests/ddp_worker.py OUT HPARAMS [recipe arguments]

Observers wrapped around ``DetectorBrain`` and ``ContextLoss`` record, on every rank, the
batch sizes of the training steps, the autocast state of each forward pass (training and
evaluation), the momentum updates and memory bank insertions, and the masking bands; at
the end of ``fit`` the rank's detector, momentum encoder, bank, optimiser state and dev
scores are copied. Everything is saved to ``OUT/rank<RANK>.pt`` when the recipe calls
``finish_distributed`` (which ends the process).
"""

import copy
import os
import runpy
import sys
from pathlib import Path

import speechbrain as sb
import torch

import speechbrain_ssdctx.utils.distributed as distributed
from speechbrain_ssdctx.method.context import ContextLoss
from speechbrain_ssdctx.method.masking import BandPassMasking
from speechbrain_ssdctx.training.brain import DetectorBrain
from speechbrain_ssdctx.utils.distributed import unwrap_ddp

ROOT = Path(__file__).resolve().parents[1]
seen = {"train_batches": [], "train_autocast": [], "eval_autocast": [], "enqueued": [],
        "bands": []}


def wrap(cls, name, before=None, after=None):
    """Replaces ``cls.name`` by a call of ``before(self, *args, **kwargs)``, the original,
    then ``after(self, result, *args, **kwargs)``."""
    original = getattr(cls, name)

    def wrapper(self, *args, **kwargs):
        if before is not None:
            before(self, *args, **kwargs)
        result = original(self, *args, **kwargs)
        if after is not None:
            after(self, result, *args, **kwargs)
        return result

    setattr(cls, name, wrapper)


def autocast_state() -> str | None:
    """The autocast dtype in effect on the CPU, or None when autocast is off."""
    if not torch.is_autocast_enabled("cpu"):
        return None
    return str(torch.get_autocast_dtype("cpu")).replace("torch.", "")


def on_forward(brain, batch, stage):
    if stage == sb.Stage.TRAIN:
        seen["train_batches"].append(len(batch.id))
        seen["train_autocast"].append(autocast_state())
    else:
        seen["eval_autocast"].append(autocast_state())


def on_after_step(context, detector):
    if context.use_ini:
        seen["enqueued"].append(sum(len(emb) for emb, _ in context._pending))


def on_fit_end(brain, result, *args, **kwargs):
    context = brain.modules.context
    optimizer_steps = {int(state["step"]) for state in brain.optimizer.state.values()}
    seen.update(
        bank=context.memory.embeddings.clone(),
        bank_labels=context.memory.labels.clone(),
        momentum=copy.deepcopy(context.momentum_encoder.state_dict()),
        detector=copy.deepcopy(unwrap_ddp(brain.modules.detector).state_dict()),
        optimizer_steps=optimizer_steps,
        dev_scores=dict(brain.score_stats.scores),
        world_size=torch.distributed.get_world_size(),
    )


def save_then_finish(finish=distributed.finish_distributed):
    seen["bands"] = torch.cat(seen["bands"])
    torch.save(seen, OUT / f"rank{os.environ['RANK']}.pt")
    finish()


if __name__ == "__main__":
    # Patched only in the worker: pytest's --doctest-modules imports this file too, and
    # class-level patches would then reach every later test of the session.
    wrap(DetectorBrain, "compute_forward", before=on_forward)
    wrap(ContextLoss, "after_step", before=on_after_step)
    wrap(DetectorBrain, "fit", after=on_fit_end)
    wrap(BandPassMasking, "sample_low_freqs",
         after=lambda m, lows, n: seen["bands"].append(lows))
    distributed.finish_distributed = save_then_finish  # recipes/train.py imports it by name
    OUT = Path(sys.argv[1])
    sys.argv = [str(ROOT / "recipes" / "train.py"), *sys.argv[2:]]
    runpy.run_path(sys.argv[0], run_name="__main__")
