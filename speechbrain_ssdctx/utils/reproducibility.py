"""Random-generator state as a checkpoint recoverable, for exact resumption.

SpeechBrain's ``Checkpointer`` saves modules, optimisers and counters but no random-generator
state, so a resumed run draws different crops, masking bands and dropout masks from an
uninterrupted one. ``RNGState`` closes that gap: add it (last) to the recoverables and a run
killed at any checkpoint resumes bit for bit.

Under DDP every rank has its own generators (different crops and masking bands per rank);
saving gathers the states of all ranks into one file and each rank restores its own.

Authors
 * speechbrain-ssdctx contributors
"""

from __future__ import annotations

import contextlib
import random
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from speechbrain.utils.checkpoints import (
    mark_as_loader,
    mark_as_saver,
    register_checkpoint_hooks,
)
from speechbrain.utils.distributed import is_distributed_initialized

from speechbrain_ssdctx.utils.distributed import get_rank


def rank_generator(seed: int | None = None) -> torch.Generator:
    """A CPU generator seeded with ``seed`` plus this process's data-parallel rank.

    Ranks thus draw different augmentations from the same configuration. ``None`` uses
    ``torch.initial_seed()`` (which SpeechBrain's ``seed_everything`` sets).

    Example
    -------
    >>> a, b = rank_generator(5), rank_generator(5)
    >>> torch.equal(torch.rand(3, generator=a), torch.rand(3, generator=b))
    True
    """
    base_seed = torch.initial_seed() if seed is None else seed
    return torch.Generator().manual_seed((base_seed + get_rank()) % 2**63)


def generator_state(generator: torch.Generator) -> dict:
    """A generator's state and the rank it belongs to, for a module's checkpoint
    (``get_extra_state``); :func:`restore_generator` reads it back."""
    return {"generator": generator.get_state(), "rank": get_rank()}


def restore_generator(generator: torch.Generator, state: dict) -> None:
    """Restores a :func:`generator_state`; a different rank derives its own stream from it.

    A checkpoint is written by the main process only, so every rank reloads the main
    process's state: the rank that saved it continues its exact stream, the other ranks
    reseed deterministically from it plus their rank, so that their draws stay different
    from one another.

    Example
    -------
    >>> generator = rank_generator(1)
    >>> saved = generator_state(generator)
    >>> expected = torch.rand(2, generator=generator)
    >>> restore_generator(generator, saved)
    >>> torch.equal(torch.rand(2, generator=generator), expected)
    True
    """
    generator.set_state(state["generator"])
    rank = get_rank()
    if rank != state["rank"]:
        seed = int(torch.randint(2**62, (1,), generator=generator)) + rank
        generator.manual_seed(seed)


class RNGState:
    """Saves and restores the python, numpy and torch generators (and any extra ones).

    Arguments
    ---------
    generators : dict, optional
        Extra named ``torch.Generator`` objects to save with the global ones, such as the
        generator of a ``BandPassMasking``.

    Example
    -------
    >>> import tempfile, os
    >>> state = RNGState()
    >>> path = os.path.join(tempfile.mkdtemp(), "rng.ckpt")
    >>> state.save(path)
    >>> first = torch.rand(3)
    >>> state.load(path)
    >>> torch.equal(first, torch.rand(3))
    True
    """

    def __init__(self, generators: dict[str, torch.Generator] | None = None):
        self.generators = dict(generators or {})

    def add_generator(self, name: str, generator: torch.Generator) -> None:
        """Registers one more generator to save and restore."""
        self.generators[name] = generator

    def capture(self) -> dict:
        """Returns this process's generator states as tensors (safe for weights_only)."""
        np_state = np.random.get_state()  # noqa: NPY002 (the global state is the point)
        py_state = random.getstate()
        state = {
            "torch": torch.get_rng_state(),
            "numpy_keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "numpy_meta": torch.tensor([np_state[2], np_state[3]], dtype=torch.int64),
            "numpy_gauss": torch.tensor(np_state[4], dtype=torch.float64),
            "python": torch.tensor(py_state[1], dtype=torch.int64),
            "python_gauss": torch.tensor(
                float("nan") if py_state[2] is None else py_state[2], dtype=torch.float64
            ),
            "generators": {k: g.get_state() for k, g in self.generators.items()},
        }
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def restore(self, state: dict) -> None:
        """Sets this process's generators from a state made by ``capture``."""
        torch.set_rng_state(state["torch"])
        meta = state["numpy_meta"].tolist()
        np.random.set_state(  # noqa: NPY002
            (
                "MT19937",
                state["numpy_keys"].numpy().astype(np.uint32),
                meta[0],
                meta[1],
                float(state["numpy_gauss"]),
            )
        )
        gauss = float(state["python_gauss"])
        random.setstate((3, tuple(state["python"].tolist()), None if gauss != gauss else gauss))
        for name, generator_state in state["generators"].items():
            if name in self.generators:
                self.generators[name].set_state(generator_state)
        if "cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"])

    @mark_as_saver
    def save(self, path: str | Path) -> None:
        """Gathers the states of all ranks (a collective call under DDP) and saves them."""
        states = [self.capture()]
        if is_distributed_initialized():
            states = [None] * dist.get_world_size()
            dist.all_gather_object(states, self.capture())
        if get_rank() == 0:
            torch.save(states, path)

    @mark_as_loader
    def load(self, path: str | Path, end_of_epoch: bool = False) -> None:
        """Restores this rank's states (rank 0's if the file holds fewer ranks)."""
        del end_of_epoch  # the generators continue where they were, at any checkpoint
        states = torch.load(path, map_location="cpu", weights_only=True)
        rank = get_rank()
        self.restore(states[rank] if rank < len(states) else states[0])


# The saver gathers from every rank, so it must run on all of them (it writes on rank 0).
register_checkpoint_hooks(RNGState, save_on_main_only=False)


class PrivateRandomStream:
    """A random stream of its own for code that draws from the global generators.

    Inside :meth:`active`, the python ``random`` generator and torch's global CPU (and
    CUDA) generators are swapped for this stream's own states, which advance there and
    nowhere else; outside, the global generators are exactly as they were. Its state is
    plain tensors (:meth:`state` / :meth:`load_state`), for a checkpoint.

    ``ContextLoss`` runs the masking in one, so that a SpeechBrain ``Augmenter``
    (whose augmentations draw from the global generators) keeps its random state in the
    checkpoints and draws the same masks after a resume.

    Arguments
    ---------
    seed : int, optional
        Seed of the stream (default: ``torch.initial_seed()``); each data-parallel rank
        adds its rank.

    Example
    -------
    >>> stream = PrivateRandomStream(seed=3)
    >>> outside = torch.get_rng_state()
    >>> with stream.active(torch.device("cpu")):
    ...     first = torch.rand(2)
    >>> torch.equal(outside, torch.get_rng_state())
    True
    >>> saved = stream.state()
    >>> with stream.active(torch.device("cpu")):
    ...     second = torch.rand(2)
    >>> stream.load_state(saved)
    >>> with stream.active(torch.device("cpu")):
    ...     torch.equal(second, torch.rand(2))
    True
    """

    def __init__(self, seed: int | None = None):
        self.seed = ((torch.initial_seed() if seed is None else seed) + get_rank()) % 2**63
        self._cpu = torch.Generator().manual_seed(self.seed).get_state()
        self._python = random.Random(self.seed).getstate()
        self._cuda: dict[int, torch.Tensor] = {}

    @contextlib.contextmanager
    def active(self, device: torch.device):
        """Runs the block with this stream as the global generators (CPU, ``device``)."""
        saved_python, saved_cpu = random.getstate(), torch.get_rng_state()
        cuda = device.type == "cuda"
        if cuda:
            index = device.index if device.index is not None else torch.cuda.current_device()
            saved_cuda = torch.cuda.get_rng_state(index)
            if index not in self._cuda:
                self._cuda[index] = (
                    torch.Generator(device=f"cuda:{index}").manual_seed(self.seed).get_state()
                )
            torch.cuda.set_rng_state(self._cuda[index], index)
        random.setstate(self._python)
        torch.set_rng_state(self._cpu)
        try:
            yield
        finally:
            self._python, self._cpu = random.getstate(), torch.get_rng_state()
            random.setstate(saved_python)
            torch.set_rng_state(saved_cpu)
            if cuda:
                self._cuda[index] = torch.cuda.get_rng_state(index)
                torch.cuda.set_rng_state(saved_cuda, index)

    def state(self) -> dict:
        """The stream's state as tensors, and the rank it belongs to."""
        version, internal, gauss = self._python
        return {
            "cpu": self._cpu.clone(),
            "python": torch.tensor([version, *internal], dtype=torch.int64),
            "python_gauss": torch.tensor(float("nan") if gauss is None else gauss),
            "cuda": {index: state.clone() for index, state in self._cuda.items()},
            "rank": get_rank(),
        }

    def load_state(self, state: dict) -> None:
        """Restores a :meth:`state`; another rank derives its own stream from it.

        A checkpoint is written by the main process only: the rank that saved it
        continues its exact stream, the others reseed from it plus their rank, so that
        their draws stay different from one another.
        """
        python = state["python"].tolist()
        gauss = float(state["python_gauss"])
        self._python = (python[0], tuple(python[1:]), None if gauss != gauss else gauss)
        self._cpu = state["cpu"].clone()
        self._cuda = {int(index): value.clone() for index, value in state["cuda"].items()}
        if int(state["rank"]) != get_rank():
            generator = torch.Generator()
            generator.set_state(self._cpu)
            self.__init__(int(torch.randint(2**62, (1,), generator=generator)))



class RandomReplay:
    """The global torch random state (CPU and one CUDA device) at a point, to replay from.

    Captured before a pass, :meth:`replayed` runs a later block with the generators set
    back to that point, so that the block draws what the pass drew (dropout masks), and
    leaves them afterwards exactly as they were before the block: the draws of the
    replayed block are not counted twice. ``ContextLoss`` in sequential mode runs the
    masked view once without gradient and once with it; the two passes draw the same
    dropout masks.

    Arguments
    ---------
    device : torch.device
        The device of the pass (its CUDA generator is captured too).

    Example
    -------
    >>> replay = RandomReplay(torch.device("cpu"))
    >>> first = torch.rand(3)
    >>> after_first = torch.get_rng_state()
    >>> with replay.replayed():
    ...     torch.equal(torch.rand(3), first)
    True
    >>> torch.equal(torch.get_rng_state(), after_first)
    True
    """

    def __init__(self, device: torch.device):
        device = torch.device(device)
        self.cpu = torch.get_rng_state()
        self.cuda_index = None
        if device.type == "cuda":
            self.cuda_index = (
                device.index if device.index is not None else torch.cuda.current_device()
            )
            self.cuda = torch.cuda.get_rng_state(self.cuda_index)

    @contextlib.contextmanager
    def replayed(self):
        """Runs the block from the captured state; restores the state of its start after."""
        devices = [] if self.cuda_index is None else [self.cuda_index]
        with torch.random.fork_rng(devices=devices, device_type="cuda"):
            torch.set_rng_state(self.cpu)
            if self.cuda_index is not None:
                torch.cuda.set_rng_state(self.cuda, self.cuda_index)
            yield
