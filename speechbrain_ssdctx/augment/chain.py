"""Per-utterance waveform augmentation in the data pipeline, seeded from (run, epoch, utterance).

:class:`AugmentationChain` applies an ordered set of waveform augmentations (RawBoost, a
codec, noise, reverberation...) to one training crop at a time. It is meant to run as a
dynamic item of the training set (``speechbrain_ssdctx.data.dataio.load_datasets``), that
is in the DataLoader's worker processes when ``num_workers > 0``: the training step then
waits for none of it (it only masks, for InF).

Each augmentation of each utterance draws from a seed derived from the run's seed, the
epoch and the utterance's id (:func:`utterance_seed`), not from a stream that runs through
the epoch: an utterance gets the same augmentation whatever the number of workers, the
order of the batches or the point a run resumed from, so that nothing of it needs saving
in a checkpoint. The epoch reaches the worker processes through shared memory
(:meth:`AugmentationChain.set_epoch`, which ``DetectorBrain`` calls when a training epoch
starts, before the loader hands its workers any index of that epoch).

Authors:
- speechbrain-ssdctx contributors (2025)
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Callable, Mapping

import torch
from speechbrain.utils.callchains import lengths_arg_exists

from speechbrain_ssdctx.data.audio import crop_or_pad

__all__ = ["AugmentationChain", "utterance_seed"]


def utterance_seed(seed: int, epoch: int, key: str, step: str) -> int:
    """The seed of one augmentation step of one utterance in one epoch.

    A hash (BLAKE2b, 63 bits) of the four values: the same in every process and every
    run (Python's ``hash`` of a string is not), different as soon as one of them is.

    Arguments
    ---------
    seed : int
        The run's seed.
    epoch : int
        The training epoch (SpeechBrain's, from 1).
    key : str
        The utterance's id.
    step : str
        The augmentation's name in the chain (one stream per augmentation).

    Returns
    -------
    int
        A seed in ``[0, 2**63)``.

    Example
    -------
    >>> utterance_seed(1, 1, "LA_T_0000001", "rawboost") == utterance_seed(
    ...     1, 1, "LA_T_0000001", "rawboost")
    True
    >>> utterance_seed(1, 1, "LA_T_0000001", "rawboost") == utterance_seed(
    ...     1, 2, "LA_T_0000001", "rawboost")
    False
    """
    text = f"{seed}\x00{epoch}\x00{key}\x00{step}".encode()
    digest = hashlib.blake2b(text, digest_size=8).digest()
    return int.from_bytes(digest, "little") & (2**63 - 1)


class AugmentationChain:
    """Waveform augmentations applied in order to one utterance, in the data pipeline.

    An augmentation is any callable on a ``[1, time]`` CPU waveform, SpeechBrain-style:
    ``augmentation(waveforms)`` or, if its ``forward`` takes ``lengths``,
    ``augmentation(waveforms, lengths)``; it returns the waveforms or ``(waveforms,
    lengths)`` (``RawBoost``, SpeechBrain's ``AddNoise`` and ``AddReverb``, a codec).
    Its randomness is seeded before each utterance from :func:`utterance_seed`: through
    its ``generator`` attribute when it has a ``torch.Generator`` there (``RawBoost``),
    otherwise by running it with torch's global CPU generator seeded (and restored
    afterwards; Python's ``random`` and NumPy's global generators are not seeded).
    An output longer or shorter than the input (a codec's delay) is cut or
    repeat-padded back to the input's length (``crop_or_pad``, from its start).

    Arguments
    ---------
    augmentations : mapping
        Name to augmentation, in the order they are applied.
    enabled : mapping, optional
        Name to switch (default: all on); a switched-off augmentation is left out.
    probabilities : mapping, optional
        Name to the probability that an utterance gets it (default 1.0).
    seed : int or None
        The run's seed; ``None`` uses ``torch.initial_seed()``.

    Example
    -------
    >>> from speechbrain_ssdctx.augment import RawBoost
    >>> chain = AugmentationChain({"rawboost": RawBoost(algorithm=2)}, seed=1)
    >>> chain.set_epoch(1)
    >>> crop = 0.1 * torch.randn(8000)
    >>> boosted = chain(crop, "utt1")
    >>> boosted.shape, torch.equal(boosted, chain(crop, "utt1"))
    (torch.Size([8000]), True)

    Switched off, an augmentation is not in the chain (an empty chain is false):

    >>> off = AugmentationChain({"rawboost": RawBoost()}, enabled={"rawboost": False})
    >>> off.names, bool(off)
    ([], False)
    """

    def __init__(
        self,
        augmentations: Mapping[str, Callable],
        enabled: Mapping[str, bool] | None = None,
        probabilities: Mapping[str, float] | None = None,
        seed: int | None = None,
    ):
        enabled = dict(enabled or {})
        probabilities = dict(probabilities or {})
        for option, values in (("enabled", enabled), ("probabilities", probabilities)):
            unknown = sorted(set(values) - set(augmentations))
            if unknown:
                raise ValueError(
                    f"AugmentationChain: {option} names {', '.join(unknown)}, which is not "
                    f"an augmentation of the chain ({', '.join(augmentations) or 'none'})"
                )
        for name, probability in probabilities.items():
            if not 0.0 <= probability <= 1.0:
                raise ValueError(
                    f"AugmentationChain: the probability of {name} must be in [0, 1], "
                    f"got {probability}"
                )
        self.augmentations = {
            name: augmentation
            for name, augmentation in augmentations.items()
            if enabled.get(name, True)
        }
        self.probabilities = {name: probabilities.get(name, 1.0) for name in self.augmentations}
        self.seed = torch.initial_seed() if seed is None else seed
        # In shared memory: DataLoader workers (persistent ones too) see set_epoch.
        self._epoch = torch.full((), -1, dtype=torch.int64).share_memory_()

    def __getstate__(self) -> dict:
        """Pickles the augmentations with plain ``pickle``: torch's multiprocessing pickler
        (workers started with ``spawn`` or ``forkserver``) fails on a ``torch.Generator``
        (torch 2.x: "unable to resize file"). The epoch stays in shared memory."""
        state = self.__dict__.copy()
        state["augmentations"] = pickle.dumps(self.augmentations)
        return state

    def __setstate__(self, state: dict) -> None:
        state["augmentations"] = pickle.loads(state["augmentations"])  # noqa: S301 (our own)
        self.__dict__.update(state)

    @property
    def names(self) -> list[str]:
        """The names of the augmentations applied, in order."""
        return list(self.augmentations)

    def __bool__(self) -> bool:
        return bool(self.augmentations)

    def set_epoch(self, epoch: int) -> None:
        """Sets the epoch the next utterances belong to (in every worker process too)."""
        self._epoch.fill_(epoch)

    @property
    def epoch(self) -> int:
        """The epoch last set (:meth:`set_epoch`); -1 before any."""
        return int(self._epoch)

    def __call__(self, signal: torch.Tensor, key: str) -> torch.Tensor:
        """Augments one utterance.

        Arguments
        ---------
        signal : torch.Tensor
            ``[time]`` waveform (a training crop).
        key : str
            The utterance's id (with the epoch and the seed, it fixes every draw).

        Returns
        -------
        torch.Tensor
            ``[time]``, the input's dtype.
        """
        epoch = self.epoch
        if epoch < 0:
            raise RuntimeError(
                "AugmentationChain: set_epoch(epoch) must be called before the epoch's "
                "first utterance (DetectorBrain does it for hparams.wav_augment_chain)"
            )
        waveform = signal.reshape(1, -1)
        for name, augmentation in self.augmentations.items():
            if self._skipped(name, epoch, key):
                continue
            seed = utterance_seed(self.seed, epoch, key, name)
            waveform = self._apply(augmentation, waveform, seed)
        return waveform.reshape(-1).to(signal.dtype)

    def _skipped(self, name: str, epoch: int, key: str) -> bool:
        """Whether the utterance goes without augmentation ``name`` (its probability)."""
        probability = self.probabilities[name]
        if probability >= 1.0:
            return False
        seed = utterance_seed(self.seed, epoch, key, f"{name}/probability")
        draw = torch.rand((), generator=torch.Generator().manual_seed(seed))
        return bool(draw >= probability)

    @staticmethod
    def _apply(augmentation: Callable, waveform: torch.Tensor, seed: int) -> torch.Tensor:
        """Runs one augmentation, seeded, and brings its output back to the input's length."""
        generator = getattr(augmentation, "generator", None)
        if isinstance(generator, torch.Generator):
            generator.manual_seed(seed)
            out = _call(augmentation, waveform)
        else:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                out = _call(augmentation, waveform)
        out = out.reshape(-1)
        if out.numel() != waveform.shape[-1]:
            out = crop_or_pad(out, waveform.shape[-1], random=False)
        return out.reshape(1, -1)


def _call(augmentation: Callable, waveform: torch.Tensor) -> torch.Tensor:
    """``augmentation(waveform[, lengths])``, its waveforms (SpeechBrain's conventions)."""
    forward = getattr(augmentation, "forward", augmentation)
    if lengths_arg_exists(forward):
        out = augmentation(waveform, lengths=torch.ones(1))
    else:
        out = augmentation(waveform)
    return out[0] if isinstance(out, tuple) else out
