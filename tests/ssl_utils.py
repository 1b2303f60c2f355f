"""Test fixtures for the SSL front ends: tiny randomly initialised SSL models, offline.

Used by the SSL tests and by ``benchmarks/bench_ssl.py`` (which puts this folder on
``sys.path``).
"""

from pathlib import Path

import torch

from speechbrain_ssdctx.models.ssl import write_model_files


def build_tiny_ssl_model(
    folder: str | Path,
    model_type: str = "wav2vec2",
    hidden_size: int = 32,
    num_layers: int = 2,
    seed: int = 0,
    full_size: bool = False,
) -> Path:
    """Saves a tiny randomly initialised SSL model that ``SSLEncoder`` loads offline.

    The architecture is the large models' (pre-LN transformer, 20 ms frames: convolution
    strides 5 x 8 x 8 = 320 samples, as wav2vec 2.0's 5 x 2^6) at a width that trains on a
    CPU in seconds: for tests, benchmarks and smoke runs (``--ssl_hub=<folder>``), not for
    detection.

    Arguments
    ---------
    folder : str or pathlib.Path
        Where to write ``config.json``, the weights and ``preprocessor_config.json``.
    model_type : str
        ``"wav2vec2"``, ``"wavlm"`` or ``"hubert"``.
    hidden_size : int
        Transformer width (multiple of 4).
    num_layers : int
        Number of transformer layers.
    seed : int
        Seed of the random weights.
    full_size : bool
        The released models' own shape instead: wav2vec 2.0's seven-layer 512-channel
        convolutional feature encoder, 64-dimensional attention heads, a feed-forward
        layer four times the width, 128-tap positional convolution in 16 groups
        (``hidden_size=1024, num_layers=24`` is XLS-R 300M's shape): for benchmarks.

    Returns
    -------
    pathlib.Path
        ``folder``.

    Example
    -------
    >>> import tempfile
    >>> folder = build_tiny_ssl_model(tempfile.mkdtemp(), model_type="hubert")
    >>> sorted(path.name for path in folder.iterdir())
    ['config.json', 'model.safetensors', 'preprocessor_config.json']
    """
    import transformers

    configs = {
        "wav2vec2": transformers.Wav2Vec2Config,
        "wavlm": transformers.WavLMConfig,
        "hubert": transformers.HubertConfig,
    }
    if model_type not in configs:
        raise ValueError(f"model_type must be one of {sorted(configs)}, got {model_type!r}")
    shape = {
        "num_attention_heads": 4,
        "intermediate_size": 2 * hidden_size,
        "conv_dim": (hidden_size,) * 3,
        "conv_kernel": (10, 8, 8),
        "conv_stride": (5, 8, 8),
        "num_feat_extract_layers": 3,
        "num_conv_pos_embeddings": 16,
        "num_conv_pos_embedding_groups": 4,
    }
    if full_size:  # the configuration classes' defaults are wav2vec 2.0's feature encoder
        shape = {
            "num_attention_heads": hidden_size // 64,
            "intermediate_size": 4 * hidden_size,
        }
    config = configs[model_type](
        hidden_size=hidden_size,
        num_hidden_layers=num_layers,
        **shape,
        feat_extract_norm="layer",
        do_stable_layer_norm=True,
        layerdrop=0.0,
        mask_time_prob=0.0,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = transformers.AutoModel.from_config(config)
    folder = Path(folder)
    model.save_pretrained(folder)
    write_model_files(folder, None, do_normalize=True)
    return folder
