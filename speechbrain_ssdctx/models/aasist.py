"""AASIST and AASIST-L: spectro-temporal graph attention networks on raw waveforms.

Jung et al., "AASIST: Audio Anti-Spoofing using Integrated Spectro-Temporal Graph
Attention Networks", ICASSP 2022 (https://arxiv.org/abs/2110.01200).

This is a re-implementation that is numerically the network of the official code
(github.com/clovaai/aasist, MIT licence, NAVER Corp.): its state_dict keys are the
official ones, so the official pretrained weights load strictly with
:meth:`AASIST.from_official_checkpoint`, and a model trained here can be loaded by the
official code. Quirks of the official network kept on purpose (they matter for exact
agreement with the published weights):

* the sinc front end is fixed (not learned, not in the state_dict): 70 mel-spaced ideal
  band-pass filters of 129 taps with a Hamming window, rebuilt at construction;
* the encoder's residual blocks 2-6 own a ``bn1`` whose output the official forward
  discards: its parameters are in the state_dict but never affect the output. We keep them
  (so loading is strict and the parameter count is the official one) frozen
  (``requires_grad=False``), and never compute them, so DDP sees no unused trainable
  parameter;
* the heterogeneous attention layers use the same weight vector for both cross-type
  blocks (spectral-to-temporal and temporal-to-spectral);
* the spectral graph has 23 nodes with a learned positional embedding, so the sinc front
  end must keep its 70 filters; the time axis is free: any input of at least 2,315 samples
  (the sinc kernel, then seven max-poolings by 3) works.

Authors
 * speechbrain-ssdctx contributors (re-implementation of Jung et al. 2022)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from speechbrain_ssdctx.models import channels_last

_SPECTRAL_NODES = 23


@dataclass(frozen=True)
class _AASISTConfig:
    """Hyperparameters of one published AASIST variant (the official ``model_config``)."""

    encoder_channels: tuple[tuple[int, int], ...]
    gat_dims: tuple[int, int]
    pool_ratios: tuple[float, float, float]  # spectral, temporal, heterogeneous graphs
    temperatures: tuple[float, float, float]  # spectral, temporal, heterogeneous graphs


_VARIANTS = {
    "AASIST": _AASISTConfig(
        encoder_channels=((1, 32), (32, 32), (32, 64), (64, 64), (64, 64), (64, 64)),
        gat_dims=(64, 32),
        pool_ratios=(0.5, 0.7, 0.5),
        temperatures=(2.0, 2.0, 100.0),
    ),
    "AASIST-L": _AASISTConfig(
        encoder_channels=((1, 32), (32, 32), (32, 24), (24, 24), (24, 24), (24, 24)),
        gat_dims=(24, 32),
        pool_ratios=(0.4, 0.5, 0.7),
        temperatures=(2.0, 2.0, 100.0),
    ),
}


def _hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(hz) / 700.0)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


class SincFilterBank(nn.Module):
    """Fixed bank of mel-spaced sinc band-pass filters applied to raw waveforms.

    Filter ``i`` is the ideal band-pass between consecutive mel-spaced edges
    ``edges_hz[i], edges_hz[i + 1]`` (from 0 Hz to the Nyquist frequency), truncated to
    ``kernel_size`` taps and tapered with a symmetric Hamming window, as the AASIST front end
    (the filters are not learned). Convolution is ``valid``: the output is
    ``kernel_size - 1`` samples shorter than the input.

    Arguments
    ---------
    num_filters : int
        Number of band-pass filters (output channels).
    kernel_size : int
        Filter length in taps; an even value is increased by one (symmetric filters).
    sample_rate : int
        Sampling rate of the input waveforms, in Hz.

    Example
    -------
    >>> bank = SincFilterBank(num_filters=70, kernel_size=128)
    >>> bank.filters.shape
    torch.Size([70, 129])
    >>> bank(torch.randn(2, 16000)).shape
    torch.Size([2, 70, 15872])
    """

    def __init__(self, num_filters: int = 70, kernel_size: int = 129, sample_rate: int = 16000):
        super().__init__()
        kernel_size += 1 - kernel_size % 2
        mel_edges = np.linspace(0.0, _hz_to_mel(sample_rate / 2), num_filters + 1)
        self.edges_hz = _mel_to_hz(mel_edges)
        half = (kernel_size - 1) // 2
        taps = np.arange(-half, half + 1, dtype=np.float32)
        # An ideal low-pass at cut-off fc has impulse response (2 fc / fs) sinc(2 fc n / fs);
        # a band-pass is the difference of two low-passes. The sinc argument and the final
        # windowing are evaluated in float32 as in the official code, which makes the
        # filters bit-identical to the official ones.
        cutoffs = 2.0 * self.edges_hz[:, None] / sample_rate
        arguments = (
            (2.0 * self.edges_hz[:, None]).astype(np.float32) * taps / np.float32(sample_rate)
        )
        low_passes = cutoffs * np.sinc(arguments)
        band_passes = torch.from_numpy(low_passes[1:] - low_passes[:-1]).float()
        window = torch.from_numpy(np.hamming(kernel_size)).float()
        self.register_buffer("filters", band_passes * window, persistent=False)

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        """Filters ``[batch, time]`` waveforms into ``[batch, num_filters, time']``."""
        return F.conv1d(waveforms.unsqueeze(1), self.filters.unsqueeze(1))


class ResidualBlock(nn.Module):
    """Residual 2-D convolution block of the AASIST encoder.

    ``conv1 -> BatchNorm -> SELU -> conv2``, plus the input (through a 1x3 convolution when
    the channel count changes), then max-pooling by 3 along time. Frequency size is kept.

    Arguments
    ---------
    in_channels : int
        Input channels.
    out_channels : int
        Output channels.
    first : bool
        The first block of the encoder. The others own an unused ``bn1`` (see the module
        docstring): kept, frozen, for checkpoint compatibility only.
    time_pool : int
        Max-pooling factor along time (1: none, as in the SSL back end of Tak et al. 2022).

    Example
    -------
    >>> block = ResidualBlock(32, 64)
    >>> block(torch.randn(2, 32, 23, 30)).shape
    torch.Size([2, 64, 23, 10])
    """

    def __init__(
        self, in_channels: int, out_channels: int, first: bool = False, time_pool: int = 3
    ):
        super().__init__()
        self.time_pool = time_pool
        if not first:
            self.bn1 = nn.BatchNorm2d(in_channels).requires_grad_(False)
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=(2, 3), padding=(1, 1))
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=(2, 3), padding=(0, 1))
        self.conv_downsample = None
        if in_channels != out_channels:
            self.conv_downsample = nn.Conv2d(
                in_channels, out_channels, kernel_size=(1, 3), padding=(0, 1)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Maps ``[batch, in, freq, time]`` to ``[batch, out, freq, time // time_pool]``."""
        # In place (as the official block): no new [B, C, F, T] buffer for the SELU and
        # the sum; their backward passes need neither the BatchNorm's nor conv2's output.
        # On the CPU the block runs channels-last (faster there; see channels_last).
        out = channels_last.batch_norm(self.bn2, channels_last.conv(self.conv1, x))
        out = channels_last.conv(self.conv2, F.selu(out, inplace=True))
        out += x if self.conv_downsample is None else channels_last.conv(self.conv_downsample, x)
        if self.time_pool == 1:
            return out
        return F.max_pool2d(out, kernel_size=(1, self.time_pool))


def _batch_norm_nodes(bn: nn.BatchNorm1d, x: torch.Tensor) -> torch.Tensor:
    """Batch-normalises ``[batch, nodes, dim]`` features over batch and nodes together."""
    return bn(x.reshape(-1, x.shape[-1])).view_as(x)


def _pairwise_products(x: torch.Tensor) -> torch.Tensor:
    """Element-wise products of all node pairs: ``[B, N, D] -> [B, N, N, D]``."""
    return x.unsqueeze(2) * x.unsqueeze(1)


class GraphAttention(nn.Module):
    """Graph attention layer over a fully connected graph of nodes (AASIST's GAT).

    The attention weight of edge ``(i, j)`` is ``softmax_j(w . tanh(W (x_i * x_j)) / T)``;
    the output of node ``i`` is ``SELU(BN(P1 sum_j a_ij x_j + P2 x_i))``.

    Arguments
    ---------
    in_dim : int
        Node feature size at the input.
    out_dim : int
        Node feature size at the output.
    temperature : float
        Softmax temperature ``T`` of the attention map.
    dropout : float
        Dropout applied to the input nodes.

    Example
    -------
    >>> gat = GraphAttention(64, 32, temperature=2.0)
    >>> gat(torch.randn(3, 23, 64)).shape
    torch.Size([3, 23, 32])
    """

    def __init__(self, in_dim: int, out_dim: int, temperature: float = 1.0, dropout: float = 0.2):
        super().__init__()
        self.att_proj = nn.Linear(in_dim, out_dim)
        self.att_weight = nn.Parameter(nn.init.xavier_normal_(torch.empty(out_dim, 1)))
        self.proj_with_att = nn.Linear(in_dim, out_dim)
        self.proj_without_att = nn.Linear(in_dim, out_dim)
        self.bn = nn.BatchNorm1d(out_dim)
        self.input_drop = nn.Dropout(dropout)
        self.temperature = temperature

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Maps ``[batch, nodes, in_dim]`` to ``[batch, nodes, out_dim]``."""
        x = self.input_drop(x)
        scores = torch.tanh(self.att_proj(_pairwise_products(x))) @ self.att_weight
        attention = torch.softmax(scores.squeeze(-1) / self.temperature, dim=-1)
        out = self.proj_with_att(attention @ x) + self.proj_without_att(x)
        return F.selu(_batch_norm_nodes(self.bn, out))


class HeteroGraphAttention(nn.Module):
    """Heterogeneous stacking graph attention layer with a master node (AASIST's HS-GAL).

    The two node types (temporal, spectral) are projected to a common space and joined
    into one graph; edge scores use a weight vector per block of the attention map (type 1
    to type 1, type 2 to type 2, and one shared by both cross-type blocks). A master node
    attends to every node and is updated with its own projections.

    Arguments
    ---------
    in_dim : int
        Node feature size at the input.
    out_dim : int
        Node feature size at the output.
    temperature : float
        Softmax temperature of both attention maps.
    dropout : float
        Dropout applied to the joined input nodes.

    Example
    -------
    >>> layer = HeteroGraphAttention(64, 32, temperature=100.0)
    >>> t, s, m = layer(torch.randn(2, 7, 64), torch.randn(2, 11, 64), torch.randn(2, 1, 64))
    >>> t.shape, s.shape, m.shape
    (torch.Size([2, 7, 32]), torch.Size([2, 11, 32]), torch.Size([2, 1, 32]))
    """

    def __init__(self, in_dim: int, out_dim: int, temperature: float = 1.0, dropout: float = 0.2):
        super().__init__()
        self.proj_type1 = nn.Linear(in_dim, in_dim)
        self.proj_type2 = nn.Linear(in_dim, in_dim)
        self.att_proj = nn.Linear(in_dim, out_dim)
        self.att_projM = nn.Linear(in_dim, out_dim)
        for name in ("att_weight11", "att_weight22", "att_weight12", "att_weightM"):
            self.register_parameter(
                name, nn.Parameter(nn.init.xavier_normal_(torch.empty(out_dim, 1)))
            )
        self.proj_with_att = nn.Linear(in_dim, out_dim)
        self.proj_without_att = nn.Linear(in_dim, out_dim)
        self.proj_with_attM = nn.Linear(in_dim, out_dim)
        self.proj_without_attM = nn.Linear(in_dim, out_dim)
        self.bn = nn.BatchNorm1d(out_dim)
        self.input_drop = nn.Dropout(dropout)
        self.temperature = temperature

    def forward(
        self, x1: torch.Tensor, x2: torch.Tensor, master: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Updates type-1 nodes ``[B, N1, in]``, type-2 nodes ``[B, N2, in]`` and the master
        node ``[B, 1, in]``; returns them with ``out_dim`` features."""
        num_type1 = x1.shape[1]
        x = torch.cat([self.proj_type1(x1), self.proj_type2(x2)], dim=1)
        x = self.input_drop(x)
        master = self._update_master(x, master)
        attention = self._attention_map(x, num_type1)
        out = self.proj_with_att(attention @ x) + self.proj_without_att(x)
        out = F.selu(_batch_norm_nodes(self.bn, out))
        return out[:, :num_type1], out[:, num_type1:], master

    def _attention_map(self, x: torch.Tensor, num_type1: int) -> torch.Tensor:
        """Row-normalised ``[B, N, N]`` attention with one weight vector per block."""
        hidden = torch.tanh(self.att_proj(_pairwise_products(x)))
        weights = torch.cat([self.att_weight11, self.att_weight22, self.att_weight12], dim=1)
        scores = hidden @ weights  # [B, N, N, 3]: one score per block type
        is_type1 = torch.arange(x.shape[1], device=x.device) < num_type1
        same_type = is_type1[:, None] == is_type1[None, :]
        block = torch.where(same_type, torch.where(is_type1[:, None], 0, 1), 2)
        index = block.expand(x.shape[0], -1, -1).unsqueeze(-1)
        scores = scores.gather(-1, index).squeeze(-1)
        return torch.softmax(scores / self.temperature, dim=-1)

    def _update_master(self, x: torch.Tensor, master: torch.Tensor) -> torch.Tensor:
        """The master node attends to all nodes (softmax over nodes)."""
        scores = torch.tanh(self.att_projM(x * master)) @ self.att_weightM
        attention = torch.softmax(scores / self.temperature, dim=1)  # [B, N, 1]
        summary = attention.transpose(1, 2) @ x  # [B, 1, in_dim]
        return self.proj_with_attM(summary) + self.proj_without_attM(master)


class GraphPool(nn.Module):
    """Graph pooling: keeps the top-scoring fraction of nodes, scaled by their scores.

    Node scores are ``sigmoid(w . dropout(x) + b)``; the ``max(int(N * ratio), 1)`` best
    nodes are kept in descending score order (the order matters downstream, as in the
    official code).

    Arguments
    ---------
    in_dim : int
        Node feature size.
    ratio : float
        Fraction of nodes kept.
    dropout : float
        Dropout applied before scoring.

    Example
    -------
    >>> pool = GraphPool(32, ratio=0.5)
    >>> pool(torch.randn(2, 23, 32)).shape
    torch.Size([2, 11, 32])
    """

    def __init__(self, in_dim: int, ratio: float, dropout: float = 0.3):
        super().__init__()
        self.ratio = ratio
        self.proj = nn.Linear(in_dim, 1)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Maps ``[batch, nodes, dim]`` to ``[batch, kept nodes, dim]``."""
        scores = torch.sigmoid(self.proj(self.drop(x)))
        _, index = torch.topk(scores, self._num_kept(x), dim=1)
        return torch.gather(x * scores, 1, index.expand(-1, -1, x.shape[-1]))

    def _num_kept(self, x: torch.Tensor) -> int | torch.Tensor:
        """``max(int(N * ratio), 1)``; while traced (ONNX / TorchScript export), the same
        number computed from the traced shape in float64 (as Python's float), so that the
        exported graph keeps the right number of nodes at any input length."""
        if not torch.jit.is_tracing():
            return max(int(x.shape[1] * self.ratio), 1)
        nodes = torch._shape_as_tensor(x)[1].double()
        return torch.clamp(torch.floor(nodes * self.ratio), min=1).long()


def add_graph_layers(
    module: nn.Module,
    channels: int,
    gat_dims: tuple[int, int],
    pool_ratios: tuple[float, float, float],
    temperatures: tuple[float, float, float],
) -> None:
    """Adds AASIST's graph back end to ``module`` under the official attribute names.

    The master nodes, the spectral / temporal graph attention layers, the heterogeneous
    layers, the graph pools, the dropouts and ``out_layer`` (``5 * hetero_dim`` inputs),
    created in the official order (same random initialisation, same ``state_dict`` keys).
    Used by :class:`AASIST` and by the SSL back end (``models.ssl.AASISTBackend``).

    Arguments
    ---------
    module : torch.nn.Module
        The detector being built (gets the attributes).
    channels : int
        Channels of the encoder's output (the graph nodes' input features).
    gat_dims : tuple of int
        Dimensions of the graph attention and of the heterogeneous layers.
    pool_ratios : tuple of float
        Keep ratios of the spectral, temporal and heterogeneous pools.
    temperatures : tuple of float
        Attention temperatures of the spectral, temporal and heterogeneous layers.
    """
    gat_dim, hetero_dim = gat_dims
    pool_s, pool_t, pool_h = pool_ratios
    temp_s, temp_t, temp_h = temperatures
    module.master1 = nn.Parameter(torch.randn(1, 1, gat_dim))
    module.master2 = nn.Parameter(torch.randn(1, 1, gat_dim))
    module.GAT_layer_S = GraphAttention(channels, gat_dim, temperature=temp_s)
    module.GAT_layer_T = GraphAttention(channels, gat_dim, temperature=temp_t)
    module.HtrgGAT_layer_ST11 = HeteroGraphAttention(gat_dim, hetero_dim, temperature=temp_h)
    module.HtrgGAT_layer_ST12 = HeteroGraphAttention(hetero_dim, hetero_dim, temp_h)
    module.HtrgGAT_layer_ST21 = HeteroGraphAttention(gat_dim, hetero_dim, temperature=temp_h)
    module.HtrgGAT_layer_ST22 = HeteroGraphAttention(hetero_dim, hetero_dim, temp_h)
    module.pool_S = GraphPool(gat_dim, pool_s)
    module.pool_T = GraphPool(gat_dim, pool_t)
    module.pool_hS1 = GraphPool(hetero_dim, pool_h)
    module.pool_hT1 = GraphPool(hetero_dim, pool_h)
    module.pool_hS2 = GraphPool(hetero_dim, pool_h)
    module.pool_hT2 = GraphPool(hetero_dim, pool_h)
    module.drop_way = nn.Dropout(0.2)
    module.drop = nn.Dropout(0.5)
    module.out_layer = nn.Linear(5 * hetero_dim, 2)


class AASIST(nn.Module):
    """AASIST synthetic speech detector on raw 16 kHz waveforms (Jung et al. 2022).

    Sinc front end, residual encoder, spectral and temporal graph attention with graph
    pooling, two branches of heterogeneous stacking graph attention with master nodes,
    and a 160-d readout (max of absolute values and mean of the temporal and spectral
    nodes, and the master node) followed by a linear layer. Numerically the official
    network (see the module docstring for the kept quirks).

    The embedding returned is the readout *before* the final dropout (``p = 0.5``), which
    the official code applies before the output layer; in eval mode both are the same.
    ``lengths`` is accepted for a uniform detector interface and ignored, like the official
    code (padding is seen by the network: batch utterances of equal length).

    Arguments
    ---------
    variant : str
        ``"AASIST"`` (297,866 parameters) or ``"AASIST-L"`` (85,306 parameters).

    Example
    -------
    >>> model = AASIST("AASIST-L").eval()
    >>> embedding, logits = model(torch.randn(2, 16000))
    >>> embedding.shape, logits.shape
    (torch.Size([2, 160]), torch.Size([2, 2]))
    >>> sum(p.numel() for p in model.parameters())
    85306
    """

    min_samples = 2315
    sample_rate = 16000

    def __init__(self, variant: str = "AASIST"):
        super().__init__()
        if variant not in _VARIANTS:
            raise ValueError(
                f"Unknown AASIST variant {variant!r}; expected one of {list(_VARIANTS)}"
            )
        self.variant = variant
        config = _VARIANTS[variant]
        channels = config.encoder_channels[-1][-1]

        self.conv_time = SincFilterBank(70, kernel_size=128, sample_rate=self.sample_rate)
        self.first_bn = nn.BatchNorm2d(1)
        # Each block is wrapped in its own Sequential only so that the state_dict keys are
        # the official ones ("encoder.<i>.0.<...>").
        self.encoder = nn.Sequential(
            *(
                nn.Sequential(ResidualBlock(c_in, c_out, first=i == 0))
                for i, (c_in, c_out) in enumerate(config.encoder_channels)
            )
        )
        self.pos_S = nn.Parameter(torch.randn(1, _SPECTRAL_NODES, channels))
        add_graph_layers(self, channels, config.gat_dims, config.pool_ratios, config.temperatures)
        self.embedding_dim = self.out_layer.in_features

    @classmethod
    def from_official_checkpoint(cls, path: str | Path) -> AASIST:
        """Builds the model from an official AASIST or AASIST-L state_dict file.

        The variant is inferred from the weights; every key is loaded (strict). The model
        is returned in eval mode (call ``.train()`` to fine-tune).

        Arguments
        ---------
        path : str or pathlib.Path
            A ``.pth`` file holding the official model's plain state_dict (as released at
            github.com/clovaai/aasist, ``models/weights/``).

        Returns
        -------
        AASIST
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such AASIST checkpoint file")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:
            raise ValueError(f"{path}: cannot be read as a PyTorch checkpoint ({error})") from error
        if not isinstance(state, dict) or "pos_S" not in state:
            raise ValueError(f"{path}: not an official AASIST state_dict (no 'pos_S' entry)")
        channels = state["pos_S"].shape[-1]
        variants = {cfg.encoder_channels[-1][-1]: name for name, cfg in _VARIANTS.items()}
        if channels not in variants:
            raise ValueError(
                f"{path}: encoder width {channels} matches no AASIST variant {list(_VARIANTS)}"
            )
        model = cls(variants[channels])
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as error:
            raise ValueError(f"{path}: does not match {model.variant} ({error})") from error
        return model.eval()

    def forward(
        self, wavs: torch.Tensor, lengths: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Scores a batch of raw waveforms.

        Arguments
        ---------
        wavs : torch.Tensor
            ``[batch, time]`` waveforms at 16 kHz, at least 2,315 samples.
        lengths : torch.Tensor, optional
            Relative lengths; ignored (see the class docstring).

        Returns
        -------
        embedding : torch.Tensor
            ``[batch, 160]`` readout.
        logits : torch.Tensor
            ``[batch, 2]``, index 1 = bona fide; the score is ``logits[:, 1]``.
        """
        if wavs.dim() != 2:
            raise ValueError(
                f"AASIST expects [batch, time] waveforms, got shape {list(wavs.shape)}"
            )
        if wavs.shape[1] < self.min_samples:
            raise ValueError(
                f"AASIST needs at least {self.min_samples} samples per input, got {wavs.shape[1]}"
            )
        nodes_t, nodes_s = self._graph_nodes(wavs)
        branch1 = hetero_branch(
            nodes_t,
            nodes_s,
            self.master1,
            (self.HtrgGAT_layer_ST11, self.HtrgGAT_layer_ST12),
            (self.pool_hT1, self.pool_hS1),
        )
        branch2 = hetero_branch(
            nodes_t,
            nodes_s,
            self.master2,
            (self.HtrgGAT_layer_ST21, self.HtrgGAT_layer_ST22),
            (self.pool_hT2, self.pool_hS2),
        )
        embedding = graph_readout(branch1, branch2, self.drop_way)
        return embedding, self.out_layer(self.drop(embedding))

    def _graph_nodes(self, wavs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Front end, encoder, and the pooled temporal and spectral graphs."""
        x = self.conv_time(wavs).unsqueeze(1)  # [B, 1, 70, T]
        x = F.selu(self.first_bn(F.max_pool2d(x.abs(), kernel_size=(3, 3))), inplace=True)
        encoded = self.encoder(x).abs()  # [B, C, 23, T']
        nodes_s = encoded.amax(dim=3).transpose(1, 2) + self.pos_S
        nodes_t = encoded.amax(dim=2).transpose(1, 2)
        out_s = self.pool_S(self.GAT_layer_S(nodes_s))
        out_t = self.pool_T(self.GAT_layer_T(nodes_t))
        return out_t, out_s



def hetero_branch(
    nodes_t: torch.Tensor,
    nodes_s: torch.Tensor,
    master: torch.Tensor,
    layers: tuple[HeteroGraphAttention, HeteroGraphAttention],
    pools: tuple[GraphPool, GraphPool],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One inference branch of AASIST: HS-GAL, graph pooling (temporal, spectral), then a
    residual HS-GAL.

    Arguments
    ---------
    nodes_t, nodes_s : torch.Tensor
        ``[batch, nodes, dim]`` temporal and spectral nodes.
    master : torch.Tensor
        ``[1, 1, dim]`` learned master node.
    layers : tuple of HeteroGraphAttention
        The two heterogeneous layers of the branch.
    pools : tuple of GraphPool
        Temporal and spectral pooling after the first layer.

    Returns
    -------
    tuple of torch.Tensor
        Temporal nodes, spectral nodes, master node.
    """
    master = master.expand(nodes_t.shape[0], -1, -1)
    out_t, out_s, master = layers[0](nodes_t, nodes_s, master)
    out_t, out_s = pools[0](out_t), pools[1](out_s)
    aug_t, aug_s, aug_master = layers[1](out_t, out_s, master)
    return out_t + aug_t, out_s + aug_s, master + aug_master


def graph_readout(
    branch1: tuple[torch.Tensor, ...], branch2: tuple[torch.Tensor, ...], drop_way: nn.Module
) -> torch.Tensor:
    """AASIST's readout: element-wise maximum of the two branches (after ``drop_way``),
    then max of absolute values and mean of the temporal and spectral nodes, and the
    master node: ``[batch, 5 * dim]``.

    Example
    -------
    >>> branch = (torch.ones(2, 3, 4), torch.zeros(2, 5, 4), torch.ones(2, 1, 4))
    >>> graph_readout(branch, branch, nn.Identity()).shape
    torch.Size([2, 20])
    """
    out_t, out_s, master = (
        torch.maximum(drop_way(a), drop_way(b)) for a, b in zip(branch1, branch2, strict=True)
    )
    return torch.cat(
        [
            out_t.abs().amax(dim=1),
            out_t.mean(dim=1),
            out_s.abs().amax(dim=1),
            out_s.mean(dim=1),
            master.squeeze(1),
        ],
        dim=1,
    )


__all__ = [
    "AASIST",
    "GraphAttention",
    "GraphPool",
    "HeteroGraphAttention",
    "ResidualBlock",
    "SincFilterBank",
    "graph_readout",
    "hetero_branch",
]
