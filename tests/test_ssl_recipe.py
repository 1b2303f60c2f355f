"""The SSL recipes end to end on the demo corpus with tiny SSL models, all offline: train
(RawBoost in the data pipeline + InF + InI), SIGKILL and resume bit for bit, export, then score with
``ssdctx-score`` after the SSL model's folder is gone."""

import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch

pytest.importorskip("transformers")

from recipe_utils import (  # noqa: E402
    latest_checkpoint,
    load_state,
    recipe_env,
    run_train,
    train_command,
)
from ssl_utils import build_tiny_ssl_model  # noqa: E402

from speechbrain_ssdctx.data import demo_corpus_folder  # noqa: E402
from speechbrain_ssdctx.inference.hub import export_model  # noqa: E402
from speechbrain_ssdctx.training.brain import COMPLETE_MARKER  # noqa: E402

pytestmark = pytest.mark.slow

SCHEDULE = ["--number_of_epochs=2", "--eval_window=first", "--max_utterances_per_class=2"]


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """Subprocesses inherit os.environ through recipe_env: nothing may be downloaded."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


def start_and_kill_after_first_checkpoint(command, output, timeout=600):
    output.mkdir(parents=True)
    process = subprocess.Popen(command, cwd=output.parent, env=recipe_env(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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


def assert_same_tensors(first, second, where):
    if isinstance(first, dict):
        assert first.keys() == second.keys(), where
        for key in first:
            assert_same_tensors(first[key], second[key], f"{where}[{key}]")
    elif isinstance(first, torch.Tensor):  # bit for bit (NaN: an unset Gaussian cache)
        torch.testing.assert_close(first, second, rtol=0, atol=0, equal_nan=True, msg=where)


def read_scores(path):
    return {line.split()[0]: float(line.split()[1]) for line in path.read_text().splitlines()}


def test_ssl_aasist_trains_resumes_exports_and_scores_offline(tmp_path):
    ssl_folder = build_tiny_ssl_model(tmp_path / "tiny_wav2vec2")
    overrides = [*SCHEDULE, f"--ssl_hub={ssl_folder}"]
    reference = tmp_path / "uninterrupted"
    run_train("ssl_aasist_inf_ini.yaml", reference, *overrides)
    # RawBoost on, in the training set's pipeline (seeded per utterance: no generator state)
    assert "\nrawboost: true\n" in (reference / "hyperparams.yaml").read_text().lower()
    epochs = [x for x in (reference / "train_log.txt").read_text().splitlines() if "epoch:" in x]
    for part in ("cls", "cls_masked", "inf", "ini"):  # InF and InI both on
        assert f"train {part}:" in epochs[-1]

    resumed = tmp_path / "resumed"
    start_and_kill_after_first_checkpoint(
        train_command("ssl_aasist_inf_ini.yaml", resumed, *overrides), resumed
    )
    process = run_train("ssl_aasist_inf_ini.yaml", resumed, *overrides)
    log = process.stdout + process.stderr
    assert "Loading a checkpoint from" in log and "Going into epoch 1" not in log

    first, second = latest_checkpoint(reference), latest_checkpoint(resumed)
    for name in ("detector", "context", "optimizer", "rng"):
        state_a, state_b = load_state(first / f"{name}.ckpt"), load_state(second / f"{name}.ckpt")
        if name == "rng":  # the masking's generators, global generators
            state_a, state_b = state_a[0], state_b[0]
        assert_same_tensors(state_a, state_b, name)
    assert (reference / "scores" / "dev.txt").read_text() == (
        resumed / "scores" / "dev.txt"
    ).read_text()

    exported = export_model(reference, tmp_path / "exported")
    shutil.rmtree(ssl_folder)  # the export must not need the SSL model's folder
    hyperparams = (exported / "hyperparams.yaml").read_text()
    assert str(ssl_folder) not in hyperparams and "model_type: wav2vec2" in hyperparams
    eval_flac = demo_corpus_folder() / "ASVspoof2019_LA_eval" / "flac"
    expected = read_scores(reference / "scores" / "2019LA_eval.txt")
    files = [str(eval_flac / f"{utt}.flac") for utt in sorted(expected)]
    out = tmp_path / "scores.txt"
    scoring = subprocess.run(
        [sys.executable, "-m", "speechbrain_ssdctx.cli.score", "--model", str(exported),
         *files, "--out", str(out), "--no-progress"],
        cwd=tmp_path, env=recipe_env(), capture_output=True, text=True,
    )
    assert scoring.returncode == 0, scoring.stderr[-3000:]
    scored = read_scores(out)
    assert scored.keys() == expected.keys()
    for utt, score in expected.items():
        assert scored[utt] == pytest.approx(score, abs=1e-4), utt


def test_ssl_layers_with_frozen_wavlm_keeps_one_copy_of_the_ssl_model(tmp_path):
    ssl_folder = build_tiny_ssl_model(tmp_path / "tiny_wavlm", model_type="wavlm")
    output = tmp_path / "run"
    run_train(
        "ssl_layers_inf_ini.yaml", output, "--number_of_epochs=1", f"--ssl_hub={ssl_folder}",
        "--freeze_ssl=True", "--layer_selection=sls", "--rawboost_algorithm=3",
    )
    checkpoint = latest_checkpoint(output)
    context = load_state(checkpoint / "context.ckpt")
    detector = load_state(checkpoint / "detector.ckpt")
    # The momentum encoder holds the head only; the frozen WavLM is saved once.
    prefix = "momentum_encoder.module."
    momentum = {k[len(prefix):] for k in context if k.startswith(prefix)}
    assert momentum == {k for k in detector if k.startswith("head.")}
    assert any(k.startswith("ssl.lobe.model.") for k in detector)
    reference = build_tiny_ssl_model(tmp_path / "again", model_type="wavlm")
    from safetensors.torch import load_file

    pretrained = load_file(str(reference / "model.safetensors"))
    for key, value in pretrained.items():  # frozen: still the pretrained weights
        assert torch.equal(detector[f"ssl.lobe.model.{key}"], value), key
    assert (output / "results.md").is_file()
