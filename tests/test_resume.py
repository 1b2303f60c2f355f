"""Exact resumption: a run killed with SIGKILL and restarted ends bit-identical."""

import shutil
import signal
import subprocess
import time

import pytest
import torch
import yaml
from recipe_utils import latest_checkpoint, load_state, recipe_env, run_train, train_command

from speechbrain_ssdctx.training.brain import COMPLETE_MARKER

pytestmark = pytest.mark.slow  # recipe, DDP or end-to-end runs

SCHEDULE = ["--number_of_epochs=2"]  # killed after epoch 1, resumed for epoch 2


def start_and_kill_after_first_checkpoint(output, timeout=300):
    """Starts a run, SIGKILLs it once its first end-of-epoch checkpoint is complete."""
    output.mkdir(parents=True)
    process = subprocess.Popen(
        train_command("lcnn_inf_ini.yaml", output, *SCHEDULE),
        cwd=output.parent, env=recipe_env(),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + timeout
    try:
        while not any((output / "save").glob(f"CKPT+*/{COMPLETE_MARKER}")):
            assert process.poll() is None, "the run ended before writing a checkpoint"
            assert time.time() < deadline, "no checkpoint within the timeout"
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL


def fake_half_written_checkpoint(output):
    """A newer checkpoint killed mid-save: no marker and a truncated detector file."""
    (complete,) = (output / "save").glob("CKPT+*")
    partial = complete.with_name("CKPT+2999-01-01+00-00-00+00")
    shutil.copytree(complete, partial)
    (partial / COMPLETE_MARKER).unlink()
    meta = yaml.safe_load((partial / "CKPT.yaml").read_text())
    (partial / "CKPT.yaml").write_text(yaml.dump({**meta, "unixtime": time.time() + 1e6}))
    data = (partial / "detector.ckpt").read_bytes()
    (partial / "detector.ckpt").write_bytes(data[: len(data) // 2])
    return partial


def assert_same_state(first: dict, second: dict):
    assert first.keys() == second.keys()
    for key in first:
        if isinstance(first[key], torch.Tensor):
            assert torch.equal(first[key], second[key]), key


def test_killed_run_resumes_bit_identical(tmp_path):
    reference = tmp_path / "uninterrupted"
    run_train("lcnn_inf_ini.yaml", reference, *SCHEDULE)

    resumed = tmp_path / "resumed"
    start_and_kill_after_first_checkpoint(resumed)
    half_written = fake_half_written_checkpoint(resumed)
    process = run_train("lcnn_inf_ini.yaml", resumed, *SCHEDULE)
    log = process.stdout + process.stderr
    assert f"Checkpoint {half_written} is incomplete" in log
    assert "Loading a checkpoint from" in log
    assert "Going into epoch 1" not in log  # it resumed, it did not start over

    first, second = latest_checkpoint(reference), latest_checkpoint(resumed)
    # Detector, momentum encoder, memory bank (and masking generator), optimiser,
    # scheduler: all equal bit for bit.
    for name in ("detector", "context", "optimizer", "lr_scheduler", "counter"):
        path_a, path_b = first / f"{name}.ckpt", second / f"{name}.ckpt"
        if name == "counter":
            assert path_a.read_text() == path_b.read_text() == "2"
            continue
        state_a, state_b = load_state(path_a), load_state(path_b)
        if name == "optimizer":
            state_a, state_b = state_a["state"], state_b["state"]
            for index in state_a:
                assert_same_state(state_a[index], state_b[index])
        else:
            assert_same_state(state_a, state_b)
    assert (reference / "scores" / "dev.txt").read_text() == (
        resumed / "scores" / "dev.txt"
    ).read_text()
