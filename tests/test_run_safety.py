"""Runs that cannot mix: one training per output folder, a training set with both classes."""

import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest
from speechbrain.dataio.dataset import DynamicItemDataset

from speechbrain_ssdctx.data.preparation import ProtocolError
from speechbrain_ssdctx.training.experiment import training_set_warnings
from speechbrain_ssdctx.training.run_lock import LOCK_FILE, RunLock, RunLockedError
from speechbrain_ssdctx.training.startup import start_recipe

LCNN = "hparams/lcnn_inf_ini.yaml"


def hold_lock(folder):
    """Another process that takes the folder's lock and keeps it."""
    code = (
        "import sys, time\n"
        "from speechbrain_ssdctx.training.run_lock import RunLock\n"
        f"RunLock({str(folder)!r}).acquire()\n"
        "print('locked', flush=True)\n"
        "time.sleep(120)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert process.stdout.readline().strip() == "locked"
    return process


def test_a_second_run_in_the_same_folder_is_refused_with_the_first_ones_pid(tmp_path):
    first = hold_lock(tmp_path)
    try:
        with pytest.raises(RunLockedError, match=f"pid {first.pid}"):
            start_recipe([LCNN, f"--output_folder={tmp_path}"])
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    # The dead run's lock file is still there, unlocked: taken over.
    assert (tmp_path / LOCK_FILE).read_text().strip() == str(first.pid)
    start = start_recipe([LCNN, f"--output_folder={tmp_path}"])
    assert (tmp_path / LOCK_FILE).read_text().strip() == str(os.getpid())
    assert start.lock is not None


def test_the_lock_is_held_until_released(tmp_path):
    lock = RunLock(tmp_path / "run").acquire()
    code = (f"from speechbrain_ssdctx.training.run_lock import RunLock\n"
            f"RunLock({str(tmp_path / 'run')!r}).acquire()")
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    refused = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env=env)
    assert refused.returncode == 1 and f"pid {os.getpid()}" in refused.stderr
    lock.release()
    time.sleep(0.01)
    assert subprocess.run([sys.executable, "-c", code], env=env).returncode == 0


def dataset(labels):
    return DynamicItemDataset(
        {f"u{index}": {"label_id": label} for index, label in enumerate(labels)},
        output_keys=["id"],
    )


def test_a_training_set_with_one_class_is_refused_or_warned_about():
    assert training_set_warnings(dataset([1, 0, 1]), {}) == []
    with pytest.raises(ProtocolError, match=r"one class only \(28 bona fide, 0 spoof\)"):
        training_set_warnings(dataset([1] * 28), {})
    with pytest.raises(ProtocolError, match=r"one class only \(0 bona fide, 3 spoof\)"):
        training_set_warnings(dataset([0] * 3), {"bonafide_index": 1})
    (warning,) = training_set_warnings(dataset([1] * 28), {"allow_single_class": True})
    assert "28 bona fide, 0 spoof" in warning


def test_an_empty_training_set_is_refused():
    with pytest.raises(ProtocolError, match="training set is empty"):
        empty = dataset([1]).filtered_sorted(key_test={"id": lambda utt: False})
        training_set_warnings(empty, {"allow_single_class": True})


def test_a_full_disk_while_saving_a_checkpoint_is_one_line(tmp_path, monkeypatch):
    """torch's zip writer fails with a RuntimeError when the disk fills up; with the disk
    full that becomes one DiskFullError line in the recipe, and the cut-short checkpoint
    has no COMPLETE marker (it is set aside on resume)."""
    import collections
    import contextlib
    import io
    import shutil

    import torch

    from speechbrain_ssdctx.training.checkpoints import SafeCheckpointer
    from speechbrain_ssdctx.training.startup import UserErrors

    def failing_save(obj, path):
        pathlib.Path(path).write_bytes(b"cut short")
        raise RuntimeError("basic_ios::clear: iostream error")

    module = torch.nn.Linear(2, 2)
    checkpointer = SafeCheckpointer(tmp_path / "save", {"model": module},
                                    custom_save_hooks={"model": failing_save})
    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9, 0))
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), pytest.raises(SystemExit) as stop:
        with UserErrors("train.py"):
            checkpointer.save_checkpoint()
    assert stop.value.code == 1
    lines = stderr.getvalue().strip().splitlines()
    assert len(lines) == 1 and "is full (0 bytes free) while saving a checkpoint" in lines[0]
    assert not list((tmp_path / "save").glob("CKPT+*/COMPLETE"))
    # With space left, the same failure is a bug, not a full disk: it keeps its traceback.
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 0, 10**9))
    with pytest.raises(RuntimeError, match="iostream"):
        with UserErrors("train.py"):
            checkpointer.save_checkpoint()
