"""Tests of ContextLoss: each part against an independent computation, the switches, the
after-step hook and the checkpointed state."""

import copy
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from speechbrain_ssdctx.method.context import ContextLoss
from speechbrain_ssdctx.method.losses import ClassificationLoss
from speechbrain_ssdctx.method.masking import BandPassMasking

TIME = 1600


class Toy(torch.nn.Module):
    """A small detector returning (embedding, logits); optional BatchNorm; call counter."""

    embedding_dim = 4

    def __init__(self, batch_norm: bool = False, single_logit: bool = False):
        super().__init__()
        self.encoder = torch.nn.Linear(TIME, 4)
        self.norm = torch.nn.BatchNorm1d(4) if batch_norm else torch.nn.Identity()
        self.head = torch.nn.Linear(4, 1 if single_logit else 2)
        self.batch_sizes = []

    def forward(self, wavs, lengths=None):
        self.batch_sizes.append(wavs.shape[0])
        embedding = torch.tanh(self.norm(self.encoder(wavs)))
        return embedding, self.head(embedding)


def batch(seed=0, size=6):
    generator = torch.Generator().manual_seed(seed)
    wavs = torch.randn(size, TIME, generator=generator)
    labels = torch.arange(size) % 2
    return wavs, torch.ones(size), labels


def numpy_kl(logits, logits_masked):
    p = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    q = np.exp(logits_masked) / np.exp(logits_masked).sum(-1, keepdims=True)
    return float(np.mean(np.sum(p * np.log(p / q), axis=-1)))


def loop_ini(emb, labels, bank, bank_labels):
    total = 0.0
    for f, y in zip(emb, labels, strict=True):
        pos = [g for g, z in zip(bank, bank_labels, strict=True) if z == y]
        neg = [g for g, z in zip(bank, bank_labels, strict=True) if z != y]

        def cos(a, b):
            return float(np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b))

        if pos:
            total += sum(math.log(1 / (1 + math.exp(-cos(f, g)))) for g in pos) / len(pos)
        if neg:
            total += sum(math.log(1 - 1 / (1 + math.exp(-cos(f, g)))) for g in neg) / len(neg)
    return -total / len(emb)


def train_step(context, detector, optimizer, data):
    optimizer.zero_grad()
    total, parts = context(detector, *data)
    total.backward()
    optimizer.step()
    context.after_step(detector)
    return total, parts


def test_parts_and_total_match_independent_computation():
    torch.manual_seed(0)
    detector = Toy()
    context = ContextLoss(detector, masking=BandPassMasking(seed=3), lambda_inf=0.1, lambda_ini=2.0)
    optimizer = torch.optim.SGD(detector.parameters(), lr=0.1)
    train_step(context, detector, optimizer, batch(1))  # fills the bank with 6 entries
    bank, bank_labels = context.memory.embeddings.numpy(), context.memory.labels.numpy()
    wavs, lengths, labels = batch(2)
    masking_copy = copy.deepcopy(context.masking)
    total, parts = context(detector, wavs, lengths, labels)

    masked, _ = masking_copy(wavs, lengths)
    with torch.no_grad():
        emb, logits = detector(wavs)
        _, logits_masked = detector(masked)
    expected = {
        "cls": F.cross_entropy(logits, labels).item(),
        "cls_masked": F.cross_entropy(logits_masked, labels).item(),
        "inf": numpy_kl(logits.double().numpy(), logits_masked.double().numpy()),
        "ini": loop_ini(emb.double().numpy(), labels.numpy(), bank, bank_labels),
    }
    assert sorted(parts) == sorted(expected)
    for key, value in expected.items():
        assert parts[key].dim() == 0
        assert parts[key].item() == pytest.approx(value, rel=1e-5), key
    expected_total = (
        expected["cls"] + expected["cls_masked"] + 0.1 * expected["inf"] + 2.0 * expected["ini"]
    )
    assert total.item() == pytest.approx(expected_total, rel=1e-5)


@pytest.mark.parametrize("view", ["masked", "both"])
def test_ini_views(view):
    torch.manual_seed(0)
    detector = Toy()
    context = ContextLoss(detector, masking=BandPassMasking(seed=3), ini_view=view)
    optimizer = torch.optim.SGD(detector.parameters(), lr=0.1)
    train_step(context, detector, optimizer, batch(1))
    bank, bank_labels = context.memory.embeddings.numpy(), context.memory.labels.numpy()
    wavs, lengths, labels = batch(2)
    masked, _ = copy.deepcopy(context.masking)(wavs, lengths)
    _, parts = context(detector, wavs, lengths, labels)
    with torch.no_grad():
        clean = loop_ini(detector(wavs)[0].numpy(), labels.numpy(), bank, bank_labels)
        on_masked = loop_ini(detector(masked)[0].numpy(), labels.numpy(), bank, bank_labels)
    expected = on_masked if view == "masked" else 0.5 * (clean + on_masked)
    assert parts["ini"].item() == pytest.approx(expected, rel=1e-5)


def test_both_off_is_plain_training():
    torch.manual_seed(0)
    detector = Toy()
    context = ContextLoss(detector, use_inf=False, use_ini=False)
    # No masking, momentum encoder or bank: only the (stateless) classification loss.
    assert [type(child) for child in context.children()] == [ClassificationLoss]
    wavs, lengths, labels = batch()
    total, parts = context(detector, wavs, lengths, labels)
    assert list(parts) == ["cls"]
    total.backward()
    grads = [p.grad.clone() for p in detector.parameters()]
    detector.zero_grad()
    F.cross_entropy(detector(wavs)[1], labels).backward()
    for grad, param in zip(grads, detector.parameters(), strict=True):
        torch.testing.assert_close(grad, param.grad)


def test_inf_without_consistency_logs_kl_without_gradient():
    detector = Toy()
    context = ContextLoss(detector, use_ini=False, lambda_inf=0.0)
    total, parts = context(detector, *batch())
    assert not parts["inf"].requires_grad and parts["inf"].item() > 0
    assert total.item() == pytest.approx((parts["cls"] + parts["cls_masked"]).item(), rel=1e-6)


def test_after_step_updates_momentum_then_enqueues_pre_update_embeddings():
    torch.manual_seed(0)
    detector = Toy()
    context = ContextLoss(detector, momentum=0.9, bank_size=8)
    optimizer = torch.optim.SGD(detector.parameters(), lr=0.5)
    data = batch(4)
    encoder_before = copy.deepcopy(context.momentum_encoder.module)
    with torch.no_grad():
        expected_keys = encoder_before(data[0])[0]
    train_step(context, detector, optimizer, data)
    torch.testing.assert_close(context.memory.embeddings, expected_keys)
    assert context.memory.labels.tolist() == data[2].tolist()
    online = dict(detector.named_parameters())
    for name, param in context.momentum_encoder.module.named_parameters():
        expected = 0.9 * dict(encoder_before.named_parameters())[name] + 0.1 * online[name]
        torch.testing.assert_close(param, expected)


def test_gradient_accumulation_enqueues_every_batch_and_eval_enqueues_none():
    detector = Toy()
    context = ContextLoss(detector, use_inf=False, bank_size=32)
    for seed in (1, 2):
        context(detector, *batch(seed))[0].backward()
    context.eval()
    context(detector, *batch(3))
    context.train()
    context.after_step(detector)
    assert len(context.memory) == 12


def test_joint_views_one_pass_and_same_result_without_batch_norm():
    results = {}
    for joint in (True, False):
        torch.manual_seed(0)
        detector = Toy()
        context = ContextLoss(detector, masking=BandPassMasking(seed=1), joint_views=joint)
        total, _ = context(detector, *batch())
        results[joint] = (total.item(), detector.batch_sizes)
    assert results[True][1] == [12] and results[False][1] == [6, 6]
    assert results[True][0] == pytest.approx(results[False][0], rel=1e-6)


def test_state_dict_round_trip_reproduces_next_step():
    torch.manual_seed(0)
    detector = Toy(batch_norm=True)
    context = ContextLoss(detector, masking=BandPassMasking(seed=9), bank_size=10)
    optimizer = torch.optim.SGD(detector.parameters(), lr=0.1)
    for seed in (1, 2):
        train_step(context, detector, optimizer, batch(seed))
    state = copy.deepcopy(context.state_dict())
    assert "masking._extra_state" in state and "memory.bank_embeddings" in state
    assert "momentum_encoder.module.norm.running_mean" in state
    assert not any(key.startswith("detector") for key in state)
    restored = ContextLoss(Toy(batch_norm=True), masking=BandPassMasking(seed=123), bank_size=10)
    restored.load_state_dict(state)
    detector_copy = copy.deepcopy(detector)
    _, parts = context(detector, *batch(3))
    _, parts_restored = restored(detector_copy, *batch(3))
    for key in parts:
        torch.testing.assert_close(parts[key], parts_restored[key])


def test_detector_not_registered_and_nothing_trainable():
    detector = Toy()
    context = ContextLoss(detector)
    detector_ids = {id(p) for p in detector.parameters()}
    assert not detector_ids & {id(p) for p in context.parameters()}
    assert not any(p.requires_grad for p in context.parameters())


def test_single_logit_detector():
    detector = Toy(single_logit=True)
    context = ContextLoss(detector, masking=BandPassMasking(seed=0))
    wavs, lengths, labels = batch()
    _, parts = context(detector, wavs, lengths, labels)
    with torch.no_grad():
        z = detector(wavs)[1].flatten().double().numpy()
    p = 1 / (1 + np.exp(-z))
    bce = -np.mean(labels.numpy() * np.log(p) + (1 - labels.numpy()) * np.log(1 - p))
    assert parts["cls"].item() == pytest.approx(bce, rel=1e-5)
    assert parts["inf"].item() >= 0


def test_bad_configuration():
    with pytest.raises(ValueError, match="needs the masked view"):
        ContextLoss(Toy(), use_inf=False, ini_view="both")
    with pytest.raises(ValueError, match="kl_direction"):
        ContextLoss(Toy(), kl_direction="js")
    with pytest.raises(ValueError, match="ini_view"):
        ContextLoss(Toy(), ini_view="noisy")


def augmenter(**options):
    """A SpeechBrain Augmenter whose augmentations draw from the global generators."""
    from speechbrain.augment.augmenter import Augmenter
    from speechbrain.augment.time_domain import DropChunk, DropFreq

    return Augmenter(
        augmentations=[DropFreq(), DropChunk(drop_length_low=50, drop_length_high=200)],
        **options,
    )


@pytest.mark.parametrize(
    "options, reason",
    [
        ({"concat_original": True}, "concat_original=True adds the clean batch"),
        ({"augment_prob": 0.5}, "augment_prob=0.5 < 1 leaves whole batches unmasked"),
        ({"min_augmentations": 0}, "min_augmentations=0"),
        ({"repeat_augment": 2}, "repeat_augment=2 repeats the batch"),
        ({"parallel_augment": True}, "parallel_augment=True makes one batch per augmentation"),
        ({"augment_end_index": 2}, "augment_end_index mask only part of the batch"),
    ],
)
def test_augmenter_options_that_change_the_views_are_refused(options, reason):
    with pytest.raises(ValueError, match="one masked view of every utterance") as error:
        ContextLoss(Toy(), masking=augmenter(**options))
    assert reason in str(error.value)


def test_augmenter_masking_keeps_its_random_state_in_checkpoints(tmp_path):
    from speechbrain.utils.checkpoints import Checkpointer

    torch.manual_seed(0)
    detector = Toy()
    context = ContextLoss(detector, masking=augmenter(), bank_size=16)
    optimizer = torch.optim.SGD(detector.parameters(), lr=0.1)
    global_state = torch.get_rng_state()
    train_step(context, detector, optimizer, batch(1))
    # The masking draws from its own stream: the global generator is untouched.
    assert torch.equal(torch.get_rng_state(), global_state)
    checkpointer = Checkpointer(tmp_path, {"detector": detector, "context": context})
    checkpointer.save_checkpoint()
    _, expected = context(detector, *batch(2))

    torch.manual_seed(123)  # another global state: must not matter
    restored_detector = Toy()
    restored = ContextLoss(restored_detector, masking=augmenter(), bank_size=16)
    Checkpointer(tmp_path, {"detector": restored_detector, "context": restored})\
        .recover_if_possible()
    _, parts = restored(restored_detector, *batch(2))
    for key in expected:
        torch.testing.assert_close(parts[key], expected[key])
    # Without the restored stream the masks differ (the comparison above can fail).
    fresh = ContextLoss(restored_detector, masking=augmenter(), bank_size=16)
    fresh.load_state_dict({k: v for k, v in restored.state_dict().items()
                           if k != "_extra_state"}, strict=False)
    other = fresh(restored_detector, *batch(2))[1]["cls_masked"]
    assert float(other.detach()) != pytest.approx(float(expected["cls_masked"].detach()), rel=1e-6)


class Pooled(torch.nn.Module):
    """A detector for any length: 16-sample frames, mean over the valid frames."""

    embedding_dim = 4

    def __init__(self):
        super().__init__()
        self.frames = torch.nn.Conv1d(1, 4, kernel_size=16, stride=16)
        self.head = torch.nn.Linear(4, 2)

    def forward(self, wavs, lengths):
        frames = self.frames(wavs[:, None]).transpose(1, 2)
        valid = torch.round(lengths * frames.shape[1])
        mask = (torch.arange(frames.shape[1])[None] < valid[:, None]).float()[..., None]
        embedding = torch.tanh((frames * mask).sum(1) / mask.sum(1))
        return embedding, self.head(embedding)


def test_masked_view_of_another_length_is_padded():
    from speechbrain.augment.time_domain import SpeedPerturb

    results = {}
    for joint in (True, False):
        torch.manual_seed(0)
        detector = Pooled()
        slower = SpeedPerturb(orig_freq=16000, speeds=[90])  # forward(waveforms): no lengths
        context = ContextLoss(detector, masking=slower, joint_views=joint, use_ini=False)
        total, parts = context(detector, *batch())
        results[joint] = {k: float(v.detach()) for k, v in parts.items()}
    assert results[True] == pytest.approx(results[False], rel=1e-5)
