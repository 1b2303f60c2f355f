"""Checkpoint averaging: the mean of the weights of the best or last N checkpoints of a run.

Averaging the parameters of a few checkpoints near the end of training often scores a
little better and more steadily than any one of them. :func:`average_run_checkpoints`
averages the best N (lowest dev ``EER``) or the last N checkpoints of a checkpoint folder
and saves the result as one more checkpoint, ``CKPT+averaged``, in the same folder:

- every file that holds a flat ``state_dict`` of tensors (the modules: detector,
  context) is averaged with :func:`average_state_dicts` (floating-point tensors, BatchNorm
  running statistics included, are averaged in float64 and cast back; integer and bool
  tensors, such as BatchNorm's ``num_batches_tracked``, take the value of the most recent
  checkpoint: an average would make them float);
- every other file (epoch counter, optimiser, scheduler, random states) is copied from
  the most recent checkpoint averaged;
- its meta data (``CKPT.yaml``) says ``averaged_checkpoints: N``, ``average_by`` and
  ``averaged_from`` and holds no ``EER``: selecting by the lowest dev EER (the recipes,
  ``ssdctx-export``) never picks it, and resuming training never restarts from it
  (``SafeCheckpointer`` leaves averaged checkpoints out of the most recent one). Pick it
  with ``max_key=AVERAGED_KEY``, or give its folder to ``ssdctx-export --checkpoints``.

SpeechBrain's ``speechbrain.utils.checkpoints.average_checkpoints`` does the loading
(safely, weights only), but not its default ``average_state_dicts``: it divides every
tensor, integers included, by N (``num_batches_tracked`` becomes a float tensor) and sums
in the tensors' own precision.

Authors
 * speechbrain-ssdctx contributors 2025
"""

from __future__ import annotations

import logging
import os
import shutil
import time
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import torch
import yaml
from speechbrain.utils.checkpoints import (
    CKPT_PREFIX,
    METAFNAME,
    Checkpoint,
    Checkpointer,
    average_checkpoints,
)

from speechbrain_ssdctx.training.checkpoints import (
    AVERAGED_KEY,
    CheckpointError,
    checkpoint_damage,
    load_weights_only,
    write_complete_marker,
)

__all__ = [
    "AVERAGED_KEY",
    "AVERAGE_BY",
    "AVERAGED_NAME",
    "average_run_checkpoints",
    "average_state_dicts",
    "is_averaged",
    "select_checkpoints",
]

logger = logging.getLogger(__name__)

#: Folder name (after ``CKPT+``) of the averaged checkpoint.
AVERAGED_NAME = "averaged"
#: How the checkpoints to average are chosen: the lowest dev EER, or the most recent.
AVERAGE_BY = ("best", "last")
#: The dev metric of ``best`` (the meta key the recipes save).
BEST_KEY = "EER"


def is_averaged(checkpoint: Checkpoint) -> bool:
    """Whether a checkpoint is an average of others (its meta says so)."""
    return AVERAGED_KEY in checkpoint.meta


def average_state_dicts(state_dicts: Iterable[Mapping[str, torch.Tensor]]) -> dict:
    """The mean of state dicts, oldest first: floats averaged, integers from the last one.

    Floating-point (and complex) tensors are summed in float64 (complex128) and divided
    by the count, then cast back to their dtype; other tensors (integers such as
    ``num_batches_tracked``, bools) take the value of the last state dict.

    Arguments
    ---------
    state_dicts : iterable of mapping
        State dicts with the same keys and shapes, oldest first.

    Returns
    -------
    dict

    Example
    -------
    >>> bn = torch.nn.BatchNorm1d(2)
    >>> first = {k: v.clone() for k, v in bn.state_dict().items()}
    >>> _ = bn.train(); _ = bn(torch.randn(8, 2)); _ = bn(torch.randn(8, 2))
    >>> mean = average_state_dicts([first, bn.state_dict()])
    >>> mean["num_batches_tracked"], mean["running_mean"].dtype
    (tensor(2), torch.float32)
    """
    total: dict[str, torch.Tensor] = {}
    last: Mapping[str, torch.Tensor] = {}
    count = 0
    for state in state_dicts:
        if count and state.keys() != last.keys():
            differ = sorted(state.keys() ^ last.keys())[:5]
            raise ValueError(f"state dicts differ in keys: {differ}")
        for name, tensor in state.items():
            if not _averaged(tensor):
                continue
            wide = tensor.detach().to(torch.complex128 if tensor.is_complex() else torch.float64)
            if count and wide.shape != total[name].shape:
                raise ValueError(f"{name}: shapes {tuple(total[name].shape)} and "
                                 f"{tuple(wide.shape)} differ")
            total[name] = wide if not count else total[name] + wide
        last, count = state, count + 1
    if not count:
        raise ValueError("No state dicts to average.")
    return {
        name: (total[name] / count).to(tensor.dtype) if _averaged(tensor) else tensor.clone()
        for name, tensor in last.items()
    }


def _averaged(tensor: torch.Tensor) -> bool:
    return tensor.is_floating_point() or tensor.is_complex()


def select_checkpoints(checkpointer: Checkpointer, num: int, by: str = "best") -> list[Checkpoint]:
    """The ``num`` checkpoints to average, oldest first (averaged ones left out).

    Arguments
    ---------
    checkpointer : Checkpointer
        Over the run's checkpoint folder.
    num : int
        How many (at least 1).
    by : str
        ``"best"``: the lowest dev ``EER``; ``"last"``: the most recent.

    Returns
    -------
    list of Checkpoint
    """
    if by not in AVERAGE_BY:
        raise ValueError(f"average_by must be one of {AVERAGE_BY}, got {by!r}")
    if num < 1:
        raise ValueError(f"the number of checkpoints to average must be >= 1, got {num}")
    chosen = checkpointer.find_checkpoints(
        min_key=BEST_KEY if by == "best" else None, max_num_checkpoints=num,
        ckpt_predicate=lambda checkpoint: not is_averaged(checkpoint),
    )
    if len(chosen) < num:
        wanted = f" with a dev {BEST_KEY}" if by == "best" else ""
        raise CheckpointError(
            f"{checkpointer.checkpoints_dir} holds {len(chosen)} checkpoint(s){wanted}, not "
            f"{num}: train with average_checkpoints: {num} (it keeps that many), or average "
            "fewer"
        )
    for checkpoint in chosen:
        problem = checkpoint_damage(checkpoint.path)
        if problem is not None:
            raise CheckpointError(f"{checkpoint.path}: {problem}")
    return sorted(chosen, key=lambda checkpoint: checkpoint.meta["unixtime"])


def _is_state_dict_file(path: Path) -> bool:
    """A ``torch.save`` archive holding a flat mapping of tensors (a module's weights)."""
    if not zipfile.is_zipfile(path):
        return False
    try:
        state = load_weights_only(path)
    except CheckpointError:
        return False
    return isinstance(state, Mapping) and bool(state) and all(
        isinstance(value, torch.Tensor) for value in state.values()
    )


def average_run_checkpoints(
    checkpoints_dir: str | os.PathLike, num: int, by: str = "best"
) -> Checkpoint:
    """Averages the best or last ``num`` checkpoints into ``<checkpoints_dir>/CKPT+averaged``.

    An earlier averaged checkpoint there is replaced. The new one is written under a
    temporary name, marked complete, then renamed: it never looks whole when it is not.

    Arguments
    ---------
    checkpoints_dir : str or path-like
        The run's checkpoint folder (``save/``).
    num : int
        How many checkpoints to average.
    by : str
        ``"best"`` (lowest dev EER) or ``"last"`` (most recent).

    Returns
    -------
    Checkpoint
        The averaged checkpoint.

    Example
    -------
    >>> from speechbrain_ssdctx.training.checkpoints import SafeCheckpointer
    >>> model = torch.nn.Linear(1, 1, bias=False)
    >>> folder = getfixture("tmp_path")
    >>> checkpointer = SafeCheckpointer(folder, {"model": model})
    >>> for value, eer in ((1.0, 5.0), (2.0, 3.0), (4.0, 4.0)):
    ...     _ = model.weight.data.fill_(value)
    ...     _ = checkpointer.save_checkpoint(meta={"EER": eer})
    >>> averaged = average_run_checkpoints(folder, 2, by="best")
    >>> torch.load(averaged.paramfiles["model"])["weight"].item()  # (2 + 4) / 2
    3.0
    >>> averaged.meta["averaged_checkpoints"], averaged.path.name
    (2, 'CKPT+averaged')
    """
    folder = Path(checkpoints_dir)
    if not folder.is_dir():
        raise CheckpointError(f"Checkpoint folder '{folder}' does not exist")
    chosen = select_checkpoints(Checkpointer(folder), num, by)
    newest = chosen[-1]
    target = folder / f"{CKPT_PREFIX}+{AVERAGED_NAME}"
    scratch = folder / f".{CKPT_PREFIX}+{AVERAGED_NAME}.partial"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    for name, path in newest.paramfiles.items():
        if _is_state_dict_file(Path(path)):
            state = average_checkpoints(
                chosen, name, parameter_loader=lambda p, map_location=None: load_weights_only(p),
                averager=average_state_dicts,
            )
            torch.save(state, scratch / Path(path).name)
        else:
            shutil.copy2(path, scratch / Path(path).name)
    meta = {key: value for key, value in newest.meta.items() if key != BEST_KEY}
    meta.update({
        "unixtime": time.time(), AVERAGED_KEY: num, "average_by": by,
        "averaged_from": [checkpoint.path.name for checkpoint in chosen],
    })
    with open(scratch / METAFNAME, "w", encoding="utf-8") as stream:
        yaml.dump(meta, stream)
    write_complete_marker(scratch)
    shutil.rmtree(target, ignore_errors=True)
    os.replace(scratch, target)
    logger.info("Averaged %d checkpoints (%s) into %s", num, by, target)
    return next(c for c in Checkpointer(folder).list_checkpoints() if c.path.name == target.name)
