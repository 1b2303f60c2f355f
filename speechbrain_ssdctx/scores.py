"""The score convention: one number per utterance, higher = more likely bona fide.

Detectors return logits ``[batch, 2]`` with index 1 = bona fide. The score of the recipes
and of exported models is the bona fide log-odds, ``logit[1] - logit[0]`` (the log of
``p(bona fide) / p(spoof)`` under the softmax). The official AASIST code scores with the
raw bona fide logit ``logit[1]``; the bundled official models keep that, so their scores
equal the official ones. Both give the same decisions only at matching thresholds: a
threshold always belongs to one score type.

Authors
 * speechbrain-ssdctx contributors
"""

import torch

SCORE_TYPES = ("log_odds", "bonafide_logit")


def bonafide_scores(logits: torch.Tensor, score_type: str = "log_odds") -> torch.Tensor:
    """Bona fide scores ``[batch]`` from logits ``[batch, 2]``.

    Arguments
    ---------
    logits : torch.Tensor
        ``[batch, 2]`` logits, index 1 = bona fide.
    score_type : str
        ``"log_odds"`` (``logit[1] - logit[0]``) or ``"bonafide_logit"`` (``logit[1]``).

    Returns
    -------
    torch.Tensor
        ``[batch]`` scores.

    Example
    -------
    >>> logits = torch.tensor([[1.0, 3.0], [2.0, -1.0]])
    >>> bonafide_scores(logits)
    tensor([ 2., -3.])
    >>> bonafide_scores(logits, "bonafide_logit")
    tensor([ 3., -1.])
    """
    if score_type not in SCORE_TYPES:
        raise ValueError(f"score_type must be one of {SCORE_TYPES}, got {score_type!r}")
    if score_type == "bonafide_logit":
        return logits[:, 1]
    return logits[:, 1] - logits[:, 0]
