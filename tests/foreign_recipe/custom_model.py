"""The recipe's own embedding model, as SpeechBrain's templates keep theirs in
``custom_model.py``: an x-vector (time-delay layers, statistics pooling, a linear layer).

Authors
 * speechbrain-ssdctx contributors
"""

import torch
from speechbrain.nnet.CNN import Conv1d
from speechbrain.nnet.linear import Linear
from speechbrain.nnet.normalization import BatchNorm1d


class Xvector(torch.nn.Module):
    """An x-vector: ``[batch, frames, in_channels]`` features -> ``[batch, 1, lin_neurons]``.

    The statistics pooling takes the mean and standard deviation of the valid frames
    (SpeechBrain's ``StatisticsPooling`` also adds a little Gaussian noise, even in eval
    mode; this one is deterministic).

    Arguments
    ---------
    in_channels : int
        Feature size.
    channels : list of int
        Output channels of the time-delay layers.
    kernel_sizes : list of int
        Their kernel sizes.
    dilations : list of int
        Their dilations.
    lin_neurons : int
        Embedding size.

    Example
    -------
    >>> Xvector(in_channels=20)(torch.randn(2, 50, 20)).shape
    torch.Size([2, 1, 32])
    """

    def __init__(
        self,
        in_channels=24,
        channels=(32, 32, 64),
        kernel_sizes=(5, 3, 1),
        dilations=(1, 2, 1),
        lin_neurons=32,
    ):
        super().__init__()
        layers = []
        for out_channels, kernel_size, dilation in zip(
            channels, kernel_sizes, dilations, strict=True
        ):
            layers += [
                Conv1d(out_channels, kernel_size, in_channels=in_channels, dilation=dilation),
                torch.nn.LeakyReLU(),
                BatchNorm1d(input_size=out_channels),
            ]
            in_channels = out_channels
        self.tdnn = torch.nn.Sequential(*layers)
        self.embedding = Linear(lin_neurons, input_size=2 * in_channels)

    def forward(self, feats, lengths=None):
        """Embeddings ``[batch, 1, lin_neurons]`` of the valid frames of each row."""
        frames = self.tdnn(feats)
        if lengths is None:
            lengths = torch.ones(frames.shape[0], device=frames.device)
        valid = torch.round(lengths * frames.shape[1]).clamp(min=2)
        mask = torch.arange(frames.shape[1], device=frames.device)[None] < valid[:, None]
        mask = mask.unsqueeze(-1).to(frames.dtype)
        mean = (frames * mask).sum(1) / valid[:, None]
        variance = ((frames - mean[:, None]) ** 2 * mask).sum(1) / (valid[:, None] - 1)
        stats = torch.cat([mean, variance.clamp(min=1e-10).sqrt()], dim=-1)
        return self.embedding(stats).unsqueeze(1)
