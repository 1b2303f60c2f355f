"""hparams/aasist_official.yaml holds the official AASIST training configuration
(clovaai/aasist, config/AASIST.conf), checked against values computed here."""

import math
from types import SimpleNamespace

import numpy as np
import pytest
import speechbrain as sb
import torch
from hyperpyyaml import load_hyperpyyaml
from recipe_utils import HPARAMS

from speechbrain_ssdctx.training.brain import DetectorBrain
from speechbrain_ssdctx.utils.hparams_blocks import open_hparams

#: config/AASIST.conf of the official repository (and its main.py / utils.py).
OFFICIAL = {"batch_size": 24, "num_epochs": 100, "nb_samp": 64600, "base_lr": 1e-4,
            "lr_min": 5e-6, "betas": (0.9, 0.999), "weight_decay": 1e-4, "amsgrad": False,
            "class_weights": [0.1, 0.9], "seed": 1234}


@pytest.fixture(scope="module")
def hparams(tmp_path_factory):
    return load_hyperpyyaml(open_hparams(HPARAMS / "aasist_official.yaml"),
                            {"output_folder": str(tmp_path_factory.mktemp("o"))})


def official_cosine(epoch: int) -> float:
    """The official utils.cosine_annealing at the first step of ``epoch`` (from 0)."""
    step, total = epoch, OFFICIAL["num_epochs"]  # in epochs: the same curve per epoch
    lr_max, lr_min = OFFICIAL["base_lr"], OFFICIAL["lr_min"]
    return lr_min + (lr_max - lr_min) * 0.5 * (1 + np.cos(step / total * np.pi))


def test_data_and_batch(hparams):
    assert hparams["batch_size"] == hparams["eval_batch_size"] == OFFICIAL["batch_size"]
    assert hparams["batch_semantics"] == "global"
    assert round(hparams["train_seconds"] * hparams["sample_rate"]) == OFFICIAL["nb_samp"]
    assert hparams["eval_window"] == "official" and hparams["drop_last"] is True
    assert hparams["number_of_epochs"] == OFFICIAL["num_epochs"]
    assert hparams["seed"] == OFFICIAL["seed"]
    assert not hparams["use_inf"] and not hparams["use_ini"]
    assert hparams["variant"] == "AASIST"


def test_optimiser_and_weight_decay(hparams):
    parameter = torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.5]))
    optimizer = hparams["opt_class"]([parameter])
    assert type(optimizer) is torch.optim.Adam
    group = optimizer.param_groups[0]
    assert group["lr"] == OFFICIAL["base_lr"] and tuple(group["betas"]) == OFFICIAL["betas"]
    assert group["weight_decay"] == OFFICIAL["weight_decay"]
    assert group["amsgrad"] is OFFICIAL["amsgrad"]
    # One Adam step with L2 weight decay, by hand: g' = g + wd * theta; the bias-corrected
    # moments of the first step are g' and g'^2, so theta -= lr * g' / (|g'| + eps).
    grad = torch.tensor([0.3, 0.0, -1e-3])
    before = parameter.detach().clone()
    parameter.grad = grad.clone()
    optimizer.step()
    decayed = grad + OFFICIAL["weight_decay"] * before
    expected = before - OFFICIAL["base_lr"] * decayed / (decayed.abs() + group["eps"])
    torch.testing.assert_close(parameter.detach(), expected, rtol=1e-6, atol=1e-9)


def test_cosine_schedule_per_epoch(hparams):
    optimizer = hparams["opt_class"]([torch.nn.Parameter(torch.zeros(1))])
    scheduler = hparams["lr_scheduler"](optimizer)
    used = []
    for _ in range(OFFICIAL["num_epochs"]):  # DetectorBrain steps it at each epoch's end
        used.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    expected = [official_cosine(epoch) for epoch in range(OFFICIAL["num_epochs"])]
    np.testing.assert_allclose(used, expected, rtol=1e-9)
    assert used[0] == OFFICIAL["base_lr"]
    assert used[-1] == pytest.approx(OFFICIAL["lr_min"], rel=0.03)  # 5e-6 + 1.2e-8
    assert all(a > b for a, b in zip(used[:-1], used[1:], strict=True))


def test_class_weights_reach_the_training_and_validation_losses(hparams):
    logits = torch.tensor([[2.0, -1.0], [0.5, 0.5], [-1.0, 3.0], [0.0, 1.0]])
    labels = torch.tensor([0, 1, 1, 0])

    class Fixed(torch.nn.Module):
        def forward(self, wavs, lengths=None):
            return torch.zeros(len(wavs), 160), logits

    _, parts = hparams["context"](Fixed(), torch.zeros(4, 100), torch.ones(4), labels)
    weights = np.array(OFFICIAL["class_weights"])[labels.numpy()]
    nll = [-math.log(math.exp(row[y]) / sum(math.exp(v) for v in row))
           for row, y in zip(logits.tolist(), labels.tolist(), strict=True)]
    expected = float(np.sum(weights * nll) / np.sum(weights))
    assert parts["cls"].item() == pytest.approx(expected, rel=1e-6)
    brain = DetectorBrain(modules=hparams["modules"], hparams=hparams,
                          run_opts={"device": "cpu"})
    brain.on_stage_start(sb.Stage.VALID)
    batch = SimpleNamespace(id=["a", "b", "c", "d"], label_id=labels)
    valid_loss = brain.compute_objectives(logits, batch, sb.Stage.VALID)
    assert valid_loss.item() == pytest.approx(expected, rel=1e-6)
