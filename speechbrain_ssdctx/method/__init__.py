"""The paper's method: InF's masked speech modelling and consistency loss, InI's momentum
encoder, memory bank and pair loss, and the detector contract that lets both wrap any
detector yielding ``(embedding, logits)``.

:class:`ContextLoss` is the paper's total loss; the other names are its parts. This
subpackage imports nothing from training, evaluation or inference.

Example
-------
>>> import torch
>>> from speechbrain_ssdctx.models import LCNN
>>> detector = LCNN(n_mels=32)
>>> context = ContextLoss(detector, bank_size=8)
>>> wavs = torch.randn(2, 16000)
>>> total, parts = context(detector, wavs, None, torch.tensor([0, 1]))
>>> sorted(parts)
['cls', 'cls_masked', 'inf', 'ini']
"""

from speechbrain_ssdctx.method.context import ContextLoss
from speechbrain_ssdctx.method.contract import (
    CONTRACT,
    ContractAdapter,
    ContractError,
    split_outputs,
)
from speechbrain_ssdctx.method.losses import ClassificationLoss, InterInstanceLoss, kl_consistency
from speechbrain_ssdctx.method.masking import BandPassMasking, design_bandpass
from speechbrain_ssdctx.method.memory import MemoryBank, MomentumEncoder

__all__ = [
    "BandPassMasking",
    "CONTRACT",
    "ClassificationLoss",
    "ContextLoss",
    "ContractAdapter",
    "ContractError",
    "InterInstanceLoss",
    "MemoryBank",
    "MomentumEncoder",
    "design_bandpass",
    "kl_consistency",
    "split_outputs",
]
