"""Pipes, FIFOs, process substitutions and stdin as inputs; interrupted batch scoring."""

import io
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from speechbrain_ssdctx.cli import evaluate as eval_cli
from speechbrain_ssdctx.data.audio_files import find_audio
from speechbrain_ssdctx.evaluation.evaluate import read_key
from speechbrain_ssdctx.evaluation.scores import read_score_file

ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
# Bona fide 0.5, 2, 3, 4 and spoof 1, -1, -2, -3: at any threshold in (0.5, 1) one of the
# four of each side is wrong, so the EER is 25 %.
SCORES = "".join(f"u{i} {s}\n" for i, s in enumerate([0.5, 2, 3, 4, 1, -1, -2, -3]))
KEY = "".join(f"spk u{i} - {'-' if i < 4 else 'A07'} {'bonafide' if i < 4 else 'spoof'}\n"
              for i in range(8))


def env() -> dict:
    return {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{TESTS}", "OMP_NUM_THREADS": "1"}


def eval_json(capsys, *argv) -> dict:
    import json

    assert eval_cli.main([*map(str, argv), "--json"]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def stdin_of(monkeypatch, text: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode())))


def test_eval_reads_scores_from_stdin(tmp_path, monkeypatch, capsys):
    (tmp_path / "key.txt").write_text(KEY)
    stdin_of(monkeypatch, SCORES)
    assert eval_json(capsys, "-", "--key", tmp_path / "key.txt")["eer"] == pytest.approx(25.0)


def test_eval_reads_the_key_from_stdin(tmp_path, monkeypatch, capsys):
    (tmp_path / "scores.txt").write_text(SCORES)
    stdin_of(monkeypatch, KEY)
    assert eval_json(capsys, tmp_path / "scores.txt", "--key", "-")["eer"] == pytest.approx(25.0)


def test_only_one_input_from_stdin(monkeypatch, capsys):
    stdin_of(monkeypatch, SCORES)
    assert eval_cli.main(["-", "--key", "-"]) == 1
    assert "only one input can be read from stdin" in capsys.readouterr().err


def fifo(tmp_path, name: str, text: str) -> Path:
    """A FIFO that a thread fills with ``text`` once (a second read would hang or be empty)."""
    path = tmp_path / name
    os.mkfifo(path)

    def write():
        with open(path, "w") as stream:
            stream.write(text)

    threading.Thread(target=write, daemon=True).start()
    return path


def test_fifo_score_file_and_key(tmp_path, capsys):
    report = eval_json(capsys, fifo(tmp_path, "s", SCORES), "--key", fifo(tmp_path, "k", KEY))
    assert report["eer"] == pytest.approx(25.0)


def test_fifo_csv_key_is_told_by_its_commas(tmp_path):
    rows, kind = read_key(fifo(tmp_path, "k", "path,label\na.wav,bonafide\nb.wav,spoof\n"))
    assert kind == "labelled" and [row["ID"] for row in rows] == ["a", "b"]


def test_fifo_audio_list(tmp_path):
    for name in ("a.wav", "b.flac"):
        soundfile.write(tmp_path / name, np.zeros(160, np.float32), 16000)
    listed = fifo(tmp_path, "list", f"{tmp_path / 'a.wav'}\n\n{tmp_path}\n")
    assert find_audio([listed]) == [str(tmp_path / "a.wav"), str(tmp_path / "a.wav"),
                                    str(tmp_path / "b.flac")]


def test_audio_through_a_pipe_is_refused_in_one_line(tmp_path):
    with pytest.raises(ValueError, match="a list of audio files, one per line"):
        find_audio([fifo(tmp_path, "audio", "RIFF\x00\x00WAVE")])


def test_process_substitution(tmp_path):
    (tmp_path / "s.txt").write_text(SCORES)
    (tmp_path / "k.txt").write_text(KEY)
    command = (f"{sys.executable} -m speechbrain_ssdctx.cli.evaluate <(cat s.txt) "
               "--key <(cat k.txt) --json")
    process = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env(),
                             capture_output=True, text=True, timeout=120)
    assert process.returncode == 0, process.stderr
    assert '"eer": 25.0' in process.stdout


@pytest.mark.slow
def test_600000_line_score_file_through_a_pipe(tmp_path):
    n = 600_000
    rng = np.random.default_rng(0)
    bonafide = rng.random(n) < 0.1
    values = np.where(bonafide, rng.normal(2, 1, n), rng.normal(-2, 1, n))
    ids = [f"DF_E_{i:07d}" for i in range(n)]
    lines = (f"{u} {v!r}\n" for u, v in zip(ids, values.tolist(), strict=True))
    (tmp_path / "s.txt").write_text("".join(lines))
    (tmp_path / "k.txt").write_text("".join(
        f"LA_0023 {u} mp3m4a asvspoof {'bonafide' if b else 'A14'} "
        f"{'bonafide' if b else 'spoof'} notrim eval traditional_vocoder - - -\n"
        for u, b in zip(ids, bonafide, strict=True)))
    # The EER by a direct sweep over thresholds (independent of the package).
    order = np.argsort(values, kind="stable")
    labels = bonafide[order]
    miss = np.cumsum(labels) / labels.sum()
    false_alarm = 1 - np.cumsum(~labels) / (~labels).sum()
    expected = 100 * np.min(np.maximum(miss, false_alarm))
    start = time.perf_counter()
    process = subprocess.run(
        ["bash", "-c", f"cat s.txt | {sys.executable} -m speechbrain_ssdctx.cli.evaluate - "
         "--key <(cat k.txt) --track DF --json"],
        cwd=tmp_path, env=env(), capture_output=True, text=True, timeout=300,
    )
    seconds = time.perf_counter() - start
    assert process.returncode == 0, process.stderr
    import json

    report = json.loads(process.stdout)
    assert report["eer"] == pytest.approx(expected, abs=100 / n * 2)
    print(f"600,000 scores and a 600,000-line key through pipes: {seconds:.1f} s")


@pytest.fixture
def slow_batch(tmp_path):
    """A model folder whose detector takes 50 ms per file, and 60 audio files."""
    from tiny_detector import model_folder

    model = model_folder(tmp_path / "model")
    yaml = model / "hyperparams.yaml"
    yaml.write_text(yaml.read_text().replace("EnergyDetector", "SlowEnergyDetector"))
    audio = tmp_path / "audio"
    audio.mkdir()
    rng = np.random.default_rng(0)
    for i in range(60):
        soundfile.write(audio / f"f{i:02d}.wav", (0.05 + 0.5 * rng.random(1600)).astype(
            np.float32), 16000, subtype="FLOAT")
    return model, audio


def expected_score(path) -> float:
    """Logit difference of ``EnergyDetector``: 2 log mean |x| (computed directly)."""
    wav, _ = soundfile.read(path, dtype="float32")
    return float(2.0 * torch.log(torch.from_numpy(wav).double().abs().mean()).float())


@pytest.mark.slow
@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupted_scoring_keeps_its_scores_and_resumes(slow_batch, tmp_path, signum, status):
    model, audio = slow_batch
    out = tmp_path / "s.txt"
    partial = Path(f"{out}.partial")
    command = [sys.executable, "-m", "speechbrain_ssdctx.cli.score", str(audio), "--model",
               str(model), "--trust-remote-code", "--out", str(out), "--savedir",
               str(tmp_path / "sd"), "--no-progress"]
    process = subprocess.Popen(command, env=env(), stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (partial.is_file() and partial.read_text().count("\n") >= 10):
        assert process.poll() is None and time.time() < deadline
        time.sleep(0.02)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == status, stderr
    assert not out.exists()  # nothing that looks complete
    text = partial.read_text()
    assert text.endswith("\n")
    kept = read_score_file(partial)
    assert 10 <= len(kept) < 60
    assert f"interrupted (SIG{'INT' if status == 130 else 'TERM'}): kept {len(kept)} of 60" in \
        stderr
    for utt, score in kept.items():
        assert score == pytest.approx(expected_score(audio / f"{utt}.wav"), rel=1e-5)
    process = subprocess.run([*command, "--resume"], env=env(), capture_output=True, text=True,
                             timeout=300)
    assert process.returncode == 0, process.stderr
    assert f"resuming: {len(kept)} of 60 files scored already" in process.stderr
    scores = read_score_file(out)
    assert len(scores) == 60 and not partial.exists()
    for utt, score in scores.items():
        assert score == pytest.approx(expected_score(audio / f"{utt}.wav"), rel=1e-5)
