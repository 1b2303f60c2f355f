"""SSL front ends and heads on tiny randomly initialised HuggingFace models (offline).

Checked against independent computations: the transformers model called directly, Tak et
al.'s back end transcribed from their code, hand-computed layer weighting and pooling,
HuggingFace's own frame-length formula, naive weighted cross-entropy.
"""

import copy

import pytest
import torch
import torch.nn.functional as F

transformers = pytest.importorskip("transformers")

from hyperpyyaml import load_hyperpyyaml  # noqa: E402
from recipe_utils import HPARAMS  # noqa: E402
from ssl_utils import build_tiny_ssl_model  # noqa: E402

from speechbrain_ssdctx.inference.hub import detector_definition  # noqa: E402
from speechbrain_ssdctx.method.context import ContextLoss  # noqa: E402
from speechbrain_ssdctx.method.losses import ClassificationLoss  # noqa: E402
from speechbrain_ssdctx.method.memory import MomentumEncoder  # noqa: E402
from speechbrain_ssdctx.models.ssl import (  # noqa: E402
    AASISTBackend,
    LayerPoolingHead,
    SSLDetector,
    SSLEncoder,
)
from speechbrain_ssdctx.utils.hparams_blocks import open_hparams  # noqa: E402

pytestmark = pytest.mark.slow  # builds and runs tiny HuggingFace SSL models

WIDTH = 32


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Tiny wav2vec 2.0, WavLM and HuBERT folders (config, weights, preprocessor config)."""
    root = tmp_path_factory.mktemp("ssl")
    kinds = ("wav2vec2", "wavlm", "hubert")
    return {kind: str(build_tiny_ssl_model(root / kind, kind)) for kind in kinds}


def waves(batch=2, samples=8000, seed=0):
    return 0.1 * torch.randn(batch, samples, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("kind", ["wav2vec2", "wavlm", "hubert"])
def test_encoder_outputs_are_the_transformers_model_hidden_states(tiny, kind):
    reference = transformers.AutoModel.from_pretrained(tiny[kind]).eval()
    assert type(reference).__name__.lower().startswith(kind)
    encoder = SSLEncoder(tiny[kind], normalize_wav=False, output_all_hiddens=True).eval()
    wavs = waves()
    with torch.no_grad():
        expected = reference(wavs, output_hidden_states=True)
        hidden = encoder(wavs)
        last = SSLEncoder(tiny[kind], normalize_wav=False).eval()(wavs)
    assert hidden.shape == (3, 2, 24, WIDTH)  # 8000 samples / 320 = 25 frames minus the edge
    torch.testing.assert_close(hidden, torch.stack(expected.hidden_states))
    torch.testing.assert_close(last[0], expected.last_hidden_state)


def test_normalize_wav_follows_the_preprocessor_config_or_the_argument(tiny):
    wavs = 3.0 + waves()
    reference = transformers.AutoModel.from_pretrained(tiny["wav2vec2"]).eval()
    standardised = (wavs - wavs.mean(1, keepdim=True)) / torch.sqrt(
        wavs.var(1, unbiased=False, keepdim=True) + 1e-5
    )
    with torch.no_grad():
        default = SSLEncoder(tiny["wav2vec2"]).eval()(wavs)[0]  # do_normalize: true
        raw = SSLEncoder(tiny["wav2vec2"], normalize_wav=False).eval()(wavs)[0]
        # float32: the two standardisations differ by rounding
        torch.testing.assert_close(
            default, reference(standardised).last_hidden_state, atol=1e-4, rtol=1e-3
        )
        torch.testing.assert_close(raw, reference(wavs).last_hidden_state)
    assert (default - raw).abs().max() > 0.1


def test_frozen_encoder_gets_no_gradient_and_stays_in_eval_mode(tiny):
    detector = SSLDetector(SSLEncoder(tiny["wav2vec2"], freeze=True), AASISTBackend)
    detector.train()
    assert not detector.ssl.lobe.model.training and detector.head.training
    _, logits = detector(waves(samples=16000))
    logits.sum().backward()
    assert all(p.grad is None for p in detector.ssl.parameters())
    assert all(not p.requires_grad for p in detector.ssl.parameters())
    assert detector.head.LL.weight.grad is not None


def test_config_overrides_and_bad_arguments(tiny):
    encoder = SSLEncoder(tiny["wav2vec2"], config_overrides={"hidden_dropout": 0.3})
    assert encoder.config.hidden_dropout == 0.3
    assert encoder.lobe.model.encoder.layers[0].feed_forward.output_dropout.p == 0.3
    with pytest.raises(ValueError, match=r"config_overrides \['hiden_dropout'\]"):
        SSLEncoder(tiny["wav2vec2"], config_overrides={"hiden_dropout": 0.3})
    with pytest.raises(ValueError, match="exactly one of source"):
        SSLEncoder()


def test_config_only_encoder_loads_the_trained_weights(tiny):
    """What an export does: rebuild from the config (no source), load the checkpoint."""
    trained = SSLEncoder(tiny["wavlm"], config_overrides={"layerdrop": 0.0}).eval()
    arguments = SSLEncoder.inference_arguments(
        {"source": tiny["wavlm"], "config_overrides": {"layerdrop": 0.0}}
    )
    assert arguments["source"] is None and arguments["normalize_wav"] is True
    assert arguments["config"]["model_type"] == "wavlm" and arguments["config"]["layerdrop"] == 0
    rebuilt = SSLEncoder(**arguments).eval()
    wavs = waves()
    assert not torch.allclose(rebuilt(wavs), trained(wavs))  # random weights first
    rebuilt.load_state_dict(trained.state_dict(), strict=True)
    torch.testing.assert_close(rebuilt(wavs), trained(wavs))


def test_min_samples_follows_huggingface_frame_count(tiny):
    detector = SSLDetector(SSLEncoder(tiny["wav2vec2"]), AASISTBackend)
    frames = detector.ssl.lobe.model._get_feat_extract_output_lengths
    assert int(frames(torch.tensor(detector.min_samples))) == 3
    assert int(frames(torch.tensor(detector.min_samples - 1))) == 2
    detector.eval()(waves(samples=detector.min_samples))
    with pytest.raises(ValueError, match=f"at least {detector.min_samples} samples"):
        detector(waves(samples=detector.min_samples - 1))


# ---- the AASIST back end of Tak et al. ---------------------------------------------------

def tak_backend_shapes(input_dim: int) -> dict[str, tuple]:
    """Parameter and buffer shapes of the back end of Tak et al.'s model.py (everything but
    ``ssl_model``), written from their code: the names match, so their weights load."""
    shapes = {"LL.weight": (128, input_dim), "LL.bias": (128,), "pos_S": (1, 42, 64),
              "master1": (1, 1, 64), "master2": (1, 1, 64), "out_layer.weight": (2, 160),
              "out_layer.bias": (2,)}

    def batch_norm(name, size):
        shapes.update({f"{name}.weight": (size,), f"{name}.bias": (size,),
                       f"{name}.running_mean": (size,), f"{name}.running_var": (size,),
                       f"{name}.num_batches_tracked": ()})

    def linear(name, fan_in, fan_out):
        shapes.update({f"{name}.weight": (fan_out, fan_in), f"{name}.bias": (fan_out,)})

    def conv(name, c_in, c_out, kernel):
        shapes.update({f"{name}.weight": (c_out, c_in, *kernel), f"{name}.bias": (c_out,)})

    batch_norm("first_bn", 1)
    batch_norm("first_bn1", 64)
    for i, (c_in, c_out) in enumerate([(1, 32), (32, 32), (32, 64), (64, 64), (64, 64), (64, 64)]):
        block = f"encoder.{i}.0"
        if i:
            batch_norm(f"{block}.bn1", c_in)
        conv(f"{block}.conv1", c_in, c_out, (2, 3))
        batch_norm(f"{block}.bn2", c_out)
        conv(f"{block}.conv2", c_out, c_out, (2, 3))
        if c_in != c_out:
            conv(f"{block}.conv_downsample", c_in, c_out, (1, 3))
    conv("attention.0", 64, 128, (1, 1))
    batch_norm("attention.2", 128)
    conv("attention.3", 128, 64, (1, 1))
    for name in ("GAT_layer_S", "GAT_layer_T"):
        for layer in ("att_proj", "proj_with_att", "proj_without_att"):
            linear(f"{name}.{layer}", 64, 64)
        shapes[f"{name}.att_weight"] = (64, 1)
        batch_norm(f"{name}.bn", 64)
    for name, fan_in in [("ST11", 64), ("ST12", 32), ("ST21", 64), ("ST22", 32)]:
        name = f"HtrgGAT_layer_{name}"
        linear(f"{name}.proj_type1", fan_in, fan_in)
        linear(f"{name}.proj_type2", fan_in, fan_in)
        for layer in ("att_proj", "att_projM", "proj_with_att", "proj_without_att",
                      "proj_with_attM", "proj_without_attM"):
            linear(f"{name}.{layer}", fan_in, 32)
        for weight in ("att_weight11", "att_weight22", "att_weight12", "att_weightM"):
            shapes[f"{name}.{weight}"] = (32, 1)
        batch_norm(f"{name}.bn", 32)
    for name, fan_in in [("pool_S", 64), ("pool_T", 64), ("pool_hS1", 32), ("pool_hT1", 32),
                         ("pool_hS2", 32), ("pool_hT2", 32)]:
        linear(f"{name}.proj", fan_in, 1)
    return shapes


def test_backend_has_the_parameters_of_tak_et_al():
    head = AASISTBackend(input_dim=1024)
    assert {k: tuple(v.shape) for k, v in head.state_dict().items()} == tak_backend_shapes(1024)


def tak_forward(head: AASISTBackend, features: torch.Tensor) -> torch.Tensor:
    """Tak et al.'s Model.forward after the SSL model (eval mode), transcribed from their
    code with functional operations; the graph layers (checked against the official
    AASIST elsewhere) are called as they are."""
    x = F.linear(features, head.LL.weight, head.LL.bias).transpose(1, 2).unsqueeze(1)
    x = F.max_pool2d(x, (3, 3))
    x = F.selu(F.batch_norm(x, head.first_bn.running_mean, head.first_bn.running_var,
                            head.first_bn.weight, head.first_bn.bias, eps=1e-5))
    for (block,) in head.encoder:
        identity = x
        out = F.conv2d(x, block.conv1.weight, block.conv1.bias, padding=(1, 1))
        out = F.selu(F.batch_norm(out, block.bn2.running_mean, block.bn2.running_var,
                                  block.bn2.weight, block.bn2.bias, eps=1e-5))
        out = F.conv2d(out, block.conv2.weight, block.conv2.bias, padding=(0, 1))
        if block.conv_downsample is not None:
            identity = F.conv2d(identity, block.conv_downsample.weight,
                                block.conv_downsample.bias, padding=(0, 1))
        x = out + identity
    bn1 = head.first_bn1
    x = F.selu(F.batch_norm(x, bn1.running_mean, bn1.running_var, bn1.weight, bn1.bias))
    w = head.attention(x)
    e_s = torch.sum(x * F.softmax(w, dim=-1), dim=-1).transpose(1, 2) + head.pos_S
    out_s = head.pool_S(head.GAT_layer_S(e_s))
    e_t = torch.sum(x * F.softmax(w, dim=-2), dim=-2).transpose(1, 2)
    out_t = head.pool_T(head.GAT_layer_T(e_t))
    branches = []
    for master, first, second, pool_t, pool_s in [
        (head.master1, head.HtrgGAT_layer_ST11, head.HtrgGAT_layer_ST12, head.pool_hT1,
         head.pool_hS1),
        (head.master2, head.HtrgGAT_layer_ST21, head.HtrgGAT_layer_ST22, head.pool_hT2,
         head.pool_hS2),
    ]:
        t1, s1, m1 = first(out_t, out_s, master.expand(x.shape[0], -1, -1))
        s1, t1 = pool_s(s1), pool_t(t1)
        t_aug, s_aug, m_aug = second(t1, s1, m1)
        branches.append((t1 + t_aug, s1 + s_aug, m1 + m_aug))
    (t1, s1, m1), (t2, s2, m2) = branches
    out_t, out_s, master = torch.max(t1, t2), torch.max(s1, s2), torch.max(m1, m2)
    return torch.cat([torch.max(torch.abs(out_t), dim=1)[0], torch.mean(out_t, dim=1),
                      torch.max(torch.abs(out_s), dim=1)[0], torch.mean(out_s, dim=1),
                      master.squeeze(1)], dim=1)


def test_backend_forward_is_tak_et_al():
    torch.manual_seed(0)
    head = AASISTBackend(input_dim=WIDTH)
    for module in head.modules():  # non-trivial running statistics
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    head.eval()
    features = torch.randn(3, 201, WIDTH)  # 201 frames: 64,600 samples of XLS-R
    with torch.no_grad():
        embedding, logits = head(features.unsqueeze(0))
        expected = tak_forward(head, features)
    torch.testing.assert_close(embedding, expected)
    torch.testing.assert_close(logits, F.linear(expected, head.out_layer.weight,
                                                head.out_layer.bias))


# ---- the layer-pooling head --------------------------------------------------------------

def test_weighted_selection_of_one_layer_equals_that_layer_alone():
    torch.manual_seed(1)
    head = LayerPoolingHead(WIDTH, num_layers=4).eval()
    single = LayerPoolingHead(WIDTH, num_layers=1).eval()
    single.load_state_dict({**head.state_dict(), "layer_weights": torch.zeros(1)})
    with torch.no_grad():
        head.layer_weights.copy_(torch.tensor([-1e4, -1e4, 1e4, -1e4]))
    hidden = torch.randn(4, 2, 30, WIDTH)
    torch.testing.assert_close(head(hidden)[0], single(hidden[2:3])[0])


def test_sls_gates_and_masked_pooling_match_a_hand_computation():
    torch.manual_seed(2)
    head = LayerPoolingHead(WIDTH, num_layers=3, selection="sls", hidden_dim=16).eval()
    hidden = torch.randn(3, 2, 10, WIDTH)
    lengths = torch.tensor([1.0, 0.6])  # the second utterance has 6 valid frames
    expected = []
    for b, valid in enumerate([10, 6]):
        layers = hidden[1:, b, :valid]  # the transformer layers, valid frames
        gates = torch.sigmoid(head.layer_score(layers.mean(dim=1)))  # [2, 1]
        frames = F.selu(head.frame_proj((layers * gates[:, None]).sum(0)))
        stats = torch.cat([frames.mean(0), (frames.var(0, unbiased=False) + 1e-5).sqrt()])
        expected.append(head.embed(stats))
    with torch.no_grad():
        embedding, _ = head(hidden, lengths)
        padded = hidden.clone()
        padded[:, 1, 6:] = 100.0  # padding does not matter
        torch.testing.assert_close(head(padded, lengths)[0], embedding)
    torch.testing.assert_close(embedding, torch.stack(expected).detach())
    with pytest.raises(ValueError, match="expected 3 hidden states, got 2"):
        head(hidden[:2])


# ---- training machinery with an SSL detector ---------------------------------------------

def test_momentum_encoder_shares_a_frozen_front_end_and_copies_a_trained_one(tiny):
    frozen = SSLDetector(SSLEncoder(tiny["wav2vec2"], freeze=True), AASISTBackend)
    # running statistics in the keys: comparable with the online detector in eval mode
    shared = MomentumEncoder(frozen, key_batchnorm="running", share_frozen=True)
    assert shared.shared == ("ssl",) and shared.module.ssl is frozen.ssl
    assert not any(key.startswith("module.ssl.") for key in shared.state_dict())
    full = MomentumEncoder(frozen)
    copied = sum(v.numel() for k, v in full.state_dict().items() if k.startswith("module.ssl."))
    assert copied == sum(v.numel() for v in frozen.ssl.state_dict().values())
    frozen.eval()
    wavs = waves(samples=16000)
    torch.testing.assert_close(shared(wavs)[0], frozen(wavs)[0])
    with torch.no_grad():
        frozen.head.LL.weight.add_(1.0)
    shared.update(frozen)  # EMA of the head only
    torch.testing.assert_close(
        shared.module.head.LL.weight, full.module.head.LL.weight + 0.001
    )
    trained = SSLDetector(SSLEncoder(tiny["wav2vec2"]), AASISTBackend)
    assert MomentumEncoder(trained, share_frozen=True).shared == ()


def test_gradient_checkpointing_gives_the_same_gradients(tiny):
    grads = []
    for checkpointing in (False, True):
        torch.manual_seed(3)
        encoder = SSLEncoder(tiny["wav2vec2"], gradient_checkpointing=checkpointing).train()
        torch.manual_seed(4)  # same dropout masks (checkpointing replays the RNG state)
        encoder(waves()).square().mean().backward()
        grads.append({n: p.grad.clone() for n, p in encoder.named_parameters()})
    assert grads[0].keys() == grads[1].keys()
    for name in grads[0]:
        torch.testing.assert_close(grads[0][name], grads[1][name], msg=name)


def test_class_weighted_cross_entropy_matches_a_naive_loop():
    logits = torch.randn(7, 2, generator=torch.Generator().manual_seed(5))
    labels = torch.tensor([0, 1, 1, 0, 1, 0, 0])
    weights = [0.1, 0.9]
    numerator = denominator = 0.0
    for row, label in zip(logits.tolist(), labels.tolist(), strict=True):
        log_norm = torch.logsumexp(torch.tensor(row), 0).item()
        numerator += weights[label] * (log_norm - row[label])
        denominator += weights[label]
    assert ClassificationLoss(weights)(logits, labels).item() == pytest.approx(
        numerator / denominator, rel=1e-6
    )
    with pytest.raises(ValueError, match="3 weights for 2 classes"):
        ClassificationLoss([1.0, 1.0, 1.0])(logits, labels)


def test_context_loss_masks_the_waveform_before_the_ssl_model(tiny):
    """InF's masked view is the band-passed waveform through the SSL encoder: the online
    detector run on the masking's output gives the masked logits."""
    detector = SSLDetector(SSLEncoder(tiny["wav2vec2"]), AASISTBackend).eval()
    loss_fn = ClassificationLoss(class_weights=[0.1, 0.9])
    context = ContextLoss(detector, use_ini=False, classification_loss_fn=loss_fn,
                          joint_views=False).eval()
    wavs, labels = waves(samples=16000), torch.tensor([0, 1])
    state = copy.deepcopy(context.masking.generator.get_state())
    with torch.no_grad():
        _, parts = context(detector, wavs, None, labels)
        context.masking.generator.set_state(state)
        masked, _ = context.masking(wavs)
        expected = loss_fn(detector(masked)[1], labels)
    torch.testing.assert_close(parts["cls_masked"], expected)


SSL_RECIPES = [
    ("ssl_aasist.yaml", {}),
    ("ssl_aasist_inf_ini.yaml", {"freeze_ssl": True}),
    ("ssl_layers_inf_ini.yaml", {"layer_selection": "sls"}),
]


#: SSL recipes built and trained by a test of their own.
COVERED_ELSEWHERE = {"ssl_aasist_realworld.yaml": "tests/test_realworld_recipe.py"}


def test_every_ssl_recipe_is_covered():
    assert {p.name for p in HPARAMS.glob("ssl_*.yaml")} == (
        {name for name, _ in SSL_RECIPES} | set(COVERED_ELSEWHERE))
    assert all((HPARAMS.parent / path).is_file() for path in COVERED_ELSEWHERE.values())


@pytest.mark.parametrize(("recipe", "overrides"), SSL_RECIPES)
def test_recipes_build_with_any_ssl_hub(tiny, tmp_path, recipe, overrides):
    for kind in ("wav2vec2", "wavlm"):
        hparams = load_hyperpyyaml(
            open_hparams(HPARAMS / recipe),
            {"ssl_hub": tiny[kind], "output_folder": str(tmp_path), **overrides},
        )
        detector = hparams["detector"]
        assert isinstance(detector, SSLDetector) and hparams["modules"]["detector"] is detector
        assert type(detector.ssl.lobe.model).__name__.lower().startswith(kind)
        assert detector.ssl.freeze == overrides.get("freeze_ssl", False)
        context = hparams["context"]
        if context.use_ini:
            assert context.momentum_encoder.shared == (("ssl",) if detector.ssl.freeze else ())
    # What ssdctx-export ships: the block with the SSL configuration, no path, no hub id.
    definition = detector_definition(HPARAMS / recipe, {"ssl_hub": tiny["wavlm"], **overrides})
    assert tiny["wavlm"] not in definition.text and "model_type: wavlm" in definition.text
    rebuilt = load_hyperpyyaml(definition.text)[definition.key]
    rebuilt.load_state_dict(detector.state_dict())
    wavs = waves(samples=16000)
    torch.testing.assert_close(rebuilt.eval()(wavs)[1], detector.eval()(wavs)[1])


def test_a_mistyped_ssl_hub_is_named_in_one_line(tmp_path):
    missing = tmp_path / "nowhere"
    stream = open_hparams(HPARAMS / "ssl_aasist.yaml")
    with pytest.raises(FileNotFoundError) as error:
        load_hyperpyyaml(stream, {"ssl_hub": str(missing), "output_folder": str(tmp_path)})
    message = str(error.value)
    assert "\n" not in message and "ssl_hub" in message and str(missing) in message
