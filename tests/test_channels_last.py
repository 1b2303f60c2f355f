"""The channels-last CPU path of AASIST's encoder: same values and gradients as the default
layout, accurate batch statistics, same running statistics."""

import pytest
import torch
import torch.nn.functional as F

from speechbrain_ssdctx.models import channels_last
from speechbrain_ssdctx.models.aasist import ResidualBlock


def _default_layout(monkeypatch):
    monkeypatch.setattr(channels_last, "conv", lambda layer, x: layer(x))


def _blocks(momentum=0.1):
    torch.manual_seed(0)
    blocks = torch.nn.Sequential(
        ResidualBlock(1, 8, first=True), ResidualBlock(8, 8), ResidualBlock(8, 16)
    ).double()
    for module in blocks.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = momentum
    return blocks


def _run(blocks, x):
    """Output, input gradient, parameter gradients, buffers after one train-mode pass."""
    x = x.clone().requires_grad_(True)
    blocks.zero_grad()
    out = blocks(x)
    weights = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view(out.shape)
    (out * weights).sum().backward()
    grads = {name: p.grad.clone() for name, p in blocks.named_parameters() if p.grad is not None}
    buffers = {name: b.clone() for name, b in blocks.named_buffers()}
    return out.detach(), x.grad, grads, buffers


@pytest.mark.parametrize("momentum", [0.1, None])
def test_training_equals_the_default_layout_in_float64(monkeypatch, momentum):
    # float64: the two layouts' results differ only by the order of the sums (1e-15), so
    # any error of the layout handling, the statistics or the backward pass shows.
    x = 3 + torch.randn(3, 1, 23, 90, dtype=torch.float64)
    blocks = _blocks(momentum).train()
    fast = [_run(blocks, x) for _ in range(2)]  # twice: the running statistics follow
    assert fast[0][0].is_contiguous(memory_format=torch.channels_last)
    with monkeypatch.context() as patch:
        _default_layout(patch)
        reference_blocks = _blocks(momentum).train()
        reference = [_run(reference_blocks, x) for _ in range(2)]
    assert reference[0][0].is_contiguous()
    for (out, x_grad, grads, buffers), (ref_out, ref_x_grad, ref_grads, ref_buffers) in zip(
        fast, reference, strict=True
    ):
        torch.testing.assert_close(out, ref_out, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(x_grad, ref_x_grad, rtol=1e-10, atol=1e-12)
        assert grads.keys() == ref_grads.keys() and len(grads) > 0
        for name in grads:
            torch.testing.assert_close(grads[name], ref_grads[name], rtol=1e-10, atol=1e-12)
        assert buffers.keys() == ref_buffers.keys()
        for name in buffers:
            torch.testing.assert_close(buffers[name], ref_buffers[name], rtol=1e-10, atol=1e-14)


def test_inference_equals_the_default_layout(monkeypatch):
    blocks = _blocks().float().eval()
    x = torch.randn(2, 1, 23, 60)
    with torch.no_grad():
        fast = blocks(x)
        _default_layout(monkeypatch)
        reference = blocks(x)
    assert fast.is_contiguous(memory_format=torch.channels_last) and not fast.is_contiguous()
    torch.testing.assert_close(fast, reference, atol=1e-5, rtol=0)


def test_batch_statistics_are_accurate_in_float32():
    # PyTorch's own CPU kernel accumulates a channels-last tensor's statistics in plain
    # float32 (about 1e-4 off at this size); the cascaded sums stay at float32 rounding.
    torch.manual_seed(0)
    x = (5 + 3 * torch.randn(8, 16, 24, 4000)).contiguous(memory_format=torch.channels_last)
    bn = torch.nn.BatchNorm2d(16).train()
    with torch.no_grad():
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.normal_()
    out = channels_last.batch_norm(bn, x)
    reference = F.batch_norm(
        x.double().contiguous(), None, None, bn.weight.double(), bn.bias.double(), training=True
    )
    assert out.is_contiguous(memory_format=torch.channels_last)
    assert float((out.detach().double() - reference).abs().max()) < 2e-6
    expected_mean = 0.1 * x.double().mean(dim=(0, 2, 3))
    torch.testing.assert_close(bn.running_mean.double(), expected_mean, rtol=1e-6, atol=0)


def test_other_cases_are_the_modules_own_forward():
    x = torch.randn(2, 3, 4, 5).contiguous(memory_format=torch.channels_last)
    bn = torch.nn.BatchNorm2d(3).eval()  # running statistics: nothing to accumulate
    calls = []
    bn.register_forward_hook(lambda *_: calls.append(1))
    channels_last.batch_norm(bn, x)
    channels_last.batch_norm(bn.train(), x.contiguous())  # default layout
    assert len(calls) == 2
    channels_last.batch_norm(bn, x)
    assert len(calls) == 2  # train mode, channels-last: the accurate statistics


def test_tracing_keeps_the_default_layout():
    layer = torch.nn.Conv2d(1, 4, kernel_size=3).requires_grad_(False)
    traced = torch.jit.trace(lambda x: channels_last.conv(layer, x), torch.randn(1, 1, 8, 8))
    assert traced(torch.randn(1, 1, 8, 8)).is_contiguous()


def test_aasist_training_step_equals_the_default_layout_with_dropout(monkeypatch):
    # Whole model, train mode with its dropouts: the same random draws on either layout
    # (float64: any other difference would show too).
    from speechbrain_ssdctx.models import AASIST

    torch.manual_seed(0)
    model = AASIST("AASIST-L").double().train()
    wavs = torch.randn(2, 8000, dtype=torch.float64)

    def step():
        torch.manual_seed(1)
        model.zero_grad()
        embedding, logits = model(wavs)
        (logits[:, 1].sum() + embedding.sum()).backward()
        return logits.detach(), model.encoder[1][0].conv1.weight.grad.clone()

    state = {k: v.clone() for k, v in model.state_dict().items()}
    logits, grad = step()
    model.load_state_dict(state)
    _default_layout(monkeypatch)
    ref_logits, ref_grad = step()
    torch.testing.assert_close(logits, ref_logits, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(grad, ref_grad, rtol=1e-10, atol=1e-12)


def test_bf16_autocast_trains_as_the_default_layout(monkeypatch):
    # Under CPU autocast the convolutions give bf16: the statistics are taken in float32
    # (the parameters' dtype), as PyTorch's own batch norm does.
    torch.manual_seed(0)
    block = ResidualBlock(8, 16).train()
    x = torch.randn(2, 8, 23, 200)

    def run():
        inputs = x.clone().requires_grad_(True)
        block.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = block(inputs)
        assert out.dtype == torch.bfloat16
        out.float().square().sum().backward()
        return out.float().detach(), inputs.grad, block.bn2.weight.grad.clone()

    fast = run()
    _default_layout(monkeypatch)
    reference = run()
    for value, expected in zip(fast, reference, strict=True):
        # Normwise: bf16 keeps 8 bits, and either layout rounds its own sums.
        assert float((value - expected).norm() / expected.norm()) < 2e-2
