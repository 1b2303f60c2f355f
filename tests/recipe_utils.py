"""Helpers for the recipe tests: run ``recipes/train.py`` on a slice of the demo corpus."""

import os
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
HPARAMS = ROOT / "hparams"

# A balanced slice of the demo corpus with 1-second inputs: seconds per run, not minutes.
QUICK = [
    "--number_of_epochs=1",
    "--max_utterances_per_class=3",
    "--train_seconds=1.0",
    "--eval_seconds=1.0",
    "--batch_size=4",
    "--eval_batch_size=6",
    "--num_workers=0",
    "--noprogressbar",
    "--demo_schedule=null",  # the YAML's settings, not the bare command's demo schedule
]


def recipe_env() -> dict:
    """The environment of a recipe subprocess: this checkout importable, one thread."""
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def train_command(hparams: str, output: Path, *overrides: str, launcher=None) -> list[str]:
    """The command line of a quick training run of ``hparams/<hparams>``."""
    launcher = launcher or [sys.executable]
    options = {}
    for option in [f"--output_folder={output}", *QUICK, *overrides]:  # later ones win
        options[option.split("=")[0]] = option
    return [*launcher, str(ROOT / "recipes" / "train.py"), str(HPARAMS / hparams),
            *options.values()]


def run_train(hparams: str, output: Path, *overrides: str, launcher=None, timeout=600):
    """Runs a quick training to the end and returns the completed process (checked)."""
    process = subprocess.run(
        train_command(hparams, output, *overrides, launcher=launcher),
        cwd=output.parent,
        env=recipe_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]
    return process


def latest_checkpoint(output: Path) -> Path:
    """The most recent checkpoint folder of a run (by the time in its CKPTINFO)."""
    from speechbrain.utils.checkpoints import Checkpointer

    return Checkpointer(output / "save").find_checkpoint().path


def load_state(path: Path) -> dict:
    """A saved module state (weights only)."""
    return torch.load(path, map_location="cpu", weights_only=True)
