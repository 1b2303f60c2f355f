"""A recipe written like SpeechBrain's templates/speaker_id (its own Brain, Fbank, global
InputNormalization, its own x-vector, SpeechBrain's Classifier with AAM-softmax, an
Augmenter, its own Checkpointer), adapted to InF + InI: it trains on the demo corpus, is
killed and resumes bit-identically, exports, and loads through SpoofDetector (folder and
Hub id) and SpeechBrain's foreign_class with the training run's scores."""

import contextlib
import csv
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from hub_utils import fake_hub
from hyperpyyaml import load_hyperpyyaml
from speechbrain.dataio.dataio import read_audio
from speechbrain.inference.interfaces import foreign_class

from speechbrain_ssdctx.cli.export import main as export_main
from speechbrain_ssdctx.data import demo_corpus_folder, prepare_asvspoof2019_la
from speechbrain_ssdctx.data.asvspoof import read_manifest
from speechbrain_ssdctx.inference.spoof_detector import SpoofDetector
from speechbrain_ssdctx.inference.trust import UntrustedCodeError

RECIPE = Path(__file__).resolve().parent / "foreign_recipe"
ROOT = RECIPE.parents[1]
MARK = "# ssdctx"


def added_lines() -> list[str]:
    """The adaptation's lines (marked), in train.py and train.yaml."""
    return [line for name in ("train.py", "train.yaml")
            for line in (RECIPE / name).read_text().splitlines() if MARK in line]


def test_the_adaptation_is_at_most_30_lines_without_reshaping_glue():
    lines = added_lines()
    assert 0 < len(lines) <= 30
    glue = re.compile(r"\b(reshape|view|squeeze|unsqueeze|flatten|permute|transpose)\(|\[:, *0")
    assert not [line for line in lines if glue.search(line)]


def prepare(folder: Path, per_class: dict[str, int]) -> Path:
    """Manifests (ID, wav, label) of a balanced slice of the demo corpus, bona fide first
    (so the recipe's CategoricalEncoder maps bona fide to 0, the other polarity)."""
    manifests = prepare_asvspoof2019_la(demo_corpus_folder(), folder / "manifests")
    for split, name in (("train", "train"), ("dev", "valid"), ("eval", "test")):
        rows = read_manifest(manifests[split])
        keep = [row for label in ("bonafide", "spoof")
                for row in [r for r in rows if r["label"] == label][: per_class[name]]]
        with open(folder / f"{name}.csv", "w", newline="", encoding="utf-8") as stream:
            writer = csv.DictWriter(stream, fieldnames=["ID", "wav", "label"])
            writer.writeheader()
            writer.writerows({key: row[key] for key in ("ID", "wav", "label")} for row in keep)
    return folder


def command(data: Path, output: Path) -> list[str]:
    """Two epochs: killed in the second, the run resumes for it from the first's checkpoint."""
    return [sys.executable, str(RECIPE / "train.py"), str(RECIPE / "train.yaml"),
            f"--data_folder={data}", f"--output_folder={output}", "--number_of_epochs=2",
            "--noprogressbar"]


def environment() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def run(data: Path, output: Path) -> None:
    process = subprocess.run(command(data, output), cwd=output.parent, env=environment(),
                             capture_output=True, text=True, timeout=600)
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]


def latest(output: Path) -> Path:
    return max((output / "save").glob("CKPT+*"), key=lambda p: p.stat().st_mtime)


def run_killed_after_first_checkpoint(data: Path, output: Path) -> None:
    """SIGKILLs the recipe once it went into its second epoch (its first checkpoint is
    then complete: the recipe itself has no marker of a complete checkpoint)."""
    output.mkdir(parents=True)
    log = output.parent / "killed_run.log"
    with open(log, "w") as stream:
        process = subprocess.Popen(command(data, output), cwd=output.parent,
                                   env=environment(), stdout=stream, stderr=stream)
    deadline = time.time() + 300
    try:
        while "Going into epoch 2" not in log.read_text():
            assert process.poll() is None, "the run ended before its second epoch"
            assert time.time() < deadline, "no second epoch within the timeout"
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL, "the run finished before it was killed"


def assert_equal(first, second, where: str) -> None:
    if isinstance(first, torch.Tensor):  # bit for bit (NaN where NaN: unused gauss state)
        assert torch.equal(first.isnan(), second.isnan()), where
        assert torch.equal(first.nan_to_num(), second.nan_to_num()), where
    elif isinstance(first, dict):
        assert first.keys() == second.keys(), where
        for key in first:
            assert_equal(first[key], second[key], f"{where}[{key}]")
    elif isinstance(first, list | tuple):
        assert len(first) == len(second), where
        for index, (a, b) in enumerate(zip(first, second, strict=True)):
            assert_equal(a, b, f"{where}[{index}]")
    else:
        assert first == second, where


def read_checkpoint_file(path: Path):
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # the counter and the Brain's state are text
        return path.read_bytes()


@contextlib.contextmanager
def recipe_importable():
    sys.path.insert(0, str(RECIPE))
    try:
        yield
    finally:
        sys.path.remove(str(RECIPE))


def training_run_scores(output: Path, wavs: dict[str, str]) -> dict[str, float]:
    """The scores of the recipe's own evaluation path (compute_features -> mean_var_norm ->
    embedding_model -> classifier on the whole file), with the checkpoint it tests (lowest
    dev error), bona fide minus spoof output in its label encoding."""
    encoding = dict(re.findall(r"'(\w+)' => (\d+)", (output / "save" / "label_encoder.txt")
                               .read_text()))
    bonafide = int(encoding["bonafide"])
    with recipe_importable(), open(output / "hyperparams.yaml") as stream:
        hparams = load_hyperpyyaml(stream)
    hparams["checkpointer"].recover_if_possible(min_key="error")
    modules = [hparams[k] for k in ("compute_features", "mean_var_norm", "embedding_model",
                                    "classifier")]
    for module in modules:
        module.eval()
    scores = {}
    with torch.no_grad():
        for utt_id, path in wavs.items():
            wav, lens = read_audio(path).unsqueeze(0), torch.ones(1)
            feats = hparams["mean_var_norm"](hparams["compute_features"](wav), lens)
            out = hparams["classifier"](hparams["embedding_model"](feats, lens))
            scores[utt_id] = float(out[0, 0, bonafide] - out[0, 0, 1 - bonafide])
    return scores


@pytest.mark.slow
def test_foreign_recipe_resumes_exports_and_loads(tmp_path, monkeypatch):
    data = prepare(tmp_path / "data", {"train": 4, "valid": 2, "test": 2})
    reference = tmp_path / "uninterrupted"
    run(data, reference)
    files = {p.name for p in latest(reference).iterdir()}
    assert {"normalizer.ckpt", "context.ckpt", "optimizer.ckpt"} <= files

    resumed = tmp_path / "resumed"
    run_killed_after_first_checkpoint(data, resumed)
    run(data, resumed)
    log = (resumed / "train_log.txt").read_text()
    assert log.count("Epoch: 1,") == 1 and "Epoch: 2," in log  # resumed, not restarted
    for name in sorted(files - {"CKPT.yaml"}):
        assert_equal(read_checkpoint_file(latest(reference) / name),
                     read_checkpoint_file(latest(resumed) / name), name)

    exported = tmp_path / "exported"
    assert export_main([
        "--hparams", str(reference / "hyperparams.yaml"), "--checkpoints",
        str(reference / "save"), "--min-key", "error",
        "--python-module", str(RECIPE / "custom_model.py"),
        "--label-encoder", str(reference / "save" / "label_encoder.txt"),
        "--dataset", "speechbrain-ssdctx-demo", "--repo-id", "my-org/xvector-inf-ini",
        "--training-data", "the speechbrain-ssdctx demo corpus", str(exported),
    ]) == 0
    wavs = {row["ID"]: row["wav"] for row in read_manifest(data / "test.csv")}
    expected = training_run_scores(reference, wavs)
    # the export ships the recipe's own module: loading it is an opt-in (issue 23)
    with pytest.raises(UntrustedCodeError, match="custom_interface.py, which runs"):
        SpoofDetector.from_hparams(exported)
    detector = SpoofDetector.from_hparams(exported, trust_remote_code=True)
    interface = foreign_class(source=str(exported), pymodule_file="custom_interface.py",
                              classname="SpoofDetector", savedir=tmp_path / "foreign")
    fake_hub(monkeypatch, exported, "my-org/xvector-inf-ini", tmp_path / "cache")
    from_hub = SpoofDetector.from_hparams("my-org/xvector-inf-ini", trust_remote_code=True)
    for utt_id, path in wavs.items():
        for model in (detector, interface, from_hub):
            assert model.score_file(path) == pytest.approx(expected[utt_id], abs=1e-4)
    # The scores are not trivially equal (a constant detector would pass the above).
    assert max(expected.values()) - min(expected.values()) > 1e-3
    assert detector.hparams.bonafide_index == 0  # the recipe's encoder: bona fide = 0
