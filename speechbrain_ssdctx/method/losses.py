"""The losses of training: the classification loss (optionally class-weighted) and the two
context losses of the paper, KL consistency (InF) and the inter-instance pair loss against a
memory bank (InI).

All are computed in float32 with autocast disabled, so they stay exact under mixed
precision.

Authors:
- speechbrain-ssdctx contributors (2025)
"""

from collections.abc import Sequence

import torch
import torch.nn.functional as F

KL_DIRECTIONS = ("forward", "reverse", "symmetric")


class ClassificationLoss(torch.nn.Module):
    """Cross-entropy on ``[B, C]`` logits (or one bona fide logit per row), class-weighted.

    With ``class_weights`` ``w``, the loss is the weighted mean over the batch::

        L = sum_i w[y_i] * CE_i / sum_i w[y_i]

    the normalisation of ``torch.nn.CrossEntropyLoss(weight=w)``, of the official AASIST
    recipe and of Tak et al. (2022) (``weight=[0.1, 0.9]`` over [spoof, bona fide]). It
    takes SpeechBrain's layout (``[B, 1, C]`` predictions, ``[B, 1]`` targets), as
    ``ContextLoss`` calls its ``classification_loss_fn``, as well as ``[B, C]`` and
    ``[B]``. Only the ratio of the
    weights matters: a batch's loss stays on the scale of the unweighted mean, and
    utterances of the rarer class count more. A single logit per row (binary
    cross-entropy on the bona fide log-odds) is normalised the same way (``torch``'s
    ``binary_cross_entropy_with_logits(weight=)`` divides by the batch size instead).
    Rows labelled ``ignore_index`` (a set without keys) are left out; a batch with no
    labelled row gives 0.

    Arguments
    ---------
    class_weights : sequence of float, optional
        One weight per class index (bona fide = 1, spoof = 0: ``[spoof, bona fide]``);
        ``None``: unweighted.
    ignore_index : int
        Label of rows to leave out.

    Example
    -------
    >>> loss = ClassificationLoss(class_weights=[0.1, 0.9])
    >>> logits = torch.tensor([[2.0, 0.0], [0.0, 2.0], [1.0, 0.0]])
    >>> labels = torch.tensor([0, 1, 1])
    >>> round(float(loss(logits, labels)), 4)  # (0.1 * 0.1269 + 0.9 * 0.1269 + 0.9 * 1.3133) / 1.9
    0.6889
    >>> float(ClassificationLoss()(torch.zeros(4), torch.tensor([0, 1, 1, 0])))
    0.6931...
    """

    def __init__(self, class_weights: Sequence[float] | None = None, ignore_index: int = -1):
        super().__init__()
        if class_weights is not None:
            weights = torch.as_tensor(class_weights, dtype=torch.float32)
            if weights.dim() != 1 or len(weights) < 2 or not bool((weights > 0).all()):
                raise ValueError(
                    "class_weights must list one positive weight per class ([spoof, bona "
                    f"fide]), got {class_weights!r}"
                )
            # Not in state_dict: a recipe setting, not a learned state of the checkpoint.
            self.register_buffer("class_weights", weights, persistent=False)
        else:
            self.class_weights = None
        self.ignore_index = ignore_index

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Computes the loss.

        Arguments
        ---------
        logits : torch.Tensor
            ``[B, C]`` or ``[B, 1, C]`` logits, or ``[B]`` / ``[B, 1]`` bona fide log-odds.
        labels : torch.Tensor
            ``[B]`` or ``[B, 1]`` class indices (bona fide = 1, spoof = 0).

        Returns
        -------
        torch.Tensor
            0-d float32 loss.
        """
        labels = labels.reshape(-1).long()
        if logits.dim() == 3 and logits.shape[1] == 1:  # SpeechBrain's [B, 1, C]
            logits = logits.squeeze(1)
        keep = labels != self.ignore_index
        with torch.autocast(device_type=logits.device.type, enabled=False):
            logits, labels = logits.float()[keep], labels[keep]
            if logits.dim() == 1 or logits.shape[-1] == 1:
                per_row = F.binary_cross_entropy_with_logits(
                    logits.reshape(-1), labels.float(), reduction="none"
                )
            else:
                if self.class_weights is not None and logits.shape[-1] != len(self.class_weights):
                    raise ValueError(
                        f"class_weights has {len(self.class_weights)} weights for "
                        f"{logits.shape[-1]} classes"
                    )
                per_row = F.cross_entropy(logits, labels, reduction="none")
            if self.class_weights is None:
                row_weights = torch.ones_like(per_row)
            else:
                row_weights = self.class_weights.to(per_row.device)[labels]
            return (row_weights * per_row).sum() / row_weights.sum().clamp(min=1e-12)


def class_log_probabilities(logits: torch.Tensor) -> torch.Tensor:
    """Log class probabilities from ``[B, C]`` logits (softmax) or one logit per row.

    A single logit ``z`` (shape ``[B]`` or ``[B, 1]``) is read as the log-odds of
    class 1 (bona fide): ``q = [1 - sigmoid(z), sigmoid(z)]``.

    Arguments
    ---------
    logits : torch.Tensor
        ``[B, C]`` with ``C >= 2``, ``[B, 1]`` or ``[B]``.

    Returns
    -------
    torch.Tensor
        ``[B, C]`` float32 log-probabilities (``C = 2`` for a single logit).

    Example
    -------
    >>> class_log_probabilities(torch.tensor([0.0])).exp()
    tensor([[0.5000, 0.5000]])
    """
    logits = logits.float()
    if logits.dim() == 1 or logits.shape[-1] == 1:
        logit = logits.reshape(-1, 1)
        return torch.cat([F.logsigmoid(-logit), F.logsigmoid(logit)], dim=-1)
    if logits.dim() != 2:
        raise ValueError(f"logits must be [B, C], [B, 1] or [B], got {tuple(logits.shape)}")
    return F.log_softmax(logits, dim=-1)


def kl_consistency(
    logits: torch.Tensor,
    logits_masked: torch.Tensor,
    direction: str = "forward",
    detach_target: bool = False,
) -> torch.Tensor:
    """InF consistency: mean over the batch of KL(q || q_mask) between the two views.

    ``KL(P || Q) = sum_c P_c (log P_c - log Q_c)``, from log-probabilities.

    Arguments
    ---------
    logits : torch.Tensor
        Logits of the clean view, ``[B, C]``, ``[B, 1]`` or ``[B]`` (see
        :func:`class_log_probabilities`).
    logits_masked : torch.Tensor
        Logits of the masked view, same shape.
    direction : str
        ``"forward"``: KL(q || q_mask) (the paper's formula); ``"reverse"``:
        KL(q_mask || q); ``"symmetric"``: the mean of the two.
    detach_target : bool
        If True, the clean view is a fixed target: no gradient flows through
        ``logits`` (whatever the direction), only through ``logits_masked``.

    Returns
    -------
    torch.Tensor
        0-d float32 loss.

    Example
    -------
    >>> logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    >>> float(kl_consistency(logits, logits))
    0.0
    >>> float(kl_consistency(logits, logits.flip(-1))) > 0
    True
    """
    if direction not in KL_DIRECTIONS:
        raise ValueError(f"direction must be one of {KL_DIRECTIONS}, got {direction!r}")
    if logits.shape != logits_masked.shape:
        raise ValueError(
            f"the two views' logits differ in shape: {tuple(logits.shape)} vs "
            f"{tuple(logits_masked.shape)}"
        )
    if detach_target:
        logits = logits.detach()
    with torch.autocast(device_type=logits.device.type, enabled=False):
        log_q = class_log_probabilities(logits)
        log_q_masked = class_log_probabilities(logits_masked)
        # F.kl_div(input, target) is KL(target || input).
        forward = F.kl_div(log_q_masked, log_q, log_target=True, reduction="batchmean")
        if direction == "forward":
            return forward
        reverse = F.kl_div(log_q, log_q_masked, log_target=True, reduction="batchmean")
        if direction == "reverse":
            return reverse
        return 0.5 * (forward + reverse)


class InterInstanceLoss(torch.nn.Module):
    """InI: binary cross-entropy on the cosine similarity of embeddings to a memory bank.

    For each embedding f_i of the batch, bank entries with the same label are the
    positives F+ and the others the negatives F-::

        L = -(1/N) sum_i [ mean_{F+} log sigmoid(s(f_i, f+) / tau)
                           + mean_{F-} log(1 - sigmoid(s(f_i, f-) / tau)) ]

    with s the cosine similarity. A row with no positive (or no negative) in the bank
    drops that term (it still counts in N); an empty bank gives 0.

    Arguments
    ---------
    temperature : float
        tau, dividing the similarities (paper: 1; any other value is our extension).

    Example
    -------
    >>> loss = InterInstanceLoss()
    >>> embeddings = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    >>> labels = torch.tensor([1, 0])
    >>> value = loss(embeddings, labels, embeddings, labels)
    >>> round(float(value), 4)  # -(log sigmoid(1) + log(1 - sigmoid(0)))
    1.0064
    >>> float(loss(embeddings, labels, torch.zeros(0, 2), torch.zeros(0))) == 0.0
    True
    """

    def __init__(self, temperature: float = 1.0):
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.temperature = temperature

    def forward(
        self,
        embeddings: torch.Tensor,
        labels: torch.Tensor,
        bank_embeddings: torch.Tensor,
        bank_labels: torch.Tensor,
    ) -> torch.Tensor:
        """Computes the loss.

        Arguments
        ---------
        embeddings : torch.Tensor
            ``[B, D]`` online embeddings (gradients flow through them).
        labels : torch.Tensor
            ``[B]`` (or ``[B, 1]``) integer labels.
        bank_embeddings : torch.Tensor
            ``[M, D]`` bank entries (treated as constants).
        bank_labels : torch.Tensor
            ``[M]`` their labels.

        Returns
        -------
        torch.Tensor
            0-d float32 loss.
        """
        if embeddings.dim() != 2 or bank_embeddings.dim() != 2:
            raise ValueError(
                f"embeddings must be [B, D] and bank_embeddings [M, D], got "
                f"{tuple(embeddings.shape)} and {tuple(bank_embeddings.shape)}"
            )
        if bank_embeddings.shape[0] and embeddings.shape[1] != bank_embeddings.shape[1]:
            raise ValueError(
                f"embedding sizes differ: batch {embeddings.shape[1]}, "
                f"bank {bank_embeddings.shape[1]}"
            )
        labels = labels.reshape(-1)
        bank_labels = bank_labels.reshape(-1).to(labels.device)
        with torch.autocast(device_type=embeddings.device.type, enabled=False):
            queries = F.normalize(embeddings.float(), dim=-1)
            keys = F.normalize(bank_embeddings.detach().float(), dim=-1)
            similarity = queries @ keys.to(queries.device).T / self.temperature
            positive = (labels[:, None] == bank_labels[None, :]).float()
            negative = 1.0 - positive
            pos_term = _masked_mean(F.logsigmoid(similarity), positive)
            neg_term = _masked_mean(F.logsigmoid(-similarity), negative)
            return -(pos_term + neg_term).mean()


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Row-wise mean of ``values`` over ``mask``; 0 for a row whose mask is empty."""
    return (values * mask).sum(dim=-1) / mask.sum(dim=-1).clamp(min=1.0)
