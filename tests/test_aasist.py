"""AASIST / AASIST-L: agreement with the official network and weights, training behaviour.

Reference values come from running the official code (github.com/clovaai/aasist) on the
official weights: ``reference_outputs.npz`` (64,600-sample inputs, from the shared
fixtures) and ``reference_outputs_other_lengths.npz`` (96,000, 50,001 and 2,315 samples,
made by ``make_other_lengths.py`` in the same folder).
"""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from speechbrain_ssdctx.models import AASIST
from speechbrain_ssdctx.pretrained import bundled_checkpoint, load_bundled_detector

FIXTURES = Path(__file__).parent / "fixtures"
OFFICIAL = FIXTURES / "aasist_official"
PRETRAINED = Path(__file__).parents[1] / "speechbrain_ssdctx" / "pretrained"
VARIANTS = {"AASIST": "AASIST", "AASIST-L": "AASIST_L"}  # variant -> key prefix
TOL = 1e-4


@pytest.fixture(scope="module")
def official_models():
    return {v: AASIST.from_official_checkpoint(PRETRAINED / f"{v}.pth") for v in VARIANTS}


def _reference_cases(npz_name):
    with np.load(OFFICIAL / npz_name) as ref:
        names = [k[len("input__") :] for k in ref.files if k.startswith("input__")]
    return [(npz_name, variant, name) for variant in VARIANTS for name in names]


@pytest.mark.slow
@pytest.mark.parametrize(
    "npz_name, variant, input_name",
    _reference_cases("reference_outputs.npz")
    + _reference_cases("reference_outputs_other_lengths.npz"),
)
def test_reproduces_official_outputs(official_models, npz_name, variant, input_name):
    ref = np.load(OFFICIAL / npz_name)
    prefix = f"{VARIANTS[variant]}__{input_name}__"
    wavs = torch.from_numpy(ref[f"input__{input_name}"])
    with torch.no_grad():
        embedding, logits = official_models[variant](wavs)
    np.testing.assert_allclose(logits.numpy(), ref[prefix + "logits"], atol=TOL, rtol=0)
    np.testing.assert_allclose(embedding.numpy(), ref[prefix + "last_hidden"], atol=TOL, rtol=0)
    if prefix + "score" in ref.files:
        np.testing.assert_allclose(logits[:, 1].numpy(), ref[prefix + "score"], atol=TOL, rtol=0)


@pytest.mark.parametrize("variant", VARIANTS)
def test_sinc_filters_are_the_official_ones(official_models, variant):
    ref = np.load(OFFICIAL / "reference_outputs.npz")
    bank = official_models[variant].conv_time
    np.testing.assert_allclose(bank.edges_hz, ref[f"{VARIANTS[variant]}__sinc_edges_hz"], atol=1e-9)
    np.testing.assert_allclose(
        bank.filters.numpy(), ref[f"{VARIANTS[variant]}__sinc_band_pass"], atol=1e-7, rtol=0
    )
    assert "conv_time.filters" not in official_models[variant].state_dict()


@pytest.mark.parametrize("variant", VARIANTS)
def test_state_dict_keys_are_exactly_the_official_ones(variant):
    official = torch.load(PRETRAINED / f"{variant}.pth", map_location="cpu", weights_only=True)
    model = AASIST(variant)
    ours = model.state_dict()
    assert set(ours) == set(official)
    assert all(ours[k].shape == official[k].shape for k in official)
    result = model.load_state_dict(official, strict=True)
    assert not result.missing_keys and not result.unexpected_keys


@pytest.mark.parametrize("variant, expected", [("AASIST", 297_866), ("AASIST-L", 85_306)])
def test_parameter_counts(variant, expected):
    assert sum(p.numel() for p in AASIST(variant).parameters()) == expected


def test_variant_inferred_from_weights(official_models):
    assert {v: m.variant for v, m in official_models.items()} == {v: v for v in VARIANTS}
    assert all(not m.training for m in official_models.values())


@pytest.mark.slow
def test_unused_bn1_never_affects_the_output(official_models):
    """The official encoder discards the bn1 of blocks 2-6: changing it changes nothing."""
    model = AASIST.from_official_checkpoint(PRETRAINED / "AASIST-L.pth")
    wavs = torch.from_numpy(np.load(OFFICIAL / "reference_outputs.npz")["input__b_sine440"])
    with torch.no_grad():
        before = model(wavs)[1]
        for block in list(model.encoder)[1:]:
            block[0].bn1.weight.mul_(3.0)
            block[0].bn1.running_mean.add_(5.0)
        after = model(wavs)[1]
    assert torch.equal(before, after)


@pytest.mark.slow
@pytest.mark.parametrize("batch, samples", [(1, 2315), (3, 16000), (2, 40_001)])
def test_output_shapes(batch, samples):
    model = AASIST("AASIST-L").eval()
    with torch.no_grad():
        embedding, logits = model(torch.randn(batch, samples))
    assert embedding.shape == (batch, 160) and logits.shape == (batch, 2)
    assert model.embedding_dim == 160
    assert torch.isfinite(logits).all()


@pytest.mark.slow
def test_lengths_are_ignored(official_models):
    model = official_models["AASIST-L"]
    wavs = torch.randn(2, 8000, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        plain = model(wavs)[1]
        with_lengths = model(wavs, torch.tensor([1.0, 0.5]))[1]
    assert torch.equal(plain, with_lengths)


@pytest.mark.parametrize("samples", [2314, 100])
def test_too_short_input_is_rejected(samples):
    with pytest.raises(ValueError, match="at least 2315 samples"):
        AASIST("AASIST-L")(torch.randn(1, samples))


def test_bad_input_shape_and_variant_are_rejected():
    with pytest.raises(ValueError, match=r"\[batch, time\]"):
        AASIST("AASIST-L")(torch.randn(1, 1, 16000))
    with pytest.raises(ValueError, match="AASIST-XL"):
        AASIST("AASIST-XL")


def test_bad_checkpoints_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        AASIST.from_official_checkpoint(tmp_path / "missing.pth")
    text = tmp_path / "text.pth"
    text.write_text("not a checkpoint")
    with pytest.raises(ValueError, match="text.pth"):
        AASIST.from_official_checkpoint(text)
    other = tmp_path / "other.pth"
    torch.save({"weight": torch.zeros(2)}, other)
    with pytest.raises(ValueError, match="other.pth.*pos_S"):
        AASIST.from_official_checkpoint(other)
    truncated = tmp_path / "truncated.pth"
    state = AASIST("AASIST-L").state_dict()
    del state["out_layer.bias"]
    torch.save(state, truncated)
    with pytest.raises(ValueError, match=r"(?s)truncated.pth.*out_layer.bias"):
        AASIST.from_official_checkpoint(truncated)


@pytest.mark.slow
def test_gradients_reach_every_trainable_parameter():
    torch.manual_seed(0)
    model = AASIST("AASIST-L").train()
    embedding, logits = model(torch.randn(2, 8000))
    (logits.sum() + embedding.sum()).backward()
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    expected_frozen = {f"encoder.{i}.0.bn1.{p}" for i in range(1, 6) for p in ("weight", "bias")}
    assert frozen == expected_frozen
    for name, param in model.named_parameters():
        if param.requires_grad:
            assert param.grad is not None and param.grad.abs().sum() > 0, name


def _tiny_real_batch(seconds=1.0):
    """Two bona fide and two spoofed crops of real speech, with labels (bona fide = 1)."""
    files = {
        "bonafide/vctk_p225_001_mic1.flac": 1,
        "bonafide/sbasr_spk1_snt1.flac": 1,
        "spoof/hifigan_2427-154671-0013_gen.flac": 0,
        "spoof/nsf_hn-nsf_bdl_arctic_b0474.flac": 0,
    }
    num = int(16000 * seconds)
    wavs = [sf.read(FIXTURES / "speech" / f, dtype="float32")[0][8000 : 8000 + num] for f in files]
    return torch.from_numpy(np.stack(wavs)), torch.tensor(list(files.values()))


@pytest.mark.slow
def test_overfits_a_tiny_real_batch():
    """40 Adam steps of AASIST-L (the same network, narrower) on four 0.5-s crops of real
    speech drive the loss near zero.

    The loss is measured in train mode (batch statistics, as during training): the
    BatchNorm running statistics of a 40-step model are not yet meaningful in eval mode
    (with its dropouts, the train-mode loss still jumps between steps: 0.06 after 30 steps,
    0.009 after 40).
    """
    torch.manual_seed(0)
    wavs, labels = _tiny_real_batch(seconds=0.5)
    model = AASIST("AASIST-L").train()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(wavs)[1], labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    with torch.no_grad():
        final = torch.nn.functional.cross_entropy(model(wavs)[1], labels)
    assert losses[0] > 0.3
    assert final < 0.05


def test_bundled_registry():
    assert bundled_checkpoint("AASIST") == bundled_checkpoint("aasist") == PRETRAINED / "AASIST.pth"
    assert bundled_checkpoint("Aasist-L").is_file()
    assert (bundled_checkpoint("aasist").parent / "LICENSE-AASIST").is_file()
    available = r"\['aasist', 'aasist-asvspoof5', 'aasist-l'\]"
    with pytest.raises(ValueError, match=r"'rawnet2'.*" + available):
        bundled_checkpoint("rawnet2")


@pytest.mark.slow
def test_bundled_detector_is_the_official_model():
    model = load_bundled_detector("AASIST")
    ref = np.load(OFFICIAL / "reference_outputs.npz")
    with torch.no_grad():
        logits = model(torch.from_numpy(ref["input__b_sine440"]))[1]
    assert not model.training
    np.testing.assert_allclose(logits.numpy(), ref["AASIST__b_sine440__logits"], atol=TOL, rtol=0)
