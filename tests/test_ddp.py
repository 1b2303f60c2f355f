"""Multi-process (DDP) training on the CPU with gloo, as ``torchrun`` runs the recipe.

One launch of ``recipes/train.py`` with 2 processes (through ``ddp_worker.py``, which
only watches) checks the YAML's multi-GPU and precision block, the global batch, the
command line's precedence, the synchronised InI state and the files written once.
"""

import json
import math
import shutil
import subprocess
import sys

import pytest
import torch
from recipe_utils import HPARAMS, ROOT, recipe_env

from speechbrain_ssdctx.evaluation.scores import read_score_file

pytestmark = pytest.mark.slow  # recipe, DDP or end-to-end runs

WORLD = 2
PER_CLASS = 4  # --max_utterances_per_class: 8 training utterances
EPOCHS = 2
#: Changes to the recipe's run block: what the run must pick up from the YAML itself.
DECLARED = {
    "\nbatch_size: 64 ": "\nbatch_size: 8 ",        # batch_semantics: global (unchanged)
    "\ngrad_accumulation_factor: 1 ": "\ngrad_accumulation_factor: 2 ",
    "\nprecision: auto ": "\nprecision: bf16 ",     # overridden by --precision=fp32 below
    "\neval_precision: fp32 ": "\neval_precision: bf16 ",
}


def torchrun(nproc=WORLD) -> list[str]:
    """torchrun on this machine; ``--standalone`` binds a free rendezvous port itself (no
    probe-then-bind race with other jobs)."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc_per_node={nproc}"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The recipe under torchrun with an edited copy of lcnn_inf_ini.yaml."""
    tmp_path = tmp_path_factory.mktemp("ddp")
    shutil.copytree(HPARAMS / "models", tmp_path / "models")  # its !include:models/...
    shutil.copytree(HPARAMS / "blocks", tmp_path / "blocks")  # and the blocks it merges
    text = (tmp_path / "blocks" / "run.yaml").read_text()  # the multi-GPU block
    for old, new in DECLARED.items():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    (tmp_path / "blocks" / "run.yaml").write_text(text)
    hparams = tmp_path / "lcnn_ddp.yaml"
    hparams.write_text((HPARAMS / "lcnn_inf_ini.yaml").read_text())
    output = tmp_path / "run"
    command = [
        *torchrun(), str(ROOT / "tests" / "ddp_worker.py"), str(tmp_path), str(hparams),
        f"--output_folder={output}", f"--number_of_epochs={EPOCHS}",
        f"--max_utterances_per_class={PER_CLASS}", "--train_seconds=1.0",
        "--eval_seconds=1.0", "--eval_batch_size=3", "--num_workers=0", "--noprogressbar",
        "--precision=fp32",
    ]
    process = subprocess.run(command, cwd=tmp_path, env=recipe_env(), capture_output=True,
                             text=True, timeout=900)
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in range(WORLD)]
    return ranks, output


def test_yaml_settings_global_batch_and_command_line_override(run):
    ranks, _ = run
    # Expected from the definitions alone: the global batch of 8 per optimiser step is
    # split over 2 processes and 2 accumulated passes; DistributedSampler gives each
    # process ceil(8 / 2) utterances per epoch.
    per_process = 8 // (WORLD * 2)
    batches_per_epoch = math.ceil(math.ceil(2 * PER_CLASS / WORLD) / per_process)
    steps = EPOCHS * (batches_per_epoch // 2)
    for rank in ranks:
        assert rank["world_size"] == WORLD
        assert rank["train_batches"] == [per_process] * (EPOCHS * batches_per_epoch)
        # Gradient accumulation (declared in the YAML): one optimiser step, one momentum
        # update and one bank insertion (of both passes of both ranks) per 2 batches.
        assert rank["optimizer_steps"] == {steps}
        assert rank["enqueued"] == [2 * per_process] * steps  # this rank's pending rows
        assert len(rank["bank"]) == steps * 2 * per_process * WORLD
        # The command line's --precision=fp32 beats the YAML's bf16 for training; the
        # YAML's eval_precision (bf16) is the one evaluation ran under.
        assert set(rank["train_autocast"]) == {None}
        assert set(rank["eval_autocast"]) == {"bfloat16"}


def test_ranks_share_bank_and_momentum_encoder_but_draw_different_bands(run):
    first, second = run[0]
    assert torch.equal(first["bank"], second["bank"])
    assert torch.equal(first["bank_labels"], second["bank_labels"])
    assert sorted(first["bank_labels"].tolist()) == [0] * 8 + [1] * 8
    for name in ("momentum", "detector"):
        assert first[name].keys() == second[name].keys()
        for key, value in first[name].items():
            if isinstance(value, torch.Tensor):
                assert torch.equal(value, second[name][key]), (name, key)
            else:  # the hook-saved state of the momentum encoder (none for LCNN)
                assert value == second[name][key] == {"hooked": {}}, (name, key)
    # Each rank masked its own utterances (4 per epoch) with its own bands.
    assert first["bands"].numel() == second["bands"].numel() == EPOCHS * 4
    assert not set(first["bands"].tolist()) & set(second["bands"].tolist())
    # Dev scores are gathered from both ranks: every rank holds all 8 trials.
    assert first["dev_scores"] == second["dev_scores"]
    assert len(first["dev_scores"]) == 2 * PER_CLASS


def test_files_are_written_once_by_the_main_process(run):
    _, output = run
    results = json.loads((output / "results.json").read_text())
    assert results["dev"]["bonafide"] == results["dev"]["spoof"] == PER_CLASS
    assert len(read_score_file(output / "scores" / "2019LA_eval.txt")) == 2 * PER_CLASS
    epochs = [x for x in (output / "train_log.txt").read_text().splitlines() if "epoch:" in x]
    assert len(epochs) == EPOCHS  # logged by rank 0 only
    assert "Run settings:" in (output / "log.txt").read_text()
