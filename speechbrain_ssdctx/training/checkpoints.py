"""Safe recovery from SpeechBrain checkpoints: no code unpickled, damage set aside, clear refusals.

SpeechBrain's ``Checkpointer`` recovers with ``torch.load`` without ``weights_only``: under
torch < 2.6 (or with ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``) a tampered checkpoint file runs
code when a training run resumes. It also fails with a bare traceback on a damaged
checkpoint (a truncated ``detector.ckpt``, an empty ``counter.ckpt``, a cut ``CKPT.yaml``)
or on one saved by a model of another size. This module closes those gaps:

- :func:`make_load_hooks_safe` routes every recoverable of a ``Checkpointer`` through a
  hook that loads with ``weights_only=True``: SpeechBrain's default ``torch_recovery`` is
  replaced by :func:`safe_torch_recovery`; any other hook (a class's own loader) runs with
  ``TORCH_FORCE_WEIGHTS_ONLY_LOAD=1``, so a ``torch.load`` inside it cannot unpickle code.
- :func:`write_complete_marker` records, once a checkpoint is fully saved, the size of each
  of its files; :func:`recover_safely` checks a checkpoint against that record (and that
  ``CKPT.yaml`` and the zip archives of ``torch.save`` are whole) before loading it. A
  damaged or incomplete checkpoint is renamed ``damaged-CKPT+...`` / ``incomplete-CKPT+...``
  (which SpeechBrain ignores) with a warning naming the file, and the previous complete one
  is used.
- A checkpoint of another model (parameter shapes or names differ) is refused
  (:class:`CheckpointMismatchError`) naming the hyperparameters that differ from the ones
  stored with the checkpoint (:func:`scalar_hparams`).

:class:`SafeCheckpointer` is a SpeechBrain ``Checkpointer`` that does all of this through
its public methods (``save_checkpoint`` writes the marker and the hyperparameters,
``recover_if_possible`` recovers safely), so that a ``Brain`` keeps SpeechBrain's own
``on_fit_start`` / ``on_evaluate_start``.

Authors
 * speechbrain-ssdctx contributors
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import pickle
import shutil
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
import yaml
from speechbrain.utils.checkpoints import (
    CKPT_PREFIX,
    DEFAULT_LOAD_HOOKS,
    METAFNAME,
    Checkpoint,
    Checkpointer,
    ckpt_recency,
    get_default_hook,
    hook_on_loading_state_dict_checkpoint,
    torch_recovery,
)
from speechbrain.utils.distributed import ddp_barrier, if_main_process

from speechbrain_ssdctx.utils.atomic import atomic_open

__all__ = [
    "AVERAGED_KEY",
    "COMPLETE_MARKER",
    "CheckpointError",
    "CheckpointMismatchError",
    "DamagedCheckpointError",
    "UnsafeCheckpointError",
    "SafeCheckpointer",
    "load_weights_only",
    "make_load_hooks_safe",
    "recover_safely",
    "safe_torch_recovery",
    "scalar_hparams",
    "set_aside_unusable_checkpoints",
    "write_complete_marker",
]

logger = logging.getLogger(__name__)

#: File written into a checkpoint folder once all its files are saved (their sizes, JSON).
COMPLETE_MARKER = "COMPLETE"

#: Meta key of an averaged checkpoint (``training.averaging``): how many it averages.
AVERAGED_KEY = "averaged_checkpoints"

_INCOMPLETE = f"it has no {COMPLETE_MARKER} marker (the run was killed while saving it)"

#: Key of the checkpoint meta data (``CKPT.yaml``) that holds the run's scalar hparams.
HPARAMS_META_KEY = "hparams"


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used; the message names the file and the problem."""


class DiskFullError(OSError):
    """A checkpoint could not be written: the disk holding it is full."""


#: Free space (bytes) under which a failed checkpoint write is taken for a full disk (the
#: write that failed has used up what was left).
FULL_DISK_BYTES = 16 * 2**20


def disk_full_error(folder: str | os.PathLike, error: BaseException) -> DiskFullError | None:
    """A :class:`DiskFullError` when ``error``, raised while writing into ``folder``, came
    from a full disk (``ENOSPC``, or torch's ``RuntimeError`` from its zip writer with the
    disk full); else ``None``.

    Example
    -------
    >>> import tempfile
    >>> disk_full_error(tempfile.gettempdir(), OSError(errno.ENOSPC, "No space left"))
    DiskFullError(28, "the disk holding '...' is full ...")
    >>> disk_full_error(tempfile.gettempdir(), RuntimeError("a bug")) is None
    True
    """
    folder = Path(folder)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    no_space = isinstance(error, OSError) and error.errno == errno.ENOSPC
    if not no_space and not (isinstance(error, OSError | RuntimeError) and free < FULL_DISK_BYTES):
        return None
    return DiskFullError(
        errno.ENOSPC,
        f"the disk holding '{folder}' is full ({free:,} bytes free) while saving a "
        "checkpoint: free some space and run the same command again (the run resumes "
        "from its last complete checkpoint)",
    )


class DamagedCheckpointError(CheckpointError):
    """A checkpoint file is truncated, empty or unreadable (set aside, the previous is used)."""


class UnsafeCheckpointError(CheckpointError):
    """A checkpoint file holds Python objects besides tensors (refused, never unpickled)."""


class CheckpointMismatchError(CheckpointError):
    """A checkpoint of another model: parameter names or shapes differ (refused)."""


def load_weights_only(path: str | os.PathLike) -> dict:
    """``torch.load(path, weights_only=True)`` on the CPU, with SpeechBrain's key patching.

    Arguments
    ---------
    path : str or os.PathLike
        A file written by ``torch.save`` of tensors and plain containers.

    Returns
    -------
    object
        The loaded object (usually a state_dict; SpeechBrain's key renaming applied to
        dicts only).

    Raises
    ------
    UnsafeCheckpointError
        If the file holds other Python objects (nothing of them is run).
    DamagedCheckpointError
        If the file is empty, truncated or not a torch file.

    Example
    -------
    >>> path = getfixture("tmp_path") / "lin.ckpt"
    >>> torch.save(torch.nn.Linear(2, 1).state_dict(), path)
    >>> sorted(load_weights_only(path))
    ['bias', 'weight']
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        damaged = f"{path} is not a readable torch file: {error}"
        raise _unpickling_error(path, error, damaged) from None
    except (EOFError, RuntimeError, OSError, ValueError) as error:
        raise DamagedCheckpointError(f"{path} is damaged: {_first_line(error)}") from None
    if not isinstance(state, dict):  # e.g. the run's random states (a list per rank)
        return state
    return hook_on_loading_state_dict_checkpoint(state)


def safe_torch_recovery(obj, path: str | os.PathLike, end_of_epoch: bool) -> None:
    """SpeechBrain's ``torch_recovery`` with a weights-only load and named mismatches.

    For modules, optimisers, learning-rate schedulers and gradient scalers. A module
    whose parameter names or shapes differ from the file's raises
    :class:`CheckpointMismatchError` listing the first differences.

    Arguments
    ---------
    obj : object
        Has ``load_state_dict``.
    path : str or os.PathLike
        The checkpoint file.
    end_of_epoch : bool
        Unused (SpeechBrain's load-hook signature).

    Example
    -------
    >>> path = getfixture("tmp_path") / "lin.ckpt"
    >>> torch.save(torch.nn.Linear(2, 1).state_dict(), path)
    >>> safe_torch_recovery(torch.nn.Linear(2, 1), path, True)
    >>> try:
    ...     safe_torch_recovery(torch.nn.Linear(3, 1), path, True)
    ... except CheckpointMismatchError as error:
    ...     print(str(error).split(": ", 1)[1])
    weight is [1, 2] in the checkpoint, [1, 3] here
    """
    del end_of_epoch
    state = load_weights_only(path)
    if isinstance(obj, torch.nn.Module):
        differences = _state_differences(state, obj.state_dict())
        if differences:
            raise CheckpointMismatchError(f"{path} does not fit this model: {differences}")
    try:
        obj.load_state_dict(state)
    except (RuntimeError, ValueError, KeyError) as error:
        raise CheckpointMismatchError(
            f"{path} does not fit this {type(obj).__name__}: {_first_line(error)}"
        ) from None


def _state_differences(saved: dict, current: dict, limit: int = 3) -> str:
    """The first differing names and shapes between two state_dicts ('' if none)."""
    problems = [
        f"{key} is {list(value.shape)} in the checkpoint, {list(current[key].shape)} here"
        for key, value in saved.items()
        if key in current and hasattr(value, "shape") and value.shape != current[key].shape
    ]
    problems += [f"{key} is missing from the checkpoint" for key in current if key not in saved]
    problems += [f"the checkpoint has an unknown {key}" for key in saved if key not in current]
    more = f" (and {len(problems) - limit} more)" if len(problems) > limit else ""
    return "; ".join(problems[:limit]) + more


@contextlib.contextmanager
def weights_only_loading() -> Iterator[None]:
    """Within the block, every ``torch.load`` is weights-only (``TORCH_FORCE_WEIGHTS_ONLY_LOAD``).

    For load hooks that call ``torch.load`` themselves (e.g. SpeechBrain's schedulers and
    ``InputNormalization``). A user's ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` is lifted meanwhile.

    Example
    -------
    >>> with weights_only_loading():
    ...     os.environ["TORCH_FORCE_WEIGHTS_ONLY_LOAD"]
    '1'
    """
    names = ("TORCH_FORCE_WEIGHTS_ONLY_LOAD", "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD")
    saved = {name: os.environ.pop(name, None) for name in names}
    os.environ[names[0]] = "1"
    try:
        yield
    finally:
        for name, value in saved.items():
            os.environ.pop(name, None)
            if value is not None:
                os.environ[name] = value


def make_load_hooks_safe(checkpointer: Checkpointer) -> None:
    """Routes every recoverable of ``checkpointer`` through a weights-only, error-naming hook.

    Call it after the last ``add_recoverable`` (calling it again wraps the new ones only).

    Arguments
    ---------
    checkpointer : speechbrain.utils.checkpoints.Checkpointer
        Its ``custom_load_hooks`` are filled for every recoverable.

    Example
    -------
    >>> checkpointer = Checkpointer(getfixture("tmp_path"), {"model": torch.nn.Linear(2, 1)})
    >>> make_load_hooks_safe(checkpointer)
    >>> checkpointer.custom_load_hooks["model"].__name__
    'safe_torch_recovery'
    """
    for name, obj in checkpointer.recoverables.items():
        hook = checkpointer.custom_load_hooks.get(name) or get_default_hook(obj, DEFAULT_LOAD_HOOKS)
        if hook is None or getattr(hook, "_ssdctx_safe", False):
            continue
        checkpointer.custom_load_hooks[name] = _safe_hook(hook)


def _safe_hook(hook: Callable) -> Callable:
    """``hook`` made weights-only, with its failures turned into :class:`CheckpointError`."""
    if hook is torch_recovery:
        safe = _error_naming(safe_torch_recovery)
        safe.__name__ = "safe_torch_recovery"
    else:

        def guarded(obj, path, end_of_epoch):
            with weights_only_loading():
                hook(obj, path, end_of_epoch)

        safe = _error_naming(guarded)
        safe.__name__ = f"weights_only_{getattr(hook, '__name__', 'hook')}"
    safe._ssdctx_safe = True
    return safe


def _error_naming(hook: Callable) -> Callable:
    def named(obj, path, end_of_epoch):
        try:
            hook(obj, path, end_of_epoch)
        except CheckpointError:
            raise
        except pickle.UnpicklingError as error:
            damaged = f"{path} is damaged: {_first_line(error)}"
            raise _unpickling_error(path, error, damaged) from None
        except (EOFError, ValueError, RuntimeError, OSError, KeyError, TypeError,
                yaml.YAMLError) as error:
            raise DamagedCheckpointError(f"{path} is damaged: {_first_line(error)}") from None

    return named


def write_complete_marker(folder: str | os.PathLike) -> None:
    """Marks a fully saved checkpoint: ``COMPLETE`` lists the size of each of its files.

    Example
    -------
    >>> folder = getfixture("tmp_path")
    >>> _ = (folder / "counter.ckpt").write_text("3")
    >>> write_complete_marker(folder)
    >>> json.loads((folder / COMPLETE_MARKER).read_text())
    {'counter.ckpt': 1}
    """
    folder = Path(folder)
    sizes = {
        p.name: p.stat().st_size
        for p in sorted(folder.iterdir())
        if p.is_file() and p.name != COMPLETE_MARKER and not p.name.startswith(".")
    }
    with atomic_open(folder / COMPLETE_MARKER) as stream:
        json.dump(sizes, stream)


def checkpoint_damage(folder: str | os.PathLike, verify_archives: bool = True) -> str | None:
    """Why a checkpoint folder cannot be used (None if it looks whole).

    Checks, without loading anything: the ``COMPLETE`` marker (missing: the save was
    interrupted), the file sizes it records, that ``CKPT.yaml`` parses with its required
    keys and, with ``verify_archives``, that every zip archive of ``torch.save`` is whole.

    Example
    -------
    >>> folder = getfixture("tmp_path")
    >>> checkpoint_damage(folder)
    'it has no COMPLETE marker (the run was killed while saving it)'
    """
    folder = Path(folder)
    marker = folder / COMPLETE_MARKER
    if not marker.is_file():
        return _INCOMPLETE
    try:
        text = marker.read_text(encoding="utf-8")
        sizes = json.loads(text) if text.strip() else {}  # empty: written by an older version
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        return f"{marker} is unreadable: {_first_line(error)}"
    for name, size in sizes.items():
        path = folder / name
        if not path.is_file():
            return f"{path} is missing"
        if path.stat().st_size != size:
            return f"{path} has {path.stat().st_size} bytes, {size} when it was saved"
    problem = _meta_damage(folder / METAFNAME)
    if problem is None and verify_archives:
        files = sorted(p for p in folder.iterdir() if p.is_file() and p.name != COMPLETE_MARKER)
        problem = next(filter(None, map(_archive_damage, files)), None)
    return problem


def _meta_damage(path: Path) -> str | None:
    try:
        meta = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        return f"{path} is damaged: {_first_line(error)}"
    keys = meta if isinstance(meta, dict) else {}
    missing = [key for key in ("end-of-epoch", "unixtime") if key not in keys]
    return f"{path} is damaged: no {', '.join(missing)}" if missing else None


def _archive_damage(path: Path) -> str | None:
    """A ``torch.save`` zip archive that is truncated or fails its checksums."""
    if path.stat().st_size == 0:
        return f"{path} is empty"
    with open(path, "rb") as stream:
        if stream.read(4) != b"PK\x03\x04":
            return None
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        return f"{path} is truncated or damaged: {_first_line(error)}"
    return f"{path} is damaged: {bad} fails its checksum" if bad else None


def set_aside(folder: Path, prefix: str, reason: str) -> Path:
    """Renames a checkpoint folder so that SpeechBrain ignores it; logs why."""
    target = folder.with_name(f"{prefix}-{folder.name}")
    logger.warning(
        "Checkpoint %s is %s: %s. Set aside as %s; using the previous complete checkpoint.",
        folder, "incomplete" if prefix == "incomplete" else "damaged", reason, target.name,
    )
    folder.rename(target)
    return target


def set_aside_unusable_checkpoints(checkpointer: Checkpointer) -> list[Path]:
    """Sets aside every checkpoint folder that is incomplete or has a damaged ``CKPT.yaml``.

    (A damaged ``CKPT.yaml`` makes SpeechBrain fail when it merely lists checkpoints.)
    Runs on the main process only; all processes meet afterwards.

    Returns
    -------
    list of pathlib.Path
        The set-aside folders (new names).
    """
    moved = []
    if if_main_process():
        folders = sorted(Path(checkpointer.checkpoints_dir).glob(f"{CKPT_PREFIX}+*"))
        for folder in filter(Path.is_dir, folders):
            problem = checkpoint_damage(folder, verify_archives=False)
            if problem is not None:
                prefix = "incomplete" if problem == _INCOMPLETE else "damaged"
                moved.append(set_aside(folder, prefix, problem))
    ddp_barrier()
    return moved


def scalar_hparams(hparams) -> dict:
    """The top-level numbers, strings, booleans and nulls of a hyperparameter mapping.

    Stored with every checkpoint, so that a checkpoint of another model names the
    hyperparameters that differ.

    Example
    -------
    >>> scalar_hparams({"n_mels": 64, "lr": 3e-4, "detector": object(), "__set_seed": None})
    {'lr': 0.0003, 'n_mels': 64}
    """
    items = hparams.items() if isinstance(hparams, dict) else vars(hparams).items()
    return {
        key: value.item() if hasattr(value, "item") else value
        for key, value in sorted(items)
        if not key.startswith("__") and (value is None or type(value) in (bool, int, float, str))
    }


def _hparam_changes(checkpoint: Checkpoint, current: dict | None) -> str:
    saved = checkpoint.meta.get(HPARAMS_META_KEY) or {}
    if not current or not saved:
        return ""
    changed = [
        f"{key}={saved[key]!r} there, {current[key]!r} here"
        for key in sorted(saved.keys() & current.keys())
        if saved[key] != current[key]
    ]
    if not changed:
        return ""
    return "; it was saved with other hyperparameters: " + ", ".join(changed)


def recover_safely(
    checkpointer: Checkpointer, hparams: dict | None = None, **find_kwargs
) -> Checkpoint | None:
    """``Checkpointer.recover_if_possible`` that never unpickles code and survives damage.

    Sets aside incomplete checkpoints, makes every load hook weights-only, verifies the
    chosen checkpoint before loading it and, if it is damaged, sets it aside and takes
    the next one (by the same criterion: most recent, or ``min_key`` / ``max_key``).

    Arguments
    ---------
    checkpointer : speechbrain.utils.checkpoints.Checkpointer
        With all its recoverables added.
    hparams : dict, optional
        The run's scalar hyperparameters (:func:`scalar_hparams`), to name the ones that
        differ when a checkpoint does not fit the model.
    **find_kwargs
        ``min_key``, ``max_key``, ``importance_key``, ``ckpt_predicate`` as for
        ``Checkpointer.find_checkpoint``.

    Returns
    -------
    Checkpoint or None
        The loaded checkpoint, or None if there is none (nothing is loaded).

    Raises
    ------
    CheckpointMismatchError
        A checkpoint of another model; the message names the differing hyperparameters.
    UnsafeCheckpointError
        A checkpoint file holds Python objects.
    DamagedCheckpointError
        A checkpoint was found damaged only after part of it was loaded and no complete
        one is left to load instead (it is set aside: the next run starts afresh).

    Example
    -------
    >>> model = torch.nn.Linear(2, 1)
    >>> checkpointer = Checkpointer(getfixture("tmp_path"), {"model": model})
    >>> write_complete_marker(checkpointer.save_checkpoint().path)
    >>> recover_safely(checkpointer).paramfiles["model"].name
    'model.ckpt'
    """
    set_aside_unusable_checkpoints(checkpointer)
    make_load_hooks_safe(checkpointer)
    partly_loaded = False
    while (checkpoint := checkpointer.find_checkpoint(**find_kwargs)) is not None:
        problem = checkpoint_damage(checkpoint.path)
        if problem is None:
            try:
                checkpointer.load_checkpoint(checkpoint)
                return checkpoint
            except DamagedCheckpointError as error:
                problem, partly_loaded = str(error), True
            except CheckpointMismatchError as error:
                raise CheckpointMismatchError(
                    f"Checkpoint {checkpoint.path} was saved by another model: {error}"
                    f"{_hparam_changes(checkpoint, hparams)}. Resume with the same "
                    "settings, or give another output_folder to start a new run."
                ) from None
        if if_main_process():
            set_aside(checkpoint.path, "damaged", problem)
        ddp_barrier()
    if partly_loaded:
        raise DamagedCheckpointError(
            f"No complete checkpoint is left in {checkpointer.checkpoints_dir} after setting "
            "aside a damaged one that was partly loaded; run the same command again to start "
            "from the beginning."
        )
    return None


def _unpickling_error(path, error: pickle.UnpicklingError, damaged: str) -> CheckpointError:
    """What a failed weights-only unpickling of ``path`` means: other Python objects in the
    file (unsafe), else a damaged file (the message ``damaged``)."""
    if "weights only load failed" in str(error).lower():
        return UnsafeCheckpointError(
            f"{path} holds Python objects besides tensors; refusing to unpickle it "
            "(it may run code). Delete it if you did not write it."
        )
    return DamagedCheckpointError(damaged)


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]


class SafeCheckpointer(Checkpointer):
    """A SpeechBrain ``Checkpointer`` that marks complete checkpoints and recovers safely.

    ``save_checkpoint`` (hence ``save_and_keep_only``) stores :attr:`run_hparams` in the
    meta data and writes the ``COMPLETE`` marker once the files are saved;
    ``recover_if_possible`` is :func:`recover_safely`; ``delete_checkpoints`` (hence
    ``save_and_keep_only``) never deletes an averaged checkpoint (``training.averaging``),
    nor counts it among the most recent ones it keeps. Everything else is SpeechBrain's.

    Arguments
    ---------
    *args, **kwargs
        As for ``speechbrain.utils.checkpoints.Checkpointer``.

    Example
    -------
    >>> model = torch.nn.Linear(2, 1)
    >>> checkpointer = SafeCheckpointer(getfixture("tmp_path"), {"model": model})
    >>> checkpointer.run_hparams = {"n_mels": 64}
    >>> saved = checkpointer.save_checkpoint()
    >>> (saved.path / COMPLETE_MARKER).is_file(), saved.meta[HPARAMS_META_KEY]
    (True, {'n_mels': 64})
    >>> checkpointer.recover_if_possible().path == saved.path
    True
    """

    #: The run's scalar hyperparameters (:func:`scalar_hparams`), saved with each checkpoint.
    run_hparams: dict | None = None

    @classmethod
    def of(cls, checkpointer: Checkpointer | None) -> SafeCheckpointer | None:
        """``checkpointer`` itself if safe, else a safe one over the same folder, sharing
        its recoverables and hooks (so that objects added to either reach both)."""
        if checkpointer is None or isinstance(checkpointer, cls):
            return checkpointer
        safe = cls(checkpointer.checkpoints_dir, allow_partial_load=checkpointer.allow_partial_load)
        safe.recoverables = checkpointer.recoverables
        safe.optional_recoverables = checkpointer.optional_recoverables
        safe.custom_load_hooks = checkpointer.custom_load_hooks
        safe.custom_save_hooks = checkpointer.custom_save_hooks
        return safe

    def save_checkpoint(self, meta=None, end_of_epoch=True, name=None, verbosity=logging.INFO):
        """SpeechBrain's ``save_checkpoint`` with the run's hyperparameters in the meta data,
        then the ``COMPLETE`` marker (on the main process, which returns the checkpoint).
        A full disk raises :class:`DiskFullError` (one line in the recipe); the checkpoint
        it cut short has no marker and is set aside when the run resumes."""
        meta = dict(meta or {})
        if self.run_hparams is not None:
            meta[HPARAMS_META_KEY] = self.run_hparams
        try:
            checkpoint = super().save_checkpoint(
                meta=meta, end_of_epoch=end_of_epoch, name=name, verbosity=verbosity
            )
        except (OSError, RuntimeError) as error:
            full = disk_full_error(self.checkpoints_dir, error)
            if full is None:
                raise
            raise full from None
        if checkpoint is not None:
            write_complete_marker(checkpoint.path)
        return checkpoint

    def delete_checkpoints(self, *, num_to_keep=1, min_keys=None, max_keys=None,
                           importance_keys=None, ckpt_predicate=None, verbosity=logging.INFO):
        """SpeechBrain's ``delete_checkpoints`` over the checkpoints that are not averaged:
        an averaged checkpoint (``save/CKPT+averaged``, made by ``ssdctx-average`` or the
        recipe's ``average_checkpoints``) survives a training run that goes on after it was
        made, and takes no place among the ``num_to_keep`` most recent ones. It is replaced
        only by the next average."""

        def deletable(checkpoint) -> bool:
            return AVERAGED_KEY not in checkpoint.meta and (
                ckpt_predicate is None or ckpt_predicate(checkpoint))

        super().delete_checkpoints(
            num_to_keep=num_to_keep, min_keys=min_keys, max_keys=max_keys,
            importance_keys=[ckpt_recency] if importance_keys is None else importance_keys,
            ckpt_predicate=deletable, verbosity=verbosity,
        )

    def recover_if_possible(self, importance_key=None, max_key=None, min_key=None,
                            ckpt_predicate=None):
        """:func:`recover_safely` with the same selection as SpeechBrain's, except that the
        most recent checkpoint (no key, no predicate: resuming training) is never an
        averaged one (``training.averaging``)."""
        if importance_key is None and max_key is None and min_key is None:
            ckpt_predicate = ckpt_predicate or (lambda ckpt: AVERAGED_KEY not in ckpt.meta)
        return recover_safely(
            self, self.run_hparams, importance_key=importance_key, max_key=max_key,
            min_key=min_key, ckpt_predicate=ckpt_predicate,
        )
