"""Light CNN (LCNN) with Max-Feature-Map activations on log Mel filter banks with deltas.

The LCNN baseline of synthetic speech detection: the convolutional layout of the STC
system of Lavrentyeva et al., "STC antispoofing systems for the ASVspoof2019 challenge",
Interspeech 2019 (itself after Wu et al.'s Light CNN), as used by the paper's
"LCNN (Das, 2021)" baseline. The front end (log Mel filter banks with first- and
second-order deltas, 512-sample frames, 128-sample shift at 16 kHz) is inside the forward
path, because InF masks the raw waveform before features are computed.

Authors
 * speechbrain-ssdctx contributors
"""

from __future__ import annotations

import torch
from speechbrain.lobes.features import Fbank
from torch import nn


class MaxFeatureMap(nn.Module):
    """Max-Feature-Map activation: the element-wise max of the two halves of dim 1.

    Example
    -------
    >>> MaxFeatureMap()(torch.tensor([[1.0, -2.0, 0.5, 3.0]]))
    tensor([[1., 3.]])
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Halves the size of dim 1 (channels or features)."""
        first, second = x.chunk(2, dim=1)
        return torch.maximum(first, second)


def _mfm_conv(in_channels: int, out_channels: int, kernel_size: int) -> nn.Sequential:
    """A 'same'-padded convolution to ``2 * out_channels`` followed by MFM."""
    return nn.Sequential(
        nn.Conv2d(in_channels, 2 * out_channels, kernel_size, padding=kernel_size // 2),
        MaxFeatureMap(),
    )


def _lcnn_body(in_channels: int) -> nn.Sequential:
    """The STC LCNN convolutional stack (Lavrentyeva et al. 2019, Table 1: layers 1-28).

    Output channels after MFM: 32, 32, 48, 48, 64, 64, 32, 32, 32; four 2x2 max-poolings
    divide frequency and time by 16.
    """
    return nn.Sequential(
        _mfm_conv(in_channels, 32, 5),
        nn.MaxPool2d(2),
        _mfm_conv(32, 32, 1),
        nn.BatchNorm2d(32),
        _mfm_conv(32, 48, 3),
        nn.MaxPool2d(2),
        nn.BatchNorm2d(48),
        _mfm_conv(48, 48, 1),
        nn.BatchNorm2d(48),
        _mfm_conv(48, 64, 3),
        nn.MaxPool2d(2),
        _mfm_conv(64, 64, 1),
        nn.BatchNorm2d(64),
        _mfm_conv(64, 32, 3),
        nn.BatchNorm2d(32),
        _mfm_conv(32, 32, 1),
        nn.BatchNorm2d(32),
        _mfm_conv(32, 32, 3),
        nn.MaxPool2d(2),
    )


class LCNN(nn.Module):
    """LCNN synthetic speech detector on raw waveforms.

    Front end: SpeechBrain ``Fbank`` (centred frames, Hamming window,
    ``n_fft = win_length = 512`` samples, hop 128 samples, power spectrum, SpeechBrain's
    triangular Mel filters from 0 Hz to Nyquist, log in dB floored 80 dB below each
    utterance's maximum) with first- and second-order deltas (5-frame regression), stacked
    as three input channels (static, delta, delta-delta) of ``n_mels`` x frames images.
    Inputs need at least 16 frames (1,920 samples with the defaults).

    Network: the STC LCNN of Lavrentyeva et al. (2019), layers 1-32: nine MFM
    convolutions (5x5, then alternating 1x1 and 3x3) with four 2x2 max-poolings and batch
    normalisation, then FC 2*D -> MFM -> D -> BatchNorm -> FC 2. Differences from that
    layout, all ours:

    * three input channels (static, delta, delta-delta) instead of one spectrogram;
    * a learned per-feature batch normalisation of the input (global mean and variance
      normalisation of each channel and Mel band), so dB features train from scratch;
    * the fixed-size flattening before FC29 is replaced by pooling over time (``pooling``)
      of the per-frame ``32 * (n_mels // 16)`` features, so any input length works (as in
      the LCNN of Wang & Yamagishi 2021, without its BLSTM layers, to stay fast on CPU);
    * dropout (``dropout``) on the pooled features, before the first FC layer.

    The embedding is the ``embedding_dim``-d output of the batch normalisation after the
    MFM of the first FC layer (the penultimate layer).

    ``lengths`` (relative, as in SpeechBrain) restricts the time pooling to the frames
    of each utterance's valid part (``round(length * frames)`` after the last pooling,
    at least one): padding then does not change an utterance's embedding beyond the
    receptive field at its edge. With ``lengths=None`` all frames are pooled.

    Arguments
    ---------
    n_mels : int
        Number of Mel filters (the paper does not state it; ours: 64).
    embedding_dim : int
        Size D of the embedding (STC: 80, from an FC of 160 outputs and MFM).
    pooling : str
        ``"mean"`` or ``"max"`` over valid frames.
    dropout : float
        Dropout probability on the pooled features (STC: 0.75).
    sample_rate : int
        Sampling rate of the input, in Hz.
    win_length : int
        Frame length in samples (also the FFT size).
    hop_length : int
        Frame shift in samples.
    feature_augment : torch.nn.Module, optional
        Applied in training mode to the static ``[batch, frames, n_mels]`` log Mel
        energies, before the deltas (so all three channels see the same masks), e.g.
        SpecAugment as SpeechBrain ``SpectrogramDrop`` modules in a ``Sequential``.

    Example
    -------
    >>> model = LCNN(n_mels=32).eval()
    >>> embedding, logits = model(torch.randn(3, 16000), torch.tensor([1.0, 0.8, 0.5]))
    >>> embedding.shape, logits.shape
    (torch.Size([3, 80]), torch.Size([3, 2]))
    """

    def __init__(
        self,
        n_mels: int = 64,
        embedding_dim: int = 80,
        pooling: str = "mean",
        dropout: float = 0.75,
        sample_rate: int = 16000,
        win_length: int = 512,
        hop_length: int = 128,
        feature_augment: nn.Module | None = None,
    ):
        super().__init__()
        if pooling not in ("mean", "max"):
            raise ValueError(f"LCNN pooling must be 'mean' or 'max', got {pooling!r}")
        if n_mels < 16:
            raise ValueError(f"LCNN needs n_mels >= 16 (four 2x2 poolings), got {n_mels}")
        self.n_mels = n_mels
        self.hop_length = hop_length
        self.pooling = pooling
        self.embedding_dim = embedding_dim
        self.feature_augment = feature_augment
        self.fbank = Fbank(
            deltas=False,
            sample_rate=sample_rate,
            n_fft=win_length,
            n_mels=n_mels,
            win_length=1000.0 * win_length / sample_rate,
            hop_length=1000.0 * hop_length / sample_rate,
        )
        self.input_norm = nn.BatchNorm1d(3 * n_mels)
        self.body = _lcnn_body(in_channels=3)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Sequential(
            nn.Linear(32 * (n_mels // 16), 2 * embedding_dim),
            MaxFeatureMap(),
            nn.BatchNorm1d(embedding_dim),
        )
        self.out_layer = nn.Linear(embedding_dim, 2)

    @property
    def min_samples(self) -> int:
        """The shortest input: 16 centred frames (four 2x2 poolings), 15 hops."""
        return 15 * self.hop_length

    def compute_features(self, wavs: torch.Tensor) -> torch.Tensor:
        """Log Mel filter banks with deltas: ``[batch, time]`` -> ``[batch, 3, n_mels, frames]``.

        Channel 0 holds the static log Mel energies (dB), 1 the deltas, 2 the delta-deltas.
        In training mode, ``feature_augment`` (if any) is applied to the static energies.
        Always computed in float32, autocast or not: in bfloat16 the Mel energies of a
        quiet frame would lose their low bits before the log (the network after them
        follows the autocast).
        """
        with torch.autocast(device_type=wavs.device.type, enabled=False):
            static = self.fbank(wavs.float())  # [B, frames, n_mels]
            if self.feature_augment is not None and self.training:
                static = self.feature_augment(static)
            delta = self.fbank.compute_deltas(static)
            feats = torch.stack([static, delta, self.fbank.compute_deltas(delta)], dim=1)
        return feats.transpose(2, 3)

    def forward(
        self, wavs: torch.Tensor, lengths: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Scores a batch of raw waveforms.

        Arguments
        ---------
        wavs : torch.Tensor
            ``[batch, time]`` waveforms.
        lengths : torch.Tensor, optional
            ``[batch]`` relative lengths in (0, 1] of the valid part of each waveform.

        Returns
        -------
        embedding : torch.Tensor
            ``[batch, embedding_dim]``.
        logits : torch.Tensor
            ``[batch, 2]``, index 1 = bona fide; the score is ``logits[:, 1]``.
        """
        if wavs.dim() != 2:
            raise ValueError(f"LCNN expects [batch, time] waveforms, got shape {list(wavs.shape)}")
        feats = self.compute_features(wavs)
        if feats.shape[-1] < 16:
            raise ValueError(
                f"LCNN input too short: {wavs.shape[1]} samples give {feats.shape[-1]} frames, "
                "fewer than the 16 that its four 2x2 poolings need"
            )
        feats = self.input_norm(feats.flatten(1, 2)).unflatten(1, (3, self.n_mels))
        hidden = self.body(feats)  # [B, 32, n_mels // 16, frames // 16]
        frames = hidden.flatten(1, 2).transpose(1, 2)  # [B, frames', 32 * (n_mels // 16)]
        pooled = self._pool(frames, lengths)
        embedding = self.fc(self.dropout(pooled))
        return embedding, self.out_layer(embedding)

    def _pool(self, frames: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        """Mean or max over the valid frames of ``[batch, frames, dim]``."""
        if lengths is None:  # no mask: a traced graph (ONNX export) keeps any length
            return frames.amax(dim=1) if self.pooling == "max" else frames.mean(dim=1)
        num_frames = frames.shape[1]
        counts = (lengths.to(frames.device) * num_frames).round().clamp(1, num_frames)
        valid = (torch.arange(num_frames, device=frames.device) < counts[:, None]).unsqueeze(-1)
        if self.pooling == "max":
            return frames.masked_fill(~valid, float("-inf")).amax(dim=1)
        return (frames * valid).sum(dim=1) / valid.sum(dim=1)


__all__ = ["LCNN", "MaxFeatureMap"]
