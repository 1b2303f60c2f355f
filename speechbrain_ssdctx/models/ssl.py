"""Self-supervised (SSL) front ends from HuggingFace, with spoofing detection heads.

An :class:`SSLDetector` is ``waveform -> SSLEncoder -> head -> (embedding, logits)``:

- :class:`SSLEncoder` runs any wav2vec 2.0-family model of the HuggingFace Hub (wav2vec 2.0,
  XLS-R, HuBERT, WavLM, data2vec-audio: everything ``transformers.AutoModel`` builds from a
  checkpoint with a ``Wav2Vec2FeatureExtractor``) through SpeechBrain's HuggingFace lobe
  (``speechbrain.lobes.models.huggingface_transformers.Wav2Vec2``), fine-tuned or frozen;
- :class:`AASISTBackend` is the back end of Tak et al. (2022), "Automatic speaker
  verification spoofing and deepfake detection using wav2vec 2.0 and data augmentation"
  (Odyssey 2022; github.com/TakHemlata/SSL_Anti-spoofing): the last hidden states
  projected to 128 dimensions and fed to AASIST's graph attention network (the graph
  modules of :mod:`speechbrain_ssdctx.models.aasist`);
- :class:`LayerPoolingHead` is a light head for any SSL model: a learned weighted sum of
  all hidden layers (or an input-dependent layer selection in the spirit of SLS, Zhang et
  al., ACM MM 2024, github.com/QiShanZhang/SLSforASVspoof-2021-DF), statistics pooling and
  a linear classifier.

``transformers`` is an optional dependency (``pip install speechbrain-ssdctx[ssl]``): it is
imported when an encoder is built, not when this module is.

Authors
 * speechbrain-ssdctx contributors
"""

from __future__ import annotations

import json
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from speechbrain_ssdctx.models.aasist import (
    ResidualBlock,
    add_graph_layers,
    graph_readout,
    hetero_branch,
)

#: What ``SpeechBrain``'s lobe reads from a model folder's ``preprocessor_config.json``
#: besides ``do_normalize`` (the values of every wav2vec 2.0-family checkpoint).
FEATURE_EXTRACTOR = {
    "feature_extractor_type": "Wav2Vec2FeatureExtractor",
    "feature_size": 1,
    "sampling_rate": 16000,
    "padding_value": 0.0,
    "padding_side": "right",
    "return_attention_mask": True,
}


def _speechbrain_wav2vec2():
    """SpeechBrain's HuggingFace wav2vec 2.0 lobe (SpeechBrain 1.1 path, then 1.0 path)."""
    try:
        import transformers  # noqa: F401
    except ImportError as error:
        raise ImportError(
            "SSL front ends need the HuggingFace `transformers` package: "
            "pip install 'speechbrain-ssdctx[ssl]'"
        ) from error
    try:
        from speechbrain.integrations.huggingface.wav2vec2 import Wav2Vec2
    except ImportError:  # SpeechBrain 1.0
        from speechbrain.lobes.models.huggingface_transformers.wav2vec2 import Wav2Vec2
    return Wav2Vec2


def _lobe(source: str, save_path: str, config_overrides: dict, random_init: bool, **kwargs):
    """Builds SpeechBrain's lobe with our config overrides, optionally without weights.

    The subclass overrides ``override_config`` (the hook ``HFTransformersInterface``
    documents for config changes: applied before the model is built, so that dropout and
    layer-drop settings take effect) and ``_from_pretrained`` (where the interface loads
    the weights; with ``random_init`` the model is built from the config only, for exported
    detectors whose weights come from their own checkpoint).
    """
    base = _speechbrain_wav2vec2()

    class Lobe(base):
        def override_config(self, config):
            unknown = sorted(key for key in config_overrides if not hasattr(config, key))
            if unknown:
                raise ValueError(
                    f"SSLEncoder: config_overrides {unknown} are not fields of "
                    f"{type(config).__name__}"
                )
            config.update(config_overrides)
            return config

        def _from_pretrained(self, source, save_path, cache_dir, device=None, **kwargs):
            if not random_init:
                return super()._from_pretrained(source, save_path, cache_dir, device, **kwargs)
            self.model = self.auto_class.from_config(self.config)
            return None

    with warnings.catch_warnings():  # SpeechBrain's lobe calls a method transformers 5 renamed
        warnings.filterwarnings("ignore", ".*gradient_checkpointing_disable", FutureWarning)
        return Lobe(source, save_path, **kwargs)


class SSLEncoder(nn.Module):
    """A HuggingFace SSL speech model through SpeechBrain's lobe: hidden states of a batch.

    ``source`` names the pretrained model (a HuggingFace id, downloaded once into the
    HuggingFace cache under ``save_path``, or a local folder holding ``config.json``, the
    weights and a ``preprocessor_config.json``). A detector exported by ``ssdctx-export``
    rebuilds its encoder from ``config`` instead (``source=None``): the architecture only,
    no download, the fine-tuned weights come from the export's checkpoint (see
    :meth:`inference_arguments`).

    Arguments
    ---------
    source : str or None
        HuggingFace id or local folder of the pretrained model; ``None`` with ``config``.
    save_path : str
        HuggingFace cache folder of downloaded models.
    config : dict or None
        A model configuration (``config.json`` as a dict): builds the network without
        pretrained weights.
    normalize_wav : bool or None
        Normalise each waveform to zero mean and unit variance first (SpeechBrain's
        ``layer_norm`` over time); ``None`` follows the checkpoint's
        ``preprocessor_config.json`` (``do_normalize``).
    output_all_hiddens : bool
        Return every layer's hidden states (``[layers + 1, batch, frames, dim]``: the input
        of the first transformer layer, then each layer's output); otherwise the last
        hidden state (after the final layer norm of pre-LN models) as ``[1, batch, frames,
        dim]``.
    freeze : bool
        No gradient into the SSL model; it stays in eval mode (no dropout) even when the
        detector trains.
    freeze_feature_extractor : bool
        Fine-tune the transformer but not the convolutional feature encoder.
    gradient_checkpointing : bool
        Recompute the transformer's activations in the backward pass instead of keeping
        them (less memory, about a third more time per fine-tuning step).
    config_overrides : dict or None
        Configuration fields changed before the model is built, e.g.
        ``{"layerdrop": 0.0, "hidden_dropout": 0.1}``.

    Example
    -------
    >>> from transformers import Wav2Vec2Config
    >>> config = Wav2Vec2Config(
    ...     hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
    ...     conv_dim=(32, 32, 32), conv_kernel=(10, 8, 8), conv_stride=(5, 8, 8),
    ...     num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4,
    ... )
    >>> encoder = SSLEncoder(config=config.to_dict(), output_all_hiddens=True)
    >>> hidden = encoder(torch.randn(2, 16000))
    >>> hidden.shape, encoder.hidden_size, encoder.num_outputs
    (torch.Size([3, 2, 49, 32]), 32, 3)
    """

    def __init__(
        self,
        source: str | None = None,
        save_path: str = "pretrained_models",
        config: dict | None = None,
        normalize_wav: bool | None = None,
        output_all_hiddens: bool = False,
        freeze: bool = False,
        freeze_feature_extractor: bool = False,
        gradient_checkpointing: bool = False,
        config_overrides: dict | None = None,
    ):
        super().__init__()
        if (source is None) == (config is None):
            raise ValueError("SSLEncoder: give exactly one of source (pretrained) and config")
        options = {
            "freeze": freeze,
            "freeze_feature_extractor": freeze_feature_extractor,
            "output_all_hiddens": output_all_hiddens,
        }
        overrides = dict(config_overrides or {})
        if source is not None and not _is_hub_id_or_folder(str(source)):
            raise FileNotFoundError(
                f"SSLEncoder: ssl_hub '{source}' is neither a folder nor a HuggingFace id "
                "(org/name)"
            )
        if source is not None:
            self.lobe = _lobe(str(source), str(save_path), overrides, False, **options)
        else:
            with tempfile.TemporaryDirectory() as folder:
                write_model_files(folder, config, do_normalize=bool(normalize_wav))
                self.lobe = _lobe(folder, folder, overrides, True, **options)
        # Standardised here, over each row's valid samples: the lobe's layer norm would
        # take a padded row's zeros in.
        self.normalize_wav = (
            bool(self.lobe.normalize_wav) if normalize_wav is None else bool(normalize_wav)
        )
        self.lobe.normalize_wav = False
        self.freeze = freeze
        self.output_all_hiddens = output_all_hiddens
        if gradient_checkpointing:
            model = self.lobe.model  # transformers 5 renamed the method
            enable = getattr(model, "activation_checkpointing_enable", None)
            (enable or model.gradient_checkpointing_enable)({"use_reentrant": False})
        self.train()

    @property
    def config(self):
        """The HuggingFace configuration of the model."""
        return self.lobe.model.config

    @property
    def hidden_size(self) -> int:
        """Size of each hidden state."""
        return int(self.config.hidden_size)

    @property
    def num_outputs(self) -> int:
        """Number of hidden-state tensors returned (layers + 1, or 1)."""
        return self.config.num_hidden_layers + 1 if self.output_all_hiddens else 1

    def min_samples(self, frames: int = 1) -> int:
        """Fewest input samples that give ``frames`` output frames (the convolutional
        encoder's receptive field plus ``frames - 1`` strides)."""
        receptive, stride = 1, 1
        for kernel, step in zip(self.config.conv_kernel, self.config.conv_stride, strict=True):
            receptive += (kernel - 1) * stride
            stride *= step
        return receptive + (frames - 1) * stride

    def train(self, mode: bool = True) -> SSLEncoder:
        """Sets the mode; a frozen model stays in eval mode (no dropout, no layer drop)."""
        super().train(mode)
        if self.freeze:
            self.lobe.model.eval()
        return self

    def forward(self, wavs: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Hidden states ``[layers, batch, frames, hidden_size]`` of ``[batch, time]`` waveforms.

        Arguments
        ---------
        wavs : torch.Tensor
            ``[batch, time]`` waveforms at 16 kHz.
        lengths : torch.Tensor, optional
            ``[batch]`` relative lengths (padding is left out of the waveform's
            standardisation and masked in the transformer).

        Returns
        -------
        torch.Tensor
            ``[num_outputs, batch, frames, hidden_size]``.
        """
        if self.normalize_wav:
            wavs = standardise(wavs, lengths)
        hidden = self.lobe(wavs, lengths)
        return hidden if self.output_all_hiddens else hidden.unsqueeze(0)

    @classmethod
    def inference_arguments(cls, arguments: dict) -> dict:
        """The constructor arguments that rebuild this encoder without its source.

        Used when a training run writes its ``inference.yaml`` (``ssdctx-export`` ships it):
        ``source`` is replaced by the model's ``config`` (with ``config_overrides``
        applied) and ``normalize_wav`` is resolved, so an exported detector loads offline
        from its own folder, its weights coming from its checkpoint. Reads the source's
        files (from the HuggingFace cache once the training has started).

        Arguments
        ---------
        arguments : dict
            Keyword arguments of an ``SSLEncoder`` (as written in a YAML file).

        Returns
        -------
        dict
        """
        if arguments.get("source") is None:
            return dict(arguments)
        from transformers import AutoConfig, AutoFeatureExtractor

        source, save_path = str(arguments["source"]), str(arguments.get("save_path", ""))
        config = AutoConfig.from_pretrained(source, cache_dir=save_path)
        config.update(dict(arguments.get("config_overrides") or {}))
        normalize = arguments.get("normalize_wav")
        if normalize is None:
            extractor = AutoFeatureExtractor.from_pretrained(source, cache_dir=save_path)
            normalize = bool(extractor.do_normalize)
        return {
            **arguments,
            "source": None,
            "config": json.loads(config.to_json_string()),
            "normalize_wav": normalize,
            "config_overrides": None,
        }


def standardise(wavs: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
    """Each row to zero mean and unit variance over its valid samples (padding: zeros).

    What ``Wav2Vec2FeatureExtractor(do_normalize=True)`` does to each utterance alone
    (``(x - mean) / sqrt(var + 1e-5)``, biased variance; SpeechBrain's lobe takes a padded
    row whole instead).

    Arguments
    ---------
    wavs : torch.Tensor
        ``[batch, time]`` waveforms, right-padded.
    lengths : torch.Tensor, optional
        ``[batch]`` relative lengths (all ones when omitted).

    Returns
    -------
    torch.Tensor

    Example
    -------
    >>> wavs = torch.tensor([[1.0, 3.0, 0.0, 0.0]])
    >>> standardise(wavs, torch.tensor([0.5]))
    tensor([[-1.0000,  1.0000,  0.0000,  0.0000]])
    """
    samples = None if lengths is None else torch.round(lengths * wavs.shape[1]).clamp(min=1)
    if samples is None or bool((samples >= wavs.shape[1]).all()):  # no padding
        if torch.onnx.is_in_onnx_export():  # layer_norm's shape would be a constant there
            mean = wavs.mean(1, keepdim=True)
            variance = ((wavs - mean) ** 2).mean(1, keepdim=True)
            return (wavs - mean) / torch.sqrt(variance + 1e-5)
        return F.layer_norm(wavs, wavs.shape[1:])
    samples = samples.long()
    valid = torch.arange(wavs.shape[1], device=wavs.device) < samples.unsqueeze(1)
    count = samples.unsqueeze(1).to(wavs.dtype)
    mean = (wavs * valid).sum(1, keepdim=True) / count
    variance = (((wavs - mean) * valid) ** 2).sum(1, keepdim=True) / count
    standardised = (wavs - mean) / torch.sqrt(variance + 1e-5)
    return torch.where(valid, standardised, torch.zeros_like(standardised))


def _is_hub_id_or_folder(source: str) -> bool:
    """Whether ``source`` is an existing folder or has the ``org/name`` form of a Hub id."""
    if Path(source).expanduser().is_dir():
        return True
    parts = source.split("/")
    return len(parts) == 2 and all(parts) and not source.startswith((".", "~"))


def write_model_files(folder: str | Path, config: dict | None, do_normalize: bool) -> None:
    """Writes ``config.json`` (if given) and ``preprocessor_config.json``: what SpeechBrain's
    lobe reads from a model folder besides the weights.

    Arguments
    ---------
    folder : str or pathlib.Path
        An existing folder.
    config : dict or None
        The model's configuration (``config.json``), or None to write only the
        preprocessor's.
    do_normalize : bool
        Whether the model expects each waveform normalised to zero mean, unit variance.

    Example
    -------
    >>> folder = Path(tempfile.mkdtemp())
    >>> write_model_files(folder, None, do_normalize=True)
    >>> json.loads((folder / "preprocessor_config.json").read_text())["do_normalize"]
    True
    """
    folder = Path(folder)
    if config is not None:
        (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    preprocessor = {**FEATURE_EXTRACTOR, "do_normalize": do_normalize}
    (folder / "preprocessor_config.json").write_text(json.dumps(preprocessor), encoding="utf-8")


class SSLDetector(nn.Module):
    """A spoofing detector on an SSL front end: ``wavs -> encoder -> head``.

    Arguments
    ---------
    encoder : SSLEncoder
        The SSL front end (any module returning ``[layers, batch, frames, dim]``, with
        ``hidden_size`` and ``num_outputs`` attributes).
    head : callable or torch.nn.Module
        The head, or a factory called as ``head(input_dim=..., num_layers=...)`` with the
        encoder's sizes (``!name:`` in YAML), returning ``(embedding, logits)`` from
        ``head(hidden_states, lengths)``.

    Example
    -------
    >>> from functools import partial
    >>> from transformers import WavLMConfig
    >>> config = WavLMConfig(
    ...     hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
    ...     conv_dim=(32, 32, 32), conv_kernel=(10, 8, 8), conv_stride=(5, 8, 8),
    ...     num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4,
    ... )
    >>> detector = SSLDetector(
    ...     SSLEncoder(config=config.to_dict(), output_all_hiddens=True),
    ...     partial(LayerPoolingHead),
    ... )
    >>> embedding, logits = detector(torch.randn(2, 16000))
    >>> embedding.shape, logits.shape, detector.min_samples
    (torch.Size([2, 128]), torch.Size([2, 2]), 325)
    """

    def __init__(self, encoder: nn.Module, head: Callable[..., nn.Module] | nn.Module):
        super().__init__()
        self.ssl = encoder
        if not isinstance(head, nn.Module):
            head = head(input_dim=encoder.hidden_size, num_layers=encoder.num_outputs)
        self.head = head
        self.embedding_dim = head.embedding_dim

    @property
    def min_samples(self) -> int:
        """Shortest input the detector accepts (the head's ``min_frames`` frames)."""
        return self.ssl.min_samples(getattr(self.head, "min_frames", 1))

    def forward(
        self, wavs: torch.Tensor, lengths: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Scores a batch of raw waveforms.

        Arguments
        ---------
        wavs : torch.Tensor
            ``[batch, time]`` waveforms at 16 kHz.
        lengths : torch.Tensor, optional
            ``[batch]`` relative lengths.

        Returns
        -------
        embedding : torch.Tensor
            ``[batch, embedding_dim]``.
        logits : torch.Tensor
            ``[batch, 2]``, index 1 = bona fide.
        """
        if wavs.dim() != 2:
            raise ValueError(f"SSLDetector expects [batch, time] waveforms, got {list(wavs.shape)}")
        if wavs.shape[1] < self.min_samples:
            raise ValueError(
                f"SSLDetector needs at least {self.min_samples} samples per input, "
                f"got {wavs.shape[1]}"
            )
        return self.head(self.ssl(wavs, lengths), lengths)


class AASISTBackend(nn.Module):
    """The AASIST graph back end of Tak et al. (2022) on SSL hidden states.

    ``Linear(input_dim, proj_dim)`` on the chosen layer's hidden states, seen as a
    ``[1, proj_dim, frames]`` image: 3x3 max-pooling, BatchNorm and SELU, six residual
    blocks without time pooling (``ResidualBlock(time_pool=1)``), BatchNorm and SELU, then
    a 1x1-convolution attention map that pools the spectral nodes over time and the
    temporal nodes over the projected dimension (softmax weights), and AASIST's graph
    attention, heterogeneous graph attention, graph pooling and readout (as
    :class:`~speechbrain_ssdctx.models.aasist.AASIST`). Defaults are Tak et al.'s
    (``proj_dim`` 128 gives 42 spectral nodes, 160-d embedding).

    Arguments
    ---------
    input_dim : int
        Size of the SSL hidden states (1024 for XLS-R 300M).
    num_layers : int
        Number of hidden-state tensors given to :meth:`forward`.
    layer : int
        Which one is used (default: the last).
    proj_dim : int
        Size of the projection (Tak et al.: 128).
    encoder_channels : tuple of (int, int)
        ``(in, out)`` channels of the residual blocks.
    gat_dims : tuple of int
        Node sizes of the graph attention and heterogeneous layers.
    pool_ratios : tuple of float
        Graph pooling ratios (spectral, temporal, heterogeneous).
    temperatures : tuple of float
        Attention temperatures (spectral, temporal, heterogeneous).

    Example
    -------
    >>> head = AASISTBackend(input_dim=32, num_layers=1)
    >>> embedding, logits = head(torch.randn(1, 2, 201, 32))
    >>> embedding.shape, logits.shape
    (torch.Size([2, 160]), torch.Size([2, 2]))
    """

    min_frames = 3

    def __init__(
        self,
        input_dim: int,
        num_layers: int = 1,
        layer: int = -1,
        proj_dim: int = 128,
        encoder_channels: tuple[tuple[int, int], ...] = (
            (1, 32), (32, 32), (32, 64), (64, 64), (64, 64), (64, 64),
        ),
        gat_dims: tuple[int, int] = (64, 32),
        pool_ratios: tuple[float, float, float] = (0.5, 0.5, 0.5),
        temperatures: tuple[float, float, float] = (2.0, 2.0, 100.0),
    ):
        super().__init__()
        if not -num_layers <= layer < num_layers:
            raise ValueError(f"AASISTBackend: layer {layer} out of range for {num_layers} layers")
        if proj_dim < 3:
            raise ValueError(f"AASISTBackend: proj_dim must be >= 3, got {proj_dim}")
        self.layer = layer
        channels = encoder_channels[-1][-1]
        self.LL = nn.Linear(input_dim, proj_dim)
        self.first_bn = nn.BatchNorm2d(1)
        self.encoder = nn.Sequential(
            *(
                nn.Sequential(ResidualBlock(c_in, c_out, first=i == 0, time_pool=1))
                for i, (c_in, c_out) in enumerate(encoder_channels)
            )
        )
        self.first_bn1 = nn.BatchNorm2d(channels)
        self.attention = nn.Sequential(
            nn.Conv2d(channels, 128, kernel_size=(1, 1)),
            nn.SELU(),
            nn.BatchNorm2d(128),
            nn.Conv2d(128, channels, kernel_size=(1, 1)),
        )
        self.pos_S = nn.Parameter(torch.randn(1, proj_dim // 3, channels))
        add_graph_layers(self, channels, gat_dims, pool_ratios, temperatures)
        self.embedding_dim = self.out_layer.in_features

    def forward(
        self, hidden_states: torch.Tensor, lengths: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(embedding [batch, 160], logits [batch, 2])`` from ``[layers, batch, frames, dim]``
        hidden states (``lengths`` is ignored, as AASIST ignores padding)."""
        x = self.LL(hidden_states[self.layer]).transpose(1, 2).unsqueeze(1)  # [B, 1, P, T]
        x = F.selu(self.first_bn(F.max_pool2d(x, (3, 3))))
        x = F.selu(self.first_bn1(self.encoder(x)))  # [B, C, P // 3, T // 3]
        weights = self.attention(x)
        nodes_s = (x * torch.softmax(weights, dim=-1)).sum(dim=-1).transpose(1, 2) + self.pos_S
        nodes_t = (x * torch.softmax(weights, dim=-2)).sum(dim=-2).transpose(1, 2)
        out_s = self.pool_S(self.GAT_layer_S(nodes_s))
        out_t = self.pool_T(self.GAT_layer_T(nodes_t))
        branches = [
            hetero_branch(out_t, out_s, master, layers, pools)
            for master, layers, pools in (
                (self.master1, (self.HtrgGAT_layer_ST11, self.HtrgGAT_layer_ST12),
                 (self.pool_hT1, self.pool_hS1)),
                (self.master2, (self.HtrgGAT_layer_ST21, self.HtrgGAT_layer_ST22),
                 (self.pool_hT2, self.pool_hS2)),
            )
        ]
        embedding = graph_readout(*branches, self.drop_way)
        return embedding, self.out_layer(self.drop(embedding))


LAYER_SELECTIONS = ("weighted", "sls")


class LayerPoolingHead(nn.Module):
    """A light head for any SSL model: combine the layers, pool over time, classify.

    Layer combination (``selection``):

    - ``"weighted"``: a learned softmax-weighted sum of all hidden states (the SUPERB
      recipe; SpeechBrain's ``WeightedSSLModel``), the same weights for every utterance;
    - ``"sls"``: SLS-style selection (Zhang et al. 2024): each transformer layer's output is
      averaged over time and scored by a shared ``Linear(dim, 1)`` + sigmoid; the layers
      are summed with these per-utterance weights (the input embedding, hidden state 0,
      is left out, as SLS uses the transformer layers' outputs).

    Then ``Linear(dim, hidden_dim)`` + SELU on every frame, the mean and standard
    deviation over the valid frames, and ``Linear(2 * hidden_dim, embedding_dim)``: the
    embedding; ``Linear(embedding_dim, 2)`` after SELU and dropout: the logits. SLS's own
    classifier flattens a fixed 201-frame map (4 s inputs only); pooling accepts any
    length.

    Arguments
    ---------
    input_dim : int
        Size of the SSL hidden states.
    num_layers : int
        Number of hidden-state tensors given to :meth:`forward` (layers + 1 for a
        ``SSLEncoder(output_all_hiddens=True)``).
    selection : str
        ``"weighted"`` or ``"sls"``.
    hidden_dim : int
        Size of the frame projection.
    embedding_dim : int
        Size of the embedding.
    dropout : float
        Dropout before the classifier.

    Example
    -------
    >>> head = LayerPoolingHead(input_dim=32, num_layers=3, selection="sls")
    >>> embedding, logits = head(torch.randn(3, 2, 50, 32), torch.tensor([1.0, 0.5]))
    >>> embedding.shape, logits.shape
    (torch.Size([2, 128]), torch.Size([2, 2]))
    """

    def __init__(
        self,
        input_dim: int,
        num_layers: int,
        selection: str = "weighted",
        hidden_dim: int = 256,
        embedding_dim: int = 128,
        dropout: float = 0.2,
    ):
        super().__init__()
        if selection not in LAYER_SELECTIONS:
            raise ValueError(
                f"LayerPoolingHead: selection must be one of {LAYER_SELECTIONS}, got {selection!r}"
            )
        self.selection = selection
        self.num_layers = num_layers
        self.embedding_dim = embedding_dim
        if selection == "weighted":
            self.layer_weights = nn.Parameter(torch.zeros(num_layers))
        else:
            self.layer_score = nn.Linear(input_dim, 1)
        self.frame_proj = nn.Linear(input_dim, hidden_dim)
        self.embed = nn.Linear(2 * hidden_dim, embedding_dim)
        self.drop = nn.Dropout(dropout)
        self.out_layer = nn.Linear(embedding_dim, 2)

    def combine_layers(self, hidden_states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``[layers, batch, frames, dim] -> [batch, frames, dim]`` (see ``selection``)."""
        if hidden_states.shape[0] != self.num_layers:
            raise ValueError(
                f"LayerPoolingHead: expected {self.num_layers} hidden states, "
                f"got {hidden_states.shape[0]}"
            )
        if self.selection == "weighted":
            weights = torch.softmax(self.layer_weights, dim=0)
            return torch.einsum("l,lbtd->btd", weights.to(hidden_states.dtype), hidden_states)
        layers = hidden_states[1:] if self.num_layers > 1 else hidden_states
        means = masked_mean(layers, mask)  # [layers, batch, dim]
        gates = torch.sigmoid(self.layer_score(means))  # [layers, batch, 1]
        return (layers * gates.unsqueeze(2)).sum(dim=0)

    def forward(
        self, hidden_states: torch.Tensor, lengths: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(embedding, logits)`` from ``[layers, batch, frames, dim]`` hidden states and
        ``[batch]`` relative lengths (padded frames are left out of the statistics)."""
        if lengths is None:  # every frame (built from the input, so that a trace keeps it)
            mask = torch.ones_like(hidden_states[0, :, :, 0], dtype=torch.bool)
        else:
            frames = hidden_states.shape[2]
            valid = torch.round(lengths * frames).clamp(min=1).long()
            mask = torch.arange(frames, device=hidden_states.device)[None, :] < valid[:, None]
        frames_out = F.selu(self.frame_proj(self.combine_layers(hidden_states, mask)))
        mean = masked_mean(frames_out, mask)
        std = (masked_mean((frames_out - mean.unsqueeze(-2)) ** 2, mask) + 1e-5).sqrt()
        embedding = self.embed(torch.cat([mean, std], dim=-1))
        return embedding, self.out_layer(self.drop(F.selu(embedding)))


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over the frame axis (``-2``) of the frames where ``mask`` (``[batch, frames]``)
    is true.

    SpeechBrain's ``StatisticsPooling`` adds random noise to the mean, also at inference;
    this keeps scores deterministic.

    Example
    -------
    >>> masked_mean(torch.tensor([[[1.0], [3.0], [8.0]]]), torch.tensor([[True, True, False]]))
    tensor([[2.]])
    """
    weights = mask.to(values.dtype).unsqueeze(-1)
    return (values * weights).sum(dim=-2) / weights.sum(dim=-2)


__all__ = [
    "AASISTBackend",
    "LayerPoolingHead",
    "SSLDetector",
    "SSLEncoder",
    "masked_mean",
    "write_model_files",
]
