"""Sequential InF views (``inf_views="sequential"``): the gradients of the total loss,
view by view, against ``torch.autograd`` on the joint loss written out here; BatchNorm,
dropout, the Brain's gradient accumulation and bf16 autocast, exact resume, and one
gradient all-reduce per step under DDP (two gloo processes; they end with
``finish_distributed``, see tests/test_memory_distributed.py)."""

import contextlib
import copy
import types
from unittest import mock

import pytest
import speechbrain as sb
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from speechbrain.utils.epoch_loop import EpochCounter
from torch.distributed.algorithms.ddp_comm_hooks import default_hooks
from torch.nn.parallel import DistributedDataParallel

from speechbrain_ssdctx.method.context import ContextLoss
from speechbrain_ssdctx.method.masking import BandPassMasking
from speechbrain_ssdctx.models import AASIST, LCNN
from speechbrain_ssdctx.training.brain import DetectorBrain
from speechbrain_ssdctx.utils.distributed import finish_distributed

TIME = 1600
RTOL = 1e-5


class Toy(torch.nn.Module):
    """Embedding and logits per example (no batch-mixing layer), optional BatchNorm and
    dropout."""

    embedding_dim = 4

    def __init__(self, batch_norm: bool = False, dropout: float = 0.0):
        super().__init__()
        self.encoder = torch.nn.Linear(TIME, 4)
        self.norm = torch.nn.BatchNorm1d(4) if batch_norm else torch.nn.Identity()
        self.drop = torch.nn.Dropout(dropout)
        self.head = torch.nn.Linear(4, 2)

    def forward(self, wavs, lengths=None):
        embedding = torch.tanh(self.norm(self.encoder(self.drop(wavs))))
        return embedding, self.head(embedding)


def batch(seed=0, size=6, time=TIME):
    generator = torch.Generator().manual_seed(seed)
    return 0.1 * torch.randn(size, time, generator=generator), torch.ones(size), \
        torch.arange(size) % 2


def full_bank(context, seed=5):
    """Fills the memory bank with random entries of both labels (InI gets a gradient)."""
    generator = torch.Generator().manual_seed(seed)
    size, dim = context.memory.size, context.memory.dim
    context.memory.enqueue(torch.randn(size, dim, generator=generator), torch.arange(size) % 2)


def kl(log_p, log_q):
    """KL(p || q) from log-probabilities, mean over the batch."""
    return (log_p.exp() * (log_p - log_q)).sum(-1).mean()


def ini_loss(embeddings, labels, bank, bank_labels):
    """The pair loss written out: mean log sigmoid of the cosine to positives, of minus
    the cosine to negatives."""
    cosine = F.normalize(embeddings, dim=-1) @ F.normalize(bank.to(embeddings), dim=-1).T
    positive = (labels[:, None] == bank_labels[None, :]).float()
    pos = (F.logsigmoid(cosine) * positive).sum(-1) / positive.sum(-1)
    neg = (F.logsigmoid(-cosine) * (1 - positive)).sum(-1) / (1 - positive).sum(-1)
    return -(pos + neg).mean()


def joint_loss(views, labels, settings, bank=None):
    """L = CE + CE + lambda_inf KL + lambda_ini L_InI from the two views' outputs."""
    (emb, logits), (emb_masked, logits_masked) = views
    total = F.cross_entropy(logits, labels) + F.cross_entropy(logits_masked, labels)
    target = logits.detach() if settings.get("detach_target") else logits
    log_p, log_q = F.log_softmax(target, -1), F.log_softmax(logits_masked, -1)
    direction = settings.get("kl_direction", "forward")
    divergence = {"forward": kl(log_p, log_q), "reverse": kl(log_q, log_p),
                  "symmetric": 0.5 * (kl(log_p, log_q) + kl(log_q, log_p))}[direction]
    total = total + settings.get("lambda_inf", 0.1) * divergence
    if bank is not None:
        queries = {"clean": [emb], "masked": [emb_masked], "both": [emb, emb_masked]}
        losses = [ini_loss(q, labels, *bank) for q in queries[settings.get("ini_view", "clean")]]
        total = total + settings.get("lambda_ini", 1.0) * sum(losses) / len(losses)
    return total


def reference_gradients(detector, wavs, masked, labels, settings, bank, joint=True):
    """``torch.autograd.grad`` of the joint loss (one concatenated batch, or two passes)."""
    batch_size = len(wavs)
    if joint:
        emb, logits = detector(torch.cat([wavs, masked]))
        views = (emb[:batch_size], logits[:batch_size]), (emb[batch_size:], logits[batch_size:])
    else:
        views = detector(wavs), detector(masked)
    total = joint_loss(views, labels, settings, bank)
    params = [p for p in detector.parameters() if p.requires_grad]
    return total, torch.autograd.grad(total, params, allow_unused=True)


def sequential_gradients(detector, data, settings, use_ini, masking_seed=1):
    """One sequential call: its total, parts, the gradients it left, the masked view."""
    context = ContextLoss(detector, masking=BandPassMasking(seed=masking_seed),
                          use_ini=use_ini, bank_size=16, inf_views="sequential", **settings)
    bank = None
    if use_ini:
        full_bank(context)
        bank = (context.memory.embeddings.clone(), context.memory.labels.clone())
    masked, _ = copy.deepcopy(context.masking)(*data[:2])
    detector.zero_grad(set_to_none=True)
    total, parts = context(detector, *data)
    total.backward()  # the no-op: the gradients must not change
    grads = [p.grad for p in detector.parameters() if p.requires_grad]
    return total, parts, grads, masked, bank


def assert_relative(grads, expected):
    for got, want in zip(grads, expected, strict=True):
        if want is None:
            assert got is None or not bool(got.any())
            continue
        error = (got - want).norm() / want.norm().clamp(min=1e-30)
        assert error <= RTOL, float(error)


SETTINGS = [
    {"kl_direction": "forward"},
    {"kl_direction": "reverse"},
    {"kl_direction": "symmetric"},
    {"kl_direction": "forward", "detach_target": True},
    {"kl_direction": "reverse", "detach_target": True},
    {"kl_direction": "symmetric", "detach_target": True},
    {"lambda_inf": 0.0},
    {"kl_direction": "reverse", "ini_view": "both", "lambda_ini": 0.5},
    {"kl_direction": "symmetric", "ini_view": "masked"},
]


@pytest.mark.parametrize(("settings", "use_ini"), [
    (settings, use_ini) for use_ini in (False, True) for settings in SETTINGS
    if use_ini or "ini_view" not in settings  # ini_view needs InI
], ids=lambda value: "-".join(map(str, value.values())) if isinstance(value, dict)
    else ("InF+InI" if value else "InF"))
def test_sequential_gradients_equal_joint_autograd(settings, use_ini):
    torch.manual_seed(0)
    detector = Toy()
    data = batch()
    total, parts, grads, masked, bank = sequential_gradients(detector, data, settings, use_ini)
    expected_total, expected = reference_gradients(detector, data[0], masked, data[2],
                                                   settings, bank)
    assert_relative(grads, expected)
    assert float(total.detach()) == pytest.approx(float(expected_total.detach()), rel=RTOL)
    assert sorted(parts) == sorted(["cls", "cls_masked", "inf"] + ["ini"] * use_ini)


@pytest.mark.slow  # 12 forward / backward passes of LCNN and AASIST (float64)
# Every KL direction with and without InI is checked on the tiny detector above; here each
# network gets two of the six combinations (the suite's time budget).
@pytest.mark.parametrize(("model", "kl_direction", "use_ini"), [
    ("lcnn", "forward", False), ("lcnn", "symmetric", True),
    ("aasist", "reverse", False), ("aasist", "symmetric", True),
], ids=["lcnn-forward-InF", "lcnn-symmetric-InF+InI", "aasist-reverse-InF",
        "aasist-symmetric-InF+InI"])
def test_lcnn_and_aasist_in_eval_mode(model, kl_direction, use_ini):
    torch.manual_seed(0)
    detector = LCNN(n_mels=32, embedding_dim=16) if model == "lcnn" else AASIST("AASIST-L")
    # BatchNorm on running statistics, dropout off. AASIST in float64: in float32 the
    # rounding of one batch of 6 against two of 3 differs by about 1.5e-5 (LCNN's
    # SpeechBrain features run in float32 only).
    dtype = torch.float32 if model == "lcnn" else torch.float64
    detector.eval().to(dtype)
    wavs, lengths, labels = batch(size=3, time=8000 if model == "lcnn" else 4000)
    data = wavs.to(dtype), lengths, labels
    settings = {"kl_direction": kl_direction, "lambda_inf": 0.5}
    _, _, grads, masked, bank = sequential_gradients(detector, data, settings, use_ini)
    _, expected = reference_gradients(detector, data[0], masked, data[2], settings, bank)
    assert_relative(grads, expected)


def test_train_mode_batch_norm_gives_the_two_pass_gradient_and_two_updates():
    torch.manual_seed(0)
    detector = Toy(batch_norm=True)
    reference = copy.deepcopy(detector)
    data = batch()
    settings = {"kl_direction": "symmetric"}
    _, _, grads, masked, bank = sequential_gradients(detector, data, settings, True)
    _, expected = reference_gradients(reference, data[0], masked, data[2], settings, bank,
                                      joint=False)
    assert_relative(grads, expected)
    # Running statistics: updated by the clean pass, then by the masked pass (the pass
    # without gradient left them as they were), as the two passes of the reference.
    assert int(detector.norm.num_batches_tracked) == 2
    for name in ("running_mean", "running_var"):
        torch.testing.assert_close(getattr(detector.norm, name), getattr(reference.norm, name),
                                   rtol=0, atol=0)


def test_dropout_masks_of_the_masked_view_are_replayed():
    """The masked view's pass without gradient and its pass with gradient draw the same
    dropout masks: the gradient is the joint loss's with the masked view's masks drawn
    first, then the clean view's; the generator ends where that order leaves it."""
    detector = Toy(dropout=0.5)
    data = batch()
    torch.manual_seed(7)
    _, _, grads, masked, bank = sequential_gradients(detector, data, {}, True)
    after = torch.get_rng_state()
    torch.manual_seed(7)
    views_masked = detector(masked)
    views_clean = detector(data[0])
    total = joint_loss((views_clean, views_masked), data[2], {}, bank)
    expected = torch.autograd.grad(total, list(detector.parameters()))
    assert torch.equal(after, torch.get_rng_state())
    assert_relative(grads, expected)


def test_pass_counts_and_no_pass_without_gradient():
    calls = []
    detector = Toy()
    detector.register_forward_hook(lambda m, args, out: calls.append(torch.is_grad_enabled()))
    data = batch()
    for settings, expected in (({}, [False, True, True]),
                               ({"detach_target": True}, [True, True]),
                               ({"lambda_inf": 0.0}, [True, True])):
        calls.clear()
        context = ContextLoss(detector, masking=BandPassMasking(seed=1), use_ini=False,
                              inf_views="sequential", **settings)
        context(detector, *data)
        assert calls == expected, settings
    calls.clear()
    with torch.no_grad():  # no backward to run: the two views, no gradient
        total, _ = context(detector, *data)
    assert calls == [False, False] and not total.requires_grad


def make_brain(detector, inf_views, precision="fp32", accumulation=1):
    context = ContextLoss(detector, masking=BandPassMasking(seed=1), bank_size=16,
                          inf_views=inf_views)
    full_bank(context)
    brain = DetectorBrain(
        modules={"detector": detector, "context": context},
        opt_class=lambda params: torch.optim.SGD(params, lr=0.5),
        hparams={"epoch_counter": EpochCounter(1)},
        run_opts={"noprogressbar": True, "precision": precision,
                  "grad_accumulation_factor": accumulation},
    )
    brain.init_optimizers()
    brain.modules.train()
    brain.on_stage_start(sb.Stage.TRAIN)
    return brain


def brain_batch(seed):
    wavs, lengths, labels = batch(seed)
    return types.SimpleNamespace(id=[str(i) for i in range(len(wavs))],
                                 sig=(wavs, lengths), label_id=labels)


@pytest.mark.parametrize("precision, tolerance", [("fp32", 1e-5), ("bf16", 2e-2)])
def test_brain_with_gradient_accumulation_steps_as_joint_mode(precision, tolerance):
    """Four batches, two optimiser steps of two accumulated batches: same weights, losses
    and bank as joint mode (no gradient counted twice, accumulation scaling applied)."""
    results = {}
    for inf_views in ("joint", "sequential"):
        torch.manual_seed(0)
        brain = make_brain(Toy(), inf_views, precision, accumulation=2)
        initial = brain.modules.detector.head.weight.detach().clone()
        losses = [float(brain.fit_batch(brain_batch(seed))) for seed in range(4)]
        brain.step = 0
        results[inf_views] = (losses, copy.deepcopy(brain.modules.detector.state_dict()),
                              brain.modules.context.memory.embeddings.clone())
    (joint_losses, joint_state, joint_bank), (losses, state, bank) = results.values()
    assert losses == pytest.approx(joint_losses, rel=tolerance)
    for key, value in joint_state.items():
        torch.testing.assert_close(state[key], value, rtol=tolerance, atol=tolerance)
    torch.testing.assert_close(bank, joint_bank, rtol=tolerance, atol=tolerance)
    assert not torch.equal(state["head.weight"], initial)  # the optimiser did step


def test_exact_resume_in_sequential_mode():
    """Two steps in one go equal one step, a save and a restore into new objects, and
    the second step (dropout and BatchNorm in train mode, InI)."""

    def build():
        detector = Toy(batch_norm=True, dropout=0.2)
        context = ContextLoss(detector, masking=BandPassMasking(seed=4), bank_size=16,
                              inf_views="sequential")
        return detector, context, torch.optim.Adam(detector.parameters(), lr=1e-2)

    def step(detector, context, optimizer, seed):
        optimizer.zero_grad()
        context(detector, *batch(seed))
        optimizer.step()
        context.after_step(detector)

    torch.manual_seed(0)
    straight = build()
    step(*straight, 1)
    saved = copy.deepcopy({"detector": straight[0].state_dict(),
                           "context": straight[1].state_dict(),
                           "optimizer": straight[2].state_dict(),
                           "rng": torch.get_rng_state()})
    step(*straight, 2)

    torch.manual_seed(123)
    resumed = build()
    resumed[0].load_state_dict(saved["detector"])
    resumed[1].load_state_dict(saved["context"])
    resumed[2].load_state_dict(saved["optimizer"])
    torch.set_rng_state(saved["rng"])
    step(*resumed, 2)
    for name, value in straight[0].state_dict().items():
        assert torch.equal(value, resumed[0].state_dict()[name]), name
    for name, value in straight[1].state_dict().items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(value, resumed[1].state_dict()[name]), name


def test_bad_inf_views():
    with pytest.raises(ValueError, match="inf_views must be one of"):
        ContextLoss(Toy(), inf_views="parallel")


def ddp_steps(rank: int, inf_views: str) -> dict:
    """Two optimiser steps of two accumulated batches under DDP (the first batch under
    ``no_sync``, as ``DetectorBrain`` runs them), counting the gradient all-reduces of
    each step with a DDP communication hook."""
    torch.manual_seed(0)
    detector = Toy()
    context = ContextLoss(detector, masking=BandPassMasking(seed=1), bank_size=16,
                          inf_views=inf_views)
    ddp = DistributedDataParallel(detector)
    calls = []

    def counting_allreduce(state, bucket):
        calls.append(1)
        return default_hooks.allreduce_hook(None, bucket)

    ddp.register_comm_hook(None, counting_allreduce)
    optimizer = torch.optim.SGD(ddp.parameters(), lr=0.5)
    counts = []
    for step in range(2):
        calls.clear()
        for micro in range(2):
            with ddp.no_sync() if micro == 0 else contextlib.nullcontext():
                wavs, lengths, labels = batch(seed=10 * rank + 2 * step + micro, size=3 + rank)
                total, _ = context(ddp, wavs, lengths, labels, scale_loss=halve)
                halve(total).backward()  # joint mode's backward; a no-op in sequential
        counts.append(len(calls))
        optimizer.step()
        optimizer.zero_grad()
        context.after_step(ddp)
    return {"counts": counts, "weights": copy.deepcopy(detector.state_dict()),
            "bank": context.memory.embeddings.clone()}


def halve(loss: torch.Tensor) -> torch.Tensor:
    """The loss scaling of two accumulated batches."""
    return loss / 2


def ddp_worker(rank: int, init_file: str, out_dir: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    results = {name: ddp_steps(rank, name) for name in ("joint", "sequential")}
    # The same without the no_sync of the first backward: what the counter must catch.
    with mock.patch("speechbrain_ssdctx.method.context.no_gradient_sync",
                    lambda module: contextlib.nullcontext()):
        results["sequential, first backward synchronised"] = ddp_steps(rank, "sequential")
    torch.save(results, f"{out_dir}/rank{rank}.pt")
    finish_distributed(0)


@pytest.mark.slow  # two gloo processes
def test_ddp_sequential_mode_all_reduces_once_per_step(tmp_path):
    mp.spawn(ddp_worker, args=(str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f"rank{rank}.pt") for rank in (0, 1)]
    for results in ranks:
        assert results["joint"]["counts"] == [1, 1]  # one bucket: one all-reduce a step
        assert results["sequential"]["counts"] == [1, 1]
        assert results["sequential, first backward synchronised"]["counts"] == [2, 2]
        for key, value in results["joint"]["weights"].items():
            torch.testing.assert_close(results["sequential"]["weights"][key], value,
                                       rtol=1e-5, atol=1e-7)
        torch.testing.assert_close(results["sequential"]["bank"], results["joint"]["bank"])
    for key, value in ranks[0]["sequential"]["weights"].items():
        assert torch.equal(value, ranks[1]["sequential"]["weights"][key]), key
