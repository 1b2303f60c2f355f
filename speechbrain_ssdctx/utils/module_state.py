"""The state SpeechBrain modules keep outside ``state_dict``, saved by their checkpoint hooks.

Some SpeechBrain modules hold state that their output depends on in plain attributes and
save it through their own checkpoint hooks (``@register_checkpoint_hooks`` with
``@mark_as_saver`` / ``@mark_as_loader``): ``InputNormalization(norm_type="global")``
keeps its global mean and standard deviation that way. That state is missing from
``module.state_dict()``, so a parent module saved whole (``torch.save(state_dict)``, the
Checkpointer's default for a ``torch.nn.Module``), copied by an EMA over parameters and
buffers, or exported, silently loses it.

The functions here collect that state from every submodule that has such hooks, as the
bytes its saver writes (a ``uint8`` tensor, so ``torch.load(weights_only=True)`` reads it
back), and restore it through the matching loader. ``HookedStateMixin`` puts it in a
module's own ``state_dict`` (its ``_extra_state``).

Authors
 * speechbrain-ssdctx contributors
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch


def checkpoint_hooks(obj) -> tuple[Callable, Callable] | None:
    """The (saver, loader) methods an object's class marked for SpeechBrain checkpoints.

    The raw methods are returned (not the registered hooks, which SpeechBrain may wrap
    to run on the main process only): the state is needed on every process.

    Arguments
    ---------
    obj : object
        Any object.

    Returns
    -------
    tuple or None
        ``(saver(obj, path), loader(obj, path, end_of_epoch))``, or None if the class
        and its bases mark no saver and loader.

    Example
    -------
    >>> from speechbrain.processing.features import InputNormalization
    >>> checkpoint_hooks(InputNormalization()) is not None
    True
    >>> checkpoint_hooks(torch.nn.Linear(2, 2)) is None
    True
    """
    for cls in type(obj).__mro__:
        methods = list(vars(cls).values())
        saver = next((m for m in methods if getattr(m, "_speechbrain_saver", False)), None)
        loader = next((m for m in methods if getattr(m, "_speechbrain_loader", False)), None)
        if saver is not None and loader is not None:
            return saver, loader
    return None


def hooked_modules(module: torch.nn.Module) -> dict[str, torch.nn.Module]:
    """The submodules of ``module`` (itself excluded) with SpeechBrain checkpoint hooks."""
    return {
        name: sub
        for name, sub in module.named_modules()
        if name and checkpoint_hooks(sub) is not None
    }


def save_hooked_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The hook-saved state of every hooked submodule, as ``{name: uint8 tensor}``.

    Arguments
    ---------
    module : torch.nn.Module
        The parent module.

    Returns
    -------
    dict
        Submodule name to the bytes its saver wrote.

    Example
    -------
    >>> from speechbrain.processing.features import InputNormalization
    >>> model = torch.nn.Sequential(InputNormalization())
    >>> _ = model[0](torch.randn(2, 5, 3), torch.ones(2))
    >>> state = save_hooked_state(model)
    >>> copy = torch.nn.Sequential(InputNormalization())
    >>> load_hooked_state(copy, state)
    >>> torch.equal(copy[0].glob_mean, model[0].glob_mean)
    True
    """
    modules = hooked_modules(module)
    if not modules:
        return {}
    state = {}
    with tempfile.TemporaryDirectory() as folder:
        for index, (name, sub) in enumerate(modules.items()):
            path = Path(folder) / f"{index}.ckpt"
            checkpoint_hooks(sub)[0](sub, path)
            data = bytearray(path.read_bytes())
            state[name] = torch.frombuffer(data, dtype=torch.uint8) if data else torch.zeros(
                0, dtype=torch.uint8
            )
    return state


def load_hooked_state(module: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Restores what :func:`save_hooked_state` collected, through each loader hook.

    Arguments
    ---------
    module : torch.nn.Module
        The parent module (same structure as the one saved).
    state : dict
        Submodule name to saved bytes.

    Raises
    ------
    ValueError
        If the submodules with hooks differ from the saved ones (names listed).
    """
    modules = hooked_modules(module)
    if modules.keys() != state.keys():
        raise ValueError(
            f"{type(module).__name__}: the saved SpeechBrain hook state is for the "
            f"submodules {sorted(state)}, this module has {sorted(modules)}"
        )
    with tempfile.TemporaryDirectory() as folder:
        for index, (name, data) in enumerate(state.items()):
            path = Path(folder) / f"{index}.ckpt"
            path.write_bytes(data.cpu().numpy().tobytes())
            checkpoint_hooks(modules[name])[1](modules[name], path, False)


def copy_hooked_state(source: torch.nn.Module, target: torch.nn.Module) -> None:
    """Copies the hook-saved state of ``source``'s submodules into ``target``'s."""
    load_hooked_state(target, save_hooked_state(source))


class HookedStateMixin:
    """Puts the hook-saved state of a module's submodules into its ``state_dict``.

    Mix it into a ``torch.nn.Module`` (before ``torch.nn.Module`` in the bases): its
    ``state_dict`` then holds, under ``_extra_state``, the state of every submodule that
    SpeechBrain saves through checkpoint hooks, and ``load_state_dict`` restores it. A
    Checkpointer that saves the module whole, and an export of its ``state_dict``, then
    keep that state.

    Example
    -------
    >>> from speechbrain.processing.features import InputNormalization
    >>> class Normalized(HookedStateMixin, torch.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.norm = InputNormalization()
    >>> model = Normalized()
    >>> _ = model.norm(torch.randn(2, 5, 3), torch.ones(2))
    >>> other = Normalized()
    >>> _ = other.load_state_dict(model.state_dict())
    >>> torch.equal(other.norm.glob_std, model.norm.glob_std)
    True
    """

    def get_extra_state(self) -> dict:
        """The hook-saved state of the submodules (see :func:`save_hooked_state`)."""
        return {"hooked": save_hooked_state(self)}

    def set_extra_state(self, state: dict) -> None:
        """Restores the submodules' hook-saved state."""
        load_hooked_state(self, state["hooked"])


@contextlib.contextmanager
def kept_state(module: torch.nn.Module):
    """Runs the block, then puts the module's buffers and hook-saved state back.

    For a forward pass whose only purpose is its output: BatchNorm running statistics,
    ``num_batches_tracked`` and SpeechBrain's global ``InputNormalization`` statistics,
    which a forward in train mode updates, are as before the block after it.

    Arguments
    ---------
    module : torch.nn.Module
        The module (a ``DistributedDataParallel`` wrapper works too).

    Example
    -------
    >>> norm = torch.nn.BatchNorm1d(3)
    >>> with kept_state(norm):
    ...     _ = norm(torch.randn(4, 3))
    >>> float(norm.running_mean.abs().sum()), int(norm.num_batches_tracked)
    (0.0, 0)
    """
    buffers = [(buffer, buffer.clone()) for buffer in module.buffers()]
    hooked = save_hooked_state(module)
    try:
        yield
    finally:
        with torch.no_grad():
            for buffer, saved in buffers:
                buffer.copy_(saved)
        if hooked:
            load_hooked_state(module, hooked)


__all__ = [
    "HookedStateMixin",
    "checkpoint_hooks",
    "copy_hooked_state",
    "hooked_modules",
    "kept_state",
    "load_hooked_state",
    "save_hooked_state",
]
