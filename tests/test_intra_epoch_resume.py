"""Exact resumption from an intra-epoch checkpoint (SpeechBrain's ``ckpt_interval_steps``).

A DataLoader draws its workers' base seed when an epoch's iterator is made; drawn from the
global generator after a resume had restored it, it shifted every later crop and mask.
"""

import signal
import subprocess
import time

import pytest
import torch
import yaml
from recipe_utils import latest_checkpoint, load_state, recipe_env, run_train, train_command

from speechbrain_ssdctx.training.brain import COMPLETE_MARKER

pytestmark = pytest.mark.slow  # recipe runs

# 6 training utterances in batches of 2: 3 steps an epoch, a checkpoint after each (the
# run is killed after the first: two steps of epoch 1 and all of epoch 2 run resumed).
SCHEDULE = ["--number_of_epochs=2", "--max_utterances_per_class=3", "--batch_size=2",
            "--ckpt_interval_steps=1"]


def intra_epoch_checkpoints(output):
    """Complete intra-epoch checkpoints of epoch 1 (the counter still at 0)."""
    found = []
    for marker in (output / "save").glob(f"CKPT+*/{COMPLETE_MARKER}"):
        folder = marker.parent
        meta = yaml.safe_load((folder / "CKPT.yaml").read_text())
        if meta.get("brain_intra_epoch_ckpt") and (folder / "counter.ckpt").read_text() == "1":
            found.append(folder)
    return found


def tensors(state, prefix=""):
    """The tensors of a (nested) state dict, by dotted name."""
    found = {}
    for key, value in state.items():
        if isinstance(value, dict):
            found.update(tensors(value, f"{prefix}{key}."))
        elif isinstance(value, torch.Tensor):
            found[f"{prefix}{key}"] = value
    return found


def largest_difference(first, second):
    """The largest absolute difference (NaN where both are NaN counts as equal)."""
    first, second = first.double(), second.double()
    difference = (first - second).abs()
    return float(difference.masked_fill(first.isnan() & second.isnan(), 0).max())


def start_and_kill_mid_epoch(output, timeout=300):
    output.mkdir(parents=True)
    process = subprocess.Popen(
        train_command("lcnn_inf_ini.yaml", output, *SCHEDULE), cwd=output.parent,
        env=recipe_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + timeout
    try:
        while not intra_epoch_checkpoints(output):
            assert process.poll() is None, "the run ended before an intra-epoch checkpoint"
            assert time.time() < deadline, "no intra-epoch checkpoint within the timeout"
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL


def test_run_killed_mid_epoch_resumes_bit_identical(tmp_path):
    reference = tmp_path / "uninterrupted"
    run_train("lcnn_inf_ini.yaml", reference, *SCHEDULE)

    resumed = tmp_path / "resumed"
    start_and_kill_mid_epoch(resumed)
    assert not (resumed / "results.json").exists()
    process = run_train("lcnn_inf_ini.yaml", resumed, *SCHEDULE)
    log = process.stdout + process.stderr
    assert "Loading a checkpoint from" in log

    first, second = latest_checkpoint(reference), latest_checkpoint(resumed)
    for name in ("detector", "context"):
        state_a = tensors(load_state(first / f"{name}.ckpt"))
        state_b = tensors(load_state(second / f"{name}.ckpt"))
        assert state_a.keys() == state_b.keys()
        worst = max((largest_difference(state_a[key], state_b[key]), key) for key in state_a)
        assert worst[0] == 0.0, (name, worst)
    assert (reference / "scores" / "dev.txt").read_text() == (
        resumed / "scores" / "dev.txt"
    ).read_text()
