"""The detector contract: what a detector returns, read the way SpeechBrain lobes write it.

Every detector this package trains, scores or exports follows::

    forward(wavs, lengths) -> (embedding [B, D], logits [B, 2])

with logits index 1 = bona fide. SpeechBrain lobes write the same things in other
shapes, all accepted here and brought to that form:

- embeddings ``[B, D]`` or ``[B, 1, D]`` (SpeechBrain's x-vector and ECAPA-TDNN);
- logits ``[B, 2]``, ``[B, 1, 2]`` (SpeechBrain's ``Classifier``: cosine scores for an
  AAM-softmax loss, or log-probabilities after ``Softmax(apply_log=True)``), or one bona
  fide logit per row (``[B]``, ``[B, 1]``, ``[B, 1, 1]``), read as the log-odds of class 1
  and turned into ``[0, z]``: its softmax is ``[1 - sigmoid(z), sigmoid(z)]``;
- labels ``[B]``, ``[B, 1]`` or SpeechBrain's ``PaddedData``.

Anything else is refused with a :class:`ContractError` that states the contract and what
was received (types and shapes): a model returning logits only, outputs in the wrong
order, a batch-size mismatch.

Authors
 * speechbrain-ssdctx contributors
"""

from __future__ import annotations

import torch
from speechbrain.dataio.batch import PaddedData

from speechbrain_ssdctx.utils.module_state import HookedStateMixin

#: The contract, as the error messages state it.
CONTRACT = "forward(wavs, lengths) -> (embedding [B, D], logits [B, 2])"


class ContractError(ValueError):
    """A detector's outputs or labels do not follow the contract (the message says how)."""


def describe(value) -> str:
    """Types and shapes of a value, for error messages.

    Example
    -------
    >>> describe((torch.zeros(4, 2), torch.zeros(4, 1, 64)))
    '(Tensor [4, 2], Tensor [4, 1, 64])'
    """
    if isinstance(value, torch.Tensor):
        return f"Tensor {list(value.shape)}"
    if isinstance(value, tuple | list):
        inner = ", ".join(describe(item) for item in value)
        return f"({inner})" if isinstance(value, tuple) else f"[{inner}]"
    return type(value).__name__


def as_embedding(embedding: torch.Tensor, batch_size: int) -> torch.Tensor:
    """``[B, D]`` from ``[B, D]`` or ``[B, 1, D]``.

    Example
    -------
    >>> as_embedding(torch.zeros(3, 1, 8), 3).shape
    torch.Size([3, 8])
    """
    if embedding.dim() == 3 and embedding.shape[1] == 1:
        embedding = embedding.squeeze(1)
    if embedding.dim() != 2 or embedding.shape[0] != batch_size:
        raise ContractError(
            f"the embedding must be [B, D] or [B, 1, D] with B = {batch_size}, "
            f"got {describe(embedding)}"
        )
    return embedding


def as_logits(logits: torch.Tensor, batch_size: int) -> torch.Tensor:
    """``[B, 2]`` logits from ``[B, 2]``, ``[B, 1, 2]`` or one bona fide logit per row.

    A single logit ``z`` becomes ``[0, z]`` (same softmax as ``sigmoid(z)``).

    Example
    -------
    >>> as_logits(torch.tensor([[[1.0, 3.0]]]), 1)
    tensor([[1., 3.]])
    >>> as_logits(torch.tensor([2.0, -1.0]), 2)
    tensor([[ 0.,  2.],
            [ 0., -1.]])
    """
    if logits.dim() >= 1 and logits.shape[0] == batch_size:
        if logits.dim() == 3 and logits.shape[1] == 1:
            logits = logits.squeeze(1)
        if logits.dim() == 1 or (logits.dim() == 2 and logits.shape[1] == 1):
            logit = logits.reshape(batch_size)
            return torch.stack([torch.zeros_like(logit), logit], dim=-1)
        if logits.dim() == 2 and logits.shape[1] == 2:
            return logits
    raise ContractError(
        f"the logits must be [B, 2], [B, 1, 2] or one bona fide logit per row ([B], [B, 1]) "
        f"with B = {batch_size}, got {describe(logits)}"
    )


def split_outputs(
    outputs, batch_size: int, embedding_dim: int | None = None, who: str = "the detector"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Checks a detector's outputs and returns ``(embedding [B, D], logits [B, 2])``.

    Arguments
    ---------
    outputs : object
        What the detector's forward returned.
    batch_size : int
        The number of waveforms it was given.
    embedding_dim : int, optional
        The expected embedding size (checked, and used to recognise swapped outputs).
    who : str
        Names the detector in the messages.

    Returns
    -------
    tuple of torch.Tensor
        ``[B, D]`` embedding and ``[B, 2]`` logits.

    Raises
    ------
    ContractError
        Stating the contract and what was received.

    Example
    -------
    >>> embedding, logits = split_outputs((torch.zeros(2, 1, 8), torch.zeros(2, 1, 2)), 2)
    >>> embedding.shape, logits.shape
    (torch.Size([2, 8]), torch.Size([2, 2]))
    >>> split_outputs(torch.zeros(2, 2), 2)
    Traceback (most recent call last):
    ...
    speechbrain_ssdctx.method.contract.ContractError: the detector must follow forward(wavs, ...
    it returned Tensor [2, 2]: a model that returns logits only must return its embedding too
    """
    header = f"{who} must follow {CONTRACT}; for a batch of B = {batch_size} it returned"
    received = describe(outputs)
    if isinstance(outputs, torch.Tensor):
        raise ContractError(
            f"{header} {received}: a model that returns logits only must return its "
            "embedding too"
        )
    if not (
        isinstance(outputs, tuple | list)
        and len(outputs) == 2
        and all(isinstance(item, torch.Tensor) for item in outputs)
    ):
        raise ContractError(f"{header} {received}: expected two tensors")
    first, second = outputs
    if _looks_swapped(first, second, batch_size, embedding_dim):
        raise ContractError(
            f"{header} {received}, which looks like (logits, embedding): return "
            "(embedding, logits)"
        )
    try:
        embedding = as_embedding(first, batch_size)
        logits = as_logits(second, batch_size)
    except ContractError as error:
        raise ContractError(f"{header} {received}: {error}") from None
    if embedding_dim is not None and embedding.shape[1] != embedding_dim:
        raise ContractError(
            f"{header} {received}: the embedding has {embedding.shape[1]} values, but "
            f"embedding_dim is {embedding_dim}"
        )
    return embedding, logits


def _looks_swapped(first, second, batch_size, embedding_dim) -> bool:
    """Whether ``first`` has the size of logits and ``second`` that of the embedding."""
    width = first.numel() // max(batch_size, 1)
    other = second.shape[-1] if second.dim() else 0
    expected = embedding_dim if embedding_dim is not None else other
    return width in (1, 2) and other == expected and other > 2


def as_labels(labels, batch_size: int | None = None) -> torch.Tensor:
    """``[B]`` integer class labels from a ``[B]`` / ``[B, 1]`` tensor or ``PaddedData``.

    Arguments
    ---------
    labels : torch.Tensor or PaddedData
        Class indices, 0 and 1 (which one is bona fide is the recipe's label encoding).
    batch_size : int, optional
        The expected number of labels.

    Returns
    -------
    torch.Tensor
        ``[B]`` long tensor.

    Example
    -------
    >>> as_labels(PaddedData(torch.tensor([[1], [0]]), torch.ones(2)))
    tensor([1, 0])
    """
    if isinstance(labels, PaddedData):
        labels = labels.data
    if not isinstance(labels, torch.Tensor):
        raise ContractError(
            f"labels must be a [B] or [B, 1] tensor or PaddedData, got {describe(labels)}"
        )
    if labels.dim() == 2 and labels.shape[1] == 1:
        labels = labels.squeeze(1)
    if labels.dim() != 1 or (batch_size is not None and labels.shape[0] != batch_size):
        expected = "B" if batch_size is None else f"B = {batch_size}"
        raise ContractError(f"labels must be [B] or [B, 1] with {expected}, got {describe(labels)}")
    if labels.is_floating_point() and not torch.equal(labels, labels.round()):
        raise ContractError(f"labels must be class indices, got {labels.tolist()}")
    labels = labels.long()
    if labels.numel() and not bool(((labels == 0) | (labels == 1)).all()):
        raise ContractError(
            f"labels must be the class indices 0 and 1, got {sorted(set(labels.tolist()))}"
        )
    return labels


def bonafide_last(logits: torch.Tensor, bonafide_index: int) -> torch.Tensor:
    """Reorders ``[B, 2]`` logits so that index 1 is bona fide.

    Example
    -------
    >>> bonafide_last(torch.tensor([[3.0, 1.0]]), bonafide_index=0)
    tensor([[1., 3.]])
    """
    check_bonafide_index(bonafide_index)
    return logits if bonafide_index == 1 else logits.flip(-1)


def check_bonafide_index(bonafide_index) -> int:
    """Returns ``bonafide_index`` if it is 0 or 1, else raises a ValueError naming it."""
    if isinstance(bonafide_index, bool) or bonafide_index not in (0, 1):
        raise ValueError(f"bonafide_index must be 0 or 1, got {bonafide_index!r}")
    return int(bonafide_index)


class ContractAdapter(HookedStateMixin, torch.nn.Module):
    """Wraps any detector so that it follows the contract exactly, bona fide at index 1.

    Its forward returns ``(embedding [B, D], logits [B, 2])`` from any of the shapes the
    module description lists for the wrapped detector, with the logits reordered when the
    detector was trained with bona fide at index 0. Its ``state_dict`` holds the
    detector's parameters and buffers and the state its SpeechBrain submodules save
    through checkpoint hooks (``InputNormalization`` statistics), so a model exported
    with it scores like the training run. Exported models are built this way.

    Arguments
    ---------
    detector : torch.nn.Module
        ``forward(wavs, lengths)`` returning an embedding and logits (see above).
    bonafide_index : int
        The logit index of bona fide the detector was trained with (0 or 1).

    Example
    -------
    >>> class Flipped(torch.nn.Module):
    ...     def forward(self, wavs, lengths=None):
    ...         return wavs[:, None, :3], torch.stack([wavs[:, 0], -wavs[:, 0]], -1)[:, None]
    >>> adapter = ContractAdapter(Flipped(), bonafide_index=0)
    >>> embedding, logits = adapter(torch.ones(2, 8))
    >>> embedding.shape, logits[0].tolist()
    (torch.Size([2, 3]), [-1.0, 1.0])
    """

    def __init__(self, detector: torch.nn.Module, bonafide_index: int = 1):
        super().__init__()
        self.detector = detector
        self.bonafide_index = check_bonafide_index(bonafide_index)
        self.embedding_dim = getattr(detector, "embedding_dim", None)
        if hasattr(detector, "min_samples"):
            self.min_samples = detector.min_samples

    def forward(
        self, wavs: torch.Tensor, lengths: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(embedding [B, D], logits [B, 2])``, index 1 = bona fide."""
        embedding, logits = split_outputs(self.detector(wavs, lengths), wavs.shape[0])
        return embedding, bonafide_last(logits, self.bonafide_index)


__all__ = [
    "CONTRACT",
    "ContractAdapter",
    "ContractError",
    "as_embedding",
    "as_labels",
    "as_logits",
    "bonafide_last",
    "check_bonafide_index",
    "describe",
    "split_outputs",
]
