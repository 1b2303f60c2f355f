"""Distributed (DDP) helpers, and the multi-GPU and device settings of a training run.

The helpers every module of the package uses under DDP live here:

- :func:`get_rank` and :func:`get_world_size`: this process's rank and the number of
  processes, also before the process group starts (from ``torchrun``'s environment);
- :func:`unwrap_ddp`: the module inside a ``DistributedDataParallel`` wrapper;
- :func:`finish_distributed`: the end of a DDP process (see its docstring for why it exits
  at once);
- whether a process group is running is SpeechBrain's
  ``speechbrain.utils.distributed.is_distributed_initialized``.

The recipes' YAML files declare their multi-GPU and precision settings (see
``docs/multi_gpu.md``); several may be ``auto``, settled here from the device the process
runs on, once, before the process group starts:

- ``distributed_backend``: ``nccl`` on GPUs, ``gloo`` on the CPU;
- ``precision``: ``bf16`` autocast on GPUs that support it, else ``fp32``;
- ``sync_batchnorm``: synchronised BatchNorm across processes on GPUs (DDP does not run
  ``SyncBatchNorm`` on the CPU);
- ``num_workers`` and ``pin_memory`` of the data loaders.

With ``batch_semantics: global``, a recipe's ``batch_size`` is the batch of one optimiser
step over all processes, divided among them by :func:`per_process_batch_size`.

Authors
 * speechbrain-ssdctx contributors
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import sys
from collections.abc import Mapping

import torch
import torch.distributed as dist
from speechbrain.utils.distributed import infer_device, is_distributed_initialized
from speechbrain.utils.run_opts import RunOptions
from torch.nn.parallel import DistributedDataParallel

AUTO = "auto"
BACKENDS = ("nccl", "gloo", "mpi")
PRECISIONS = ("fp32", "bf16", "fp16")
#: ``batch_semantics``: ``batch_size`` per optimiser step over all processes, or per process.
BATCH_SEMANTICS = ("global", "per_process")
#: Run options a recipe YAML may declare as ``auto``.
AUTO_RUN_OPTIONS = ("distributed_backend", "precision", "eval_precision")
#: Data loader processes per training process on a GPU (``num_workers: auto``), at most.
GPU_LOADER_WORKERS = 4


def get_rank() -> int:
    """Global rank of this process in a DDP job (0 without one).

    The process group's rank once it is initialised, the ``RANK`` environment variable
    (set by ``torchrun``) before that, so that modules built from the hparams before the
    process group exists (masking generators, RNG states) already see their rank.

    Example
    -------
    >>> get_rank() >= 0
    True
    """
    if is_distributed_initialized():
        return dist.get_rank()
    return int(os.environ.get("RANK", "0"))


def get_world_size() -> int:
    """Number of processes of the job: the process group's, else ``WORLD_SIZE``, else 1.

    Example
    -------
    >>> get_world_size() >= 1
    True
    """
    if is_distributed_initialized():
        return dist.get_world_size()
    return int(os.environ.get("WORLD_SIZE", "1"))


def unwrap_ddp(module: torch.nn.Module) -> torch.nn.Module:
    """The module inside a ``DistributedDataParallel`` wrapper (or the module itself).

    Arguments
    ---------
    module : torch.nn.Module
        A module, wrapped or not.

    Returns
    -------
    torch.nn.Module
        The wrapped module.

    Example
    -------
    >>> linear = torch.nn.Linear(2, 2)
    >>> unwrap_ddp(linear) is linear
    True
    """
    return module.module if isinstance(module, DistributedDataParallel) else module


def no_gradient_sync(module: torch.nn.Module):
    """DDP's ``no_sync`` for a wrapped module (its backward accumulates without
    all-reduce); a context that does nothing for any other module.

    Arguments
    ---------
    module : torch.nn.Module
        A module, wrapped or not.

    Returns
    -------
    context manager
        To enclose the forward and the backward passes that must not synchronise.

    Example
    -------
    >>> with no_gradient_sync(torch.nn.Linear(2, 2)):
    ...     pass
    """
    if isinstance(module, DistributedDataParallel):
        return module.no_sync()
    return contextlib.nullcontext()


def per_process_batch_size(
    global_batch_size: int, num_processes: int, grad_accumulation_factor: int = 1
) -> int:
    """The batch of one process (per forward pass) for a global batch per optimiser step.

    ``global_batch_size = batch * num_processes * grad_accumulation_factor``: the number of
    utterances whose gradients one optimiser step averages.

    Arguments
    ---------
    global_batch_size : int
        Utterances per optimiser step over all processes.
    num_processes : int
        World size.
    grad_accumulation_factor : int
        Forward / backward passes per optimiser step.

    Returns
    -------
    int
        The per-process batch size.

    Example
    -------
    >>> per_process_batch_size(64, 4)
    16
    >>> per_process_batch_size(64, 4, grad_accumulation_factor=2)
    8
    >>> per_process_batch_size(64, 3)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: a global batch of 64 does not divide into 3 processes ...: use a multiple of 3, ...
    """
    for name, value in (("batch_size", global_batch_size),
                        ("grad_accumulation_factor", grad_accumulation_factor),
                        ("number of processes", num_processes)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    shards = num_processes * grad_accumulation_factor
    if global_batch_size % shards:
        raise ValueError(
            f"a global batch of {global_batch_size} does not divide into {num_processes} "
            f"processes x {grad_accumulation_factor} accumulated batches: use a multiple of "
            f"{shards}, or batch_semantics: per_process"
        )
    return global_batch_size // shards


def resolve_backend(backend: str, device: str) -> str:
    """``auto`` is ``nccl`` for a CUDA device and ``gloo`` otherwise; others are checked.

    Example
    -------
    >>> resolve_backend("auto", "cuda:1"), resolve_backend("auto", "cpu")
    ('nccl', 'gloo')
    """
    if backend == AUTO:
        return "nccl" if device.startswith("cuda") else "gloo"
    if backend not in BACKENDS:
        raise ValueError(
            f"distributed_backend must be auto or one of {', '.join(BACKENDS)}, got {backend!r}"
        )
    if backend == "nccl" and not device.startswith("cuda"):
        raise ValueError(
            f"distributed_backend nccl needs CUDA devices, but this process runs on {device}; "
            "use auto or gloo"
        )
    return backend


def resolve_precision(precision: str, device: str, key: str = "precision") -> str:
    """``auto`` is ``bf16`` on a CUDA device that supports it and ``fp32`` otherwise.

    ``fp16`` needs a GPU (SpeechBrain then scales the loss); losses are computed in
    float32 under any precision.

    Example
    -------
    >>> resolve_precision("auto", "cpu"), resolve_precision("bf16", "cpu")
    ('fp32', 'bf16')
    """
    if precision == AUTO:
        cuda = device.startswith("cuda") and torch.cuda.is_available()
        return "bf16" if cuda and torch.cuda.is_bf16_supported() else "fp32"
    if precision not in PRECISIONS:
        raise ValueError(
            f"{key} must be auto or one of {', '.join(PRECISIONS)}, got {precision!r}"
        )
    if precision == "fp16" and not device.startswith("cuda"):
        raise ValueError(f"{key} fp16 needs a GPU; on {device} use bf16 or fp32")
    return precision


def resolve_switch(value, key: str, device_type: str) -> bool:
    """An ``auto`` / True / False setting: ``auto`` is True on CUDA devices only.

    Example
    -------
    >>> resolve_switch("auto", "pin_memory", "cuda"), resolve_switch(False, "x", "cuda")
    (True, False)
    """
    if value == AUTO:
        return device_type == "cuda"
    if not isinstance(value, bool):
        raise ValueError(f"{key} must be auto, True or False, got {value!r}")
    return value


def resolve_num_workers(value, device_type: str) -> int:
    """Data loader processes per training process; ``auto``: 0 on the CPU, up to 4 on GPUs.

    On the CPU the training step dwarfs the loading (``benchmarks/bench_dataloader.py``:
    well under 1 ms per utterance), so the main process loads and no worker competes
    with the compute threads. On a GPU each process gets ``GPU_LOADER_WORKERS`` workers,
    fewer if the CPUs available to this process (affinity divided by the processes of
    the node) cannot hold them next to the training process.

    Example
    -------
    >>> resolve_num_workers("auto", "cpu"), resolve_num_workers(3, "cpu")
    (0, 3)
    """
    if value == AUTO:
        if device_type != "cuda":
            return 0
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        per_process = (cpus or 1) // int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
        return max(1, min(GPU_LOADER_WORKERS, per_process - 1))
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"num_workers must be auto or an integer >= 0, got {value!r}")
    return value


def resolve_run_options(run_opts: RunOptions, declared: Mapping) -> RunOptions:
    """Settles the ``auto`` run options a recipe declares, before the process group starts.

    Each of :data:`AUTO_RUN_OPTIONS` comes from the command line when given there, else
    from ``declared`` (the YAML's value), else ``auto`` for the backend and SpeechBrain's
    default for the precisions; ``auto`` is then
    settled for this process's device (``run_opts.device``, else SpeechBrain's guess) and
    the value is marked as given, so that ``Brain`` uses it rather than the YAML's
    ``auto``.

    Arguments
    ---------
    run_opts : RunOptions
        The command line's run options (``speechbrain.parse_arguments``).
    declared : mapping
        The YAML's top-level values (only the run options' keys are read).

    Returns
    -------
    RunOptions
        A copy with those options settled.

    Example
    -------
    >>> run_opts = RunOptions(device="cpu")
    >>> settled = resolve_run_options(run_opts, {"distributed_backend": "auto",
    ...                                         "precision": "auto"})
    >>> settled.distributed_backend, settled.precision
    ('gloo', 'fp32')
    """
    device = run_opts.device or infer_device()
    settled = {}
    for key in AUTO_RUN_OPTIONS:
        if key in run_opts.overridden_args:
            value = run_opts[key]
        elif key in declared:
            value = declared[key]
        else:  # declared nowhere: the backend follows the device, precisions SpeechBrain's
            value = AUTO if key == "distributed_backend" else run_opts[key]
        if key == "distributed_backend":
            settled[key] = resolve_backend(value, device)
        else:
            settled[key] = resolve_precision(value, device, key)
    return dataclasses.replace(
        run_opts, **settled, overridden_args=set(run_opts.overridden_args) | set(settled)
    )


def finish_distributed(code: int = 0) -> None:
    """Ends a process of a DDP job: all processes meet, the group is destroyed, and the
    process exits at once with ``code``, skipping the interpreter's teardown.

    Why not a normal exit: gloo runs collectives on its own threads, which outlive
    ``destroy_process_group`` (it does not join them) and drop their last reference to a
    finished collective a moment after the waiting process has moved on. If that moment
    falls inside the interpreter's teardown (a thread held back on a loaded machine), the
    thread frees a tensor owned by Python, must take the GIL, is ended by the finalising
    interpreter, and the C++ runtime aborts the process: ``terminate called without an
    active exception``, SIGABRT, a failed run after all its work was done. Exiting with
    ``os._exit`` once every log handler and stream is flushed leaves no teardown to race
    with. Call it as the last statement of a DDP script (files closed, results written);
    without a process group it returns and the script ends normally.

    Arguments
    ---------
    code : int
        The exit status.

    Example
    -------
    >>> finish_distributed()  # no process group: nothing to do
    """
    if not is_distributed_initialized():
        return
    dist.barrier()  # no process leaves while another still talks to it
    dist.destroy_process_group()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
