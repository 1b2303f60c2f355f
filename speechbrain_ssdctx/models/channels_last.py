"""Channels-last convolutions and batch normalisation for 2-D encoders on the CPU.

For AASIST's encoder shapes (``[B, 32, 23, 21490]`` at its first block), oneDNN's CPU
convolutions run forward and backward much faster on channels-last tensors than on the
default layout (one training step of AASIST at batch 8 x 64,600 samples, 2 threads:
about 0.65x the time; ``benchmarks/bench_models.py``). A convolution's output takes the
layout of its input, and the element-wise layers, poolings and batch normalisations after
it keep it, so converting a block's input once puts the whole block in that layout.

One kernel is not fit for training there: PyTorch's CPU batch normalisation computes the
batch statistics of a channels-last tensor with plain float32 accumulation, off by about
6e-4 (relative) over AASIST's 4 million values per channel, against 1e-7 for the default
layout. :func:`batch_norm` takes the statistics with PyTorch's cascaded sums instead (as
accurate on both layouts), and uses the fast kernels for the rest: the normalisation
with given statistics, and the batch-norm backward pass with the saved mean and inverse
standard deviation (what ``torch.nn.BatchNorm2d``'s own backward calls).

Authors
 * speechbrain-ssdctx contributors
"""

from __future__ import annotations

import torch
from torch import nn
from torch.autograd.function import once_differentiable
from torch.nn import functional as F


def conv(layer: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """``layer(x)``, in the channels-last layout on the CPU.

    Other devices, and tracing (ONNX / TorchScript export: ``as_strided`` would record the
    traced length's strides in the graph), use the default layout. The values are those of
    the default layout up to the order of float32 sums; the parameters keep their layout
    (state_dict unchanged).

    Arguments
    ---------
    layer : torch.nn.Conv2d
        The convolution.
    x : torch.Tensor
        ``[batch, channels, height, width]`` input.

    Returns
    -------
    torch.Tensor
        ``layer(x)``, channels-last on the CPU.

    Example
    -------
    >>> layer = nn.Conv2d(4, 8, kernel_size=3, padding=1)
    >>> out = conv(layer, torch.randn(2, 4, 5, 6))
    >>> out.is_contiguous(memory_format=torch.channels_last)
    True
    """
    if not x.is_cpu or torch.jit.is_tracing():
        return layer(x)
    if x.shape[1] == 1:
        # One channel: both layouts hold the same bytes; a channel stride of 1 is what
        # makes oneDNN read the tensor (and write the output) as channels-last.
        return layer(x.as_strided(x.shape, (x.stride(0), 1, *x.stride()[2:])))
    return layer(x.contiguous(memory_format=torch.channels_last))


def batch_norm(bn: nn.BatchNorm2d, x: torch.Tensor) -> torch.Tensor:
    """``bn(x)``, with accurate batch statistics for channels-last inputs.

    When ``bn`` normalises with the batch's statistics (train mode, or no running
    statistics) and ``x`` is channels-last, the mean and variance are cascaded sums (see
    the module docstring) and the running statistics are updated as ``bn`` would update
    them; otherwise this is ``bn(x)``. Subclasses (``SyncBatchNorm`` is not one) run as
    they are.

    Arguments
    ---------
    bn : torch.nn.BatchNorm2d
        The normalisation.
    x : torch.Tensor
        ``[batch, channels, height, width]`` input.

    Returns
    -------
    torch.Tensor
        The normalised tensor, in ``x``'s layout.

    Example
    -------
    >>> bn = nn.BatchNorm2d(3)
    >>> x = (5 + torch.randn(4, 3, 8, 8)).contiguous(memory_format=torch.channels_last)
    >>> torch.allclose(batch_norm(bn, x), nn.BatchNorm2d(3)(x.contiguous()), atol=1e-5)
    True
    >>> torch.allclose(bn.running_mean, 0.1 * x.mean(dim=(0, 2, 3)))
    True
    """
    batch_statistics = bn.training or bn.running_mean is None
    if (
        type(bn) is not nn.BatchNorm2d
        or not batch_statistics
        or not x.is_contiguous(memory_format=torch.channels_last)
    ):
        return bn(x)
    out, mean, var = _BatchStatisticsNorm.apply(x, bn.weight, bn.bias, bn.eps)
    if bn.training and bn.track_running_stats:
        _update_running_statistics(bn, mean, var, x.numel() // x.shape[1])
    return out


@torch.no_grad()
def _update_running_statistics(bn: nn.BatchNorm2d, mean, var, count: int) -> None:
    """What ``bn``'s forward does to its buffers in train mode (unbiased running variance)."""
    bn.num_batches_tracked.add_(1)
    factor = bn.momentum if bn.momentum is not None else 1.0 / float(bn.num_batches_tracked)
    bn.running_mean.lerp_(mean, factor)
    bn.running_var.lerp_(var * count / max(count - 1, 1), factor)


class _BatchStatisticsNorm(torch.autograd.Function):
    """Batch normalisation with the batch's statistics taken by cascaded sums.

    Forward: mean and (biased) variance per channel, then the normalisation with them as
    given statistics; backward: ``aten.native_batch_norm_backward`` in training mode with
    the saved mean and inverse standard deviation (the gradient through the statistics
    included), as ``torch.nn.functional.batch_norm``'s own backward.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, eps):
        count = x.numel() // x.shape[1]
        # At least float32 (bf16 / fp16 inputs under autocast): the parameters' dtype.
        dtype = torch.promote_types(x.dtype, torch.float32)
        mean = x.sum(dim=(0, 2, 3), dtype=dtype) / count
        var = _centred_square_sum(x, mean) / count
        out = F.batch_norm(x, mean, var, weight, bias, training=False, eps=eps)
        ctx.save_for_backward(x, weight, mean, torch.rsqrt(var + eps))
        ctx.eps = eps
        ctx.mark_non_differentiable(mean, var)
        return out, mean, var

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out, _grad_mean, _grad_var):
        x, weight, mean, invstd = ctx.saved_tensors
        needs = ctx.needs_input_grad
        grad_x, grad_weight, grad_bias = torch.ops.aten.native_batch_norm_backward(
            grad_out.contiguous(memory_format=torch.channels_last), x, weight, None, None,
            mean, invstd, True, ctx.eps, [needs[0], needs[1], needs[2]],
        )
        return grad_x, grad_weight, grad_bias, None


def _centred_square_sum(x: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
    """``sum((x - mean)^2)`` per channel, one example at a time (a temporary of one
    example's size, not the batch's)."""
    total = torch.zeros_like(mean)
    for example in x:
        total += (example.to(mean.dtype) - mean[:, None, None]).square_().sum(dim=(1, 2))
    return total


__all__ = ["batch_norm", "conv"]
