"""Tests of MemoryBank (FIFO semantics, checkpoints) and MomentumEncoder (exact EMA)."""

import copy

import pytest
import torch

from speechbrain_ssdctx.method.memory import MemoryBank, MomentumEncoder


def reference_fifo(batches, size):
    """The newest ``size`` rows of all batches, oldest first (plain Python list)."""
    rows = [row for batch in batches for row in batch]
    return rows[-size:]


def test_fifo_order_and_wrap_around():
    bank = MemoryBank(size=5, dim=2)
    assert len(bank) == 0 and bank.embeddings.shape == (0, 2) and bank.labels.shape == (0,)
    batches, label_batches, counter = [], [], 0
    for count in [2, 2, 3, 1, 4, 0, 5]:
        values = torch.arange(counter, counter + count, dtype=torch.float32)
        counter += count
        embeddings = torch.stack([values, -values], dim=1)
        labels = values.long() % 2
        bank.enqueue(embeddings, labels)
        batches.append(embeddings.tolist())
        label_batches.append(labels.tolist())
        assert bank.embeddings.tolist() == reference_fifo(batches, 5)
        assert bank.labels.tolist() == reference_fifo(label_batches, 5)
        assert len(bank) == min(counter, 5)


def test_batch_larger_than_bank_keeps_newest():
    bank = MemoryBank(size=3, dim=1)
    bank.enqueue(torch.tensor([[10.0]]), torch.tensor([1]))
    bank.enqueue(torch.arange(7.0)[:, None], torch.arange(7) % 2)
    assert bank.embeddings.flatten().tolist() == [4.0, 5.0, 6.0]
    assert bank.labels.tolist() == [0, 1, 0]
    bank.enqueue(torch.tensor([[7.0]]), torch.tensor([[1]]))
    assert bank.embeddings.flatten().tolist() == [5.0, 6.0, 7.0]


def test_state_dict_round_trip():
    bank = MemoryBank(size=4, dim=3)
    bank.enqueue(torch.randn(6, 3), torch.tensor([0, 1, 1, 0, 1, 0]))
    restored = MemoryBank(size=4, dim=3)
    restored.load_state_dict(copy.deepcopy(bank.state_dict()))
    torch.testing.assert_close(restored.embeddings, bank.embeddings)
    assert restored.labels.tolist() == bank.labels.tolist()
    extra = torch.randn(1, 3)
    bank.enqueue(extra, torch.tensor([1]))
    restored.enqueue(extra, torch.tensor([1]))
    torch.testing.assert_close(restored.embeddings, bank.embeddings)


def test_enqueue_detaches_and_stores_float32():
    bank = MemoryBank(size=2, dim=2)
    embeddings = torch.randn(2, 2, dtype=torch.float64, requires_grad=True)
    bank.enqueue(embeddings, torch.tensor([0, 1]))
    assert bank.embeddings.dtype == torch.float32 and not bank.embeddings.requires_grad


def test_bank_bad_inputs():
    with pytest.raises(ValueError, match="positive"):
        MemoryBank(0, 2)
    bank = MemoryBank(4, 2)
    with pytest.raises(ValueError, match=r"\[N, 2\]"):
        bank.enqueue(torch.randn(3, 5), torch.zeros(3))
    with pytest.raises(ValueError, match="3 embeddings but 2 labels"):
        bank.enqueue(torch.randn(3, 2), torch.zeros(2))


class TinyNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(3, 4)
        self.norm = torch.nn.BatchNorm1d(4)
        self.drop = torch.nn.Dropout(0.5)

    def forward(self, x):
        return self.drop(self.norm(self.linear(x)))


def test_ema_update_is_exact_and_buffers_copied():
    torch.manual_seed(0)
    online = TinyNet().double()
    encoder = MomentumEncoder(online, momentum=0.75)
    before = {name: p.clone() for name, p in encoder.module.named_parameters()}
    with torch.no_grad():
        for param in online.parameters():
            param.add_(torch.randn_like(param))
    online.train()
    online(torch.randn(8, 3, dtype=torch.float64))  # moves the BatchNorm statistics
    encoder.update(online)
    online_params = dict(online.named_parameters())
    for name, param in encoder.module.named_parameters():
        expected = 0.75 * before[name] + 0.25 * online_params[name]
        torch.testing.assert_close(param, expected, rtol=0, atol=1e-15)
        assert not param.requires_grad
    torch.testing.assert_close(encoder.module.norm.running_mean, online.norm.running_mean)
    torch.testing.assert_close(encoder.module.norm.running_var, online.norm.running_var)
    assert int(encoder.module.norm.num_batches_tracked) == 1


def test_momentum_zero_follows_online_and_forward_has_no_grad():
    online = TinyNet()
    encoder = MomentumEncoder(online, momentum=0.0, key_batchnorm="running")
    with torch.no_grad():
        online.linear.weight.mul_(3.0)
    online.train()
    online(torch.randn(8, 3))  # moves the running statistics away from (0, 1)
    encoder.update(online)
    torch.testing.assert_close(encoder.module.linear.weight, online.linear.weight)
    encoder.train()
    assert encoder.training and not encoder.module.training
    x = torch.randn(5, 3)
    out = encoder(x)
    assert not out.requires_grad
    online.eval()
    torch.testing.assert_close(out, online(x))  # eval mode: no dropout, running stats


def test_batch_statistics_key_forward_is_moco_like():
    torch.manual_seed(0)
    online = TinyNet()
    online.train()
    online(torch.randn(8, 3))
    encoder = MomentumEncoder(online, momentum=0.5)  # key_batchnorm="batch", the default
    encoder.update(online)
    running = (online.norm.running_mean.clone(), online.norm.running_var.clone())
    x = torch.randn(6, 3)
    out = encoder(x)
    # Independent: BatchNorm with the key batch's own (biased) statistics, no dropout.
    hidden = encoder.module.linear(x)
    mean, var = hidden.mean(0), hidden.var(0, unbiased=False)
    expected = (hidden - mean) / torch.sqrt(var + 1e-5) * encoder.module.norm.weight
    torch.testing.assert_close(out, expected + encoder.module.norm.bias)
    assert not encoder.module.drop.training and encoder.module.norm.training
    # The online detector's running statistics are untouched by the key forward.
    assert torch.equal(online.norm.running_mean, running[0])
    assert torch.equal(online.norm.running_var, running[1])
    # A key batch of one utterance falls back to the running statistics.
    single = encoder(x[:1])
    encoder.module.eval()
    torch.testing.assert_close(single, encoder.module(x[:1]))


def test_momentum_encoder_state_dict_round_trip():
    online = TinyNet()
    encoder = MomentumEncoder(online, momentum=0.5)
    with torch.no_grad():
        online.linear.bias.fill_(2.0)
    encoder.update(online)
    assert "module.linear.weight" in encoder.state_dict()
    restored = MomentumEncoder(TinyNet(), momentum=0.5)
    restored.load_state_dict(encoder.state_dict())
    torch.testing.assert_close(restored.module.linear.bias, encoder.module.linear.bias)


def test_momentum_encoder_bad_inputs():
    with pytest.raises(ValueError, match="momentum"):
        MomentumEncoder(TinyNet(), momentum=1.0)
    with pytest.raises(ValueError, match="key_batchnorm"):
        MomentumEncoder(TinyNet(), key_batchnorm="eval")
    with pytest.raises(ValueError, match="differ"):
        MomentumEncoder(TinyNet()).update(torch.nn.Linear(3, 4))
