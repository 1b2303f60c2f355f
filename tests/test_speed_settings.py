"""The CPU speed setting changes how memory is handed out, never what is computed."""

import subprocess
import sys

import pytest
import torch
from recipe_utils import ROOT, recipe_env

# One LCNN + InF + InI step (full bank) of the recipe's modules; saves losses and gradients.
STEP = """
import sys, torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain_ssdctx.utils.hparams_blocks import open_hparams
from speechbrain_ssdctx.utils.allocator import retain_freed_memory
if sys.argv[2] == "retain":
    assert retain_freed_memory()
torch.manual_seed(0)
stream = open_hparams("hparams/lcnn_inf_ini.yaml")
hparams = load_hyperpyyaml(stream, {"output_folder": sys.argv[3]})
detector, context = hparams["detector"], hparams["context"]
context.memory.enqueue(torch.randn(4096, 80), torch.randint(0, 2, (4096,)))
wavs = 0.1 * torch.randn(8, 16000)
total, parts = context(detector, wavs, torch.ones(8), torch.arange(8) % 2)
total.backward()
grads = {name: p.grad for name, p in detector.named_parameters()}
torch.save({"parts": parts, "grads": grads}, sys.argv[1])
"""


@pytest.mark.slow
def test_retained_memory_gives_identical_losses_and_gradients(tmp_path):
    results = {}
    for allocator in ("default", "retain"):
        out = tmp_path / f"{allocator}.pt"
        subprocess.run([sys.executable, "-c", STEP, str(out), allocator, str(tmp_path)],
                       cwd=ROOT, env=recipe_env(), check=True, timeout=600)
        results[allocator] = torch.load(out, weights_only=True)
    default, retain = results["default"], results["retain"]
    assert sorted(default["parts"]) == ["cls", "cls_masked", "inf", "ini"]
    for name, value in default["parts"].items():
        assert torch.equal(value, retain["parts"][name]), name
    assert len(default["grads"]) == len(retain["grads"]) > 20
    for name, grad in default["grads"].items():
        assert grad is not None and grad.abs().sum() > 0, name
        assert torch.equal(grad, retain["grads"][name]), name
