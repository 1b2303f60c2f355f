"""Checkpoint recovery: damaged checkpoints set aside, other models refused, no code unpickled."""

import logging
import os
from pathlib import Path

import pytest
import torch
import yaml
from hyperpyyaml import load_hyperpyyaml
from recipe_utils import HPARAMS
from speechbrain.processing.features import InputNormalization
from speechbrain.utils.checkpoints import Checkpointer
from speechbrain.utils.epoch_loop import EpochCounter

from speechbrain_ssdctx.training.brain import DetectorBrain
from speechbrain_ssdctx.training.checkpoints import (
    CheckpointMismatchError,
    DamagedCheckpointError,
    SafeCheckpointer,
    UnsafeCheckpointError,
    recover_safely,
    write_complete_marker,
)
from speechbrain_ssdctx.utils.hparams_blocks import open_hparams


def make_run(folder: Path, seed: int = 0):
    """The recoverables of a training run: detector, optimiser, scheduler, epoch counter."""
    torch.manual_seed(seed)
    detector = torch.nn.Linear(4, 2)
    optimizer = torch.optim.Adam(detector.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=10, gamma=0.5)
    counter = EpochCounter(10)
    checkpointer = Checkpointer(folder, {
        "detector": detector, "optimizer": optimizer, "lr_scheduler": scheduler,
        "counter": counter,
    })
    return checkpointer, detector, counter


def save_epochs(folder: Path, epochs: int) -> list[Path]:
    """Saves one complete checkpoint per epoch (different weights each time)."""
    checkpointer, detector, counter = make_run(folder)
    paths = []
    for epoch in range(1, epochs + 1):
        counter.current = epoch
        with torch.no_grad():
            detector.weight.fill_(float(epoch))
        path = checkpointer.save_checkpoint(meta={"unixtime_order": epoch}).path
        write_complete_marker(path)
        paths.append(path)
    return paths


def damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    third = len(data) // 3
    path.write_bytes({"truncate": data[: len(data) // 2], "empty": b"",
                      "garble": data[:third] + b"x" * third + data[2 * third:]}[how])


DAMAGES = {
    "truncated detector.ckpt": ("detector.ckpt", "truncate"),
    "empty counter.ckpt": ("counter.ckpt", "empty"),
    "cut CKPT.yaml": ("CKPT.yaml", "truncate"),
    "garbled lr_scheduler.ckpt": ("lr_scheduler.ckpt", "garble"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(DAMAGES))
def test_damaged_latest_checkpoint_is_set_aside_and_the_previous_used(tmp_path, case, caplog):
    first, latest = save_epochs(tmp_path, 2)
    name, how = DAMAGES[case]
    damage(latest / name, how)
    checkpointer, detector, counter = make_run(tmp_path, seed=1)
    with caplog.at_level(logging.WARNING):
        loaded = recover_safely(checkpointer)
    assert loaded.path == first
    assert counter.current == 1 and torch.all(detector.weight == 1.0)
    assert not latest.exists() and (tmp_path / f"damaged-{latest.name}").is_dir()
    warning = " ".join(r.getMessage() for r in caplog.records)
    assert f"{latest}/{name}" in warning and "damaged" in warning


@pytest.mark.slow
def test_damage_found_while_loading_without_size_record(tmp_path, caplog):
    # An older run's marker records no sizes: the bad counter is found by its loader, after
    # the detector was loaded; the previous checkpoint then replaces everything.
    first, latest = save_epochs(tmp_path, 2)
    (latest / "COMPLETE").write_text("")
    (latest / "counter.ckpt").write_text("x")
    checkpointer, detector, counter = make_run(tmp_path, seed=1)
    with caplog.at_level(logging.WARNING):
        assert recover_safely(checkpointer).path == first
    assert counter.current == 1 and torch.all(detector.weight == 1.0)
    assert "counter.ckpt is damaged: invalid literal for int()" in caplog.text

    # With nothing left to fall back on, the partly loaded run stops instead of training on.
    (first / "COMPLETE").write_text("")
    (first / "counter.ckpt").write_text("y")
    with pytest.raises(DamagedCheckpointError, match="run the same command again"):
        recover_safely(make_run(tmp_path)[0])
    assert recover_safely(make_run(tmp_path)[0]) is None  # ... which then starts afresh


class Payload:
    """Unpickling it creates a file: evidence that code ran."""

    def __init__(self, evidence: Path):
        self.evidence = evidence

    def __reduce__(self):
        return (open, (str(self.evidence), "w"))


@pytest.mark.parametrize("name", ["lr_scheduler", "normalize"])
def test_poisoned_checkpoint_never_runs_code(tmp_path, monkeypatch, name):
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")  # torch < 2.6 behaviour
    evidence = tmp_path / "evidence"

    def checkpointer_with_normalize():
        checkpointer, _, _ = make_run(tmp_path / "save")
        checkpointer.add_recoverable("normalize", InputNormalization())  # its own loader
        return checkpointer

    path = checkpointer_with_normalize().save_checkpoint().path
    write_complete_marker(path)
    torch.save({"state": Payload(evidence)}, path / f"{name}.ckpt")
    write_complete_marker(path)

    # Reproduction: SpeechBrain's own recovery runs the payload (then may fail on it).
    try:
        checkpointer_with_normalize().recover_if_possible()
    except KeyError:
        pass
    assert evidence.exists()
    evidence.unlink()

    with pytest.raises(UnsafeCheckpointError, match=f"{name}.ckpt holds Python objects"):
        recover_safely(checkpointer_with_normalize())
    assert not evidence.exists()
    assert "TORCH_FORCE_WEIGHTS_ONLY_LOAD" not in os.environ  # the guard is lifted after


def lcnn_brain(output: Path, n_mels: int) -> DetectorBrain:
    hparams = load_hyperpyyaml(open_hparams(HPARAMS / "lcnn_inf_ini.yaml"),
                               {"output_folder": str(output), "n_mels": n_mels})
    return DetectorBrain(
        modules=hparams["modules"], opt_class=hparams["opt_class"], hparams=hparams,
        run_opts={"noprogressbar": True}, checkpointer=hparams["checkpointer"],
    )


@pytest.mark.slow
def test_checkpoint_of_another_model_size_is_refused_naming_the_hparam(tmp_path):
    brain = lcnn_brain(tmp_path, n_mels=32)
    brain.on_fit_start()
    brain.checkpointer.save_and_keep_only(meta={"EER": 10.0}, min_keys=["EER"])
    saved = yaml.safe_load(next(tmp_path.glob("save/CKPT+*/CKPT.yaml")).read_text())
    assert saved["hparams"]["n_mels"] == 32

    resumed = lcnn_brain(tmp_path, n_mels=24)
    with pytest.raises(CheckpointMismatchError) as error:
        resumed.on_fit_start()
    message = str(error.value)
    assert "\n" not in message
    assert "n_mels=32 there, 24 here" in message
    assert "detector.ckpt does not fit this model" in message
    assert "another output_folder" in message
    assert list(tmp_path.glob("save/CKPT+*"))  # refused, not set aside

    same = lcnn_brain(tmp_path, n_mels=32)
    same.on_fit_start()  # the same settings resume
    (ckpt,) = tmp_path.glob("save/CKPT+*/detector.ckpt")
    expected = torch.load(ckpt, weights_only=True)
    for key, value in same.modules.detector.state_dict().items():
        assert torch.equal(value, expected[key]), key
    with pytest.raises(CheckpointMismatchError, match="n_mels=32 there, 24 here"):
        lcnn_brain(tmp_path, n_mels=24).on_evaluate_start(min_key="EER")


def test_safe_checkpointer_over_a_plain_one_saves_markers_and_recovers_safely(tmp_path):
    plain, detector, counter = make_run(tmp_path)
    safe = SafeCheckpointer.of(plain)
    assert SafeCheckpointer.of(safe) is safe and SafeCheckpointer.of(None) is None
    extra = torch.nn.Linear(1, 1)
    plain.add_recoverable("extra", extra)  # added to the plain one: reaches the safe one
    safe.run_hparams = {"n_mels": 64}
    saved = []  # the best checkpoint after each epoch
    for epoch in (1, 2):
        counter.current = epoch
        with torch.no_grad():
            detector.weight.fill_(float(epoch))
        safe.save_and_keep_only(meta={"EER": 3.0 - epoch}, min_keys=["EER"], num_to_keep=2)
        saved.append(safe.find_checkpoint(min_key="EER").path)
    paths = sorted(tmp_path.glob("CKPT+*"))
    assert len(paths) == 2 and all((p / "COMPLETE").is_file() for p in paths)
    assert all((p / "extra.ckpt").is_file() for p in paths)
    assert all(yaml.safe_load((p / "CKPT.yaml").read_text())["hparams"] == {"n_mels": 64}
               for p in paths)
    latest = saved[1]
    damage(latest / "detector.ckpt", "truncate")  # the best (lowest EER) checkpoint

    checkpointer, detector, counter = make_run(tmp_path, seed=1)
    loaded = SafeCheckpointer.of(checkpointer).recover_if_possible(min_key="EER")
    assert loaded is not None and loaded.path != latest
    assert counter.current == 1 and torch.all(detector.weight == 1.0)
    assert (tmp_path / f"damaged-{latest.name}").is_dir()
