"""ssdctx-score with awkward audio: a prime rate, loud floats, cut files, dangling links,
a model at another rate, and outputs that would replace an input."""

import csv
import os
import pathlib

import numpy as np
import pytest
import soundfile
import torch
from tiny_detector import trusted

from speechbrain_ssdctx.cli.score import main
from speechbrain_ssdctx.evaluation.scores import read_score_file
from speechbrain_ssdctx.inference.spoof_detector import SpoofDetector

RATE = 16000


def tiny_model(folder, **options):
    from tiny_detector import model_folder

    return model_folder(folder, **options)


def energy_score(wav: np.ndarray) -> float:
    """``EnergyDetector``'s log-odds score of a file no longer than its 1 s window."""
    return 2.0 * float(np.log(np.abs(wav.astype(np.float64)).mean()))


def read_tsv(path) -> dict[str, str]:
    with open(path, newline="") as stream:
        return {row[0]: row[1] for row in list(csv.reader(stream, delimiter="\t"))[1:]}


def test_a_batch_with_every_kind_of_bad_file_keeps_the_good_scores(tmp_path, capsys):
    model, folder = str(tiny_model(tmp_path / "model")), tmp_path / "audio"
    folder.mkdir()
    rng = np.random.default_rng(0)
    good = (0.05 + rng.random(RATE // 2) * 0.1).astype(np.float32)
    soundfile.write(folder / "a_good.wav", good, RATE, subtype="FLOAT")
    # 0.2 s at a prime rate: torchaudio's resampler would need gigabytes here.
    t = np.arange(int(0.2 * 44101)) / 44101
    soundfile.write(folder / "b_prime.wav", 0.3 * np.sin(2 * np.pi * 440 * t), 44101)
    soundfile.write(folder / "c_loud.wav", good * 30, RATE, subtype="FLOAT")
    soundfile.write(tmp_path / "whole.wav", good, RATE)
    data = (tmp_path / "whole.wav").read_bytes()
    (folder / "d_cut.wav").write_bytes(data[: len(data) // 2])
    os.symlink(tmp_path / "gone.wav", folder / "e_link.wav")
    out = tmp_path / "s.txt"
    assert main([*trusted(model), str(folder), "--out", str(out), "--no-progress"]) == 1
    scores = read_score_file(out)
    assert list(scores) == ["a_good", "b_prime", "c_loud"]
    assert scores["a_good"] == pytest.approx(energy_score(good), rel=1e-5)
    assert scores["c_loud"] == pytest.approx(energy_score(good * 30), rel=1e-5)
    # A 440 Hz sine of amplitude 0.3 has mean |x| = 0.6 / pi, at any rate.
    assert scores["b_prime"] == pytest.approx(2 * np.log(0.6 / np.pi), abs=0.02)
    failed = read_tsv(f"{out}.failed.tsv")
    assert set(failed) == {str(folder / "d_cut.wav"), str(folder / "e_link.wav")}
    assert "is truncated" in failed[str(folder / "d_cut.wav")]
    assert "dangling symbolic link" in failed[str(folder / "e_link.wav")]
    warned = read_tsv(f"{out}.warnings.tsv")
    assert list(warned) == [str(folder / "c_loud.wav")]
    assert "far outside [-1, 1]" in warned[str(folder / "c_loud.wav")]
    err = capsys.readouterr().err
    assert "ssdctx-score: warning: Audio file" in err and "c_loud.wav" in err
    assert f"1 of 5 files scored with a warning (listed in {out}.warnings.tsv)" in err
    # A clean rerun removes the stale lists.
    for name in ("c_loud.wav", "d_cut.wav", "e_link.wav"):
        (folder / name).unlink()
    assert main([*trusted(model), str(folder), "--out", str(out), "--no-progress"]) == 0
    assert not pathlib.Path(f"{out}.warnings.tsv").exists()
    assert not pathlib.Path(f"{out}.failed.tsv").exists()


def test_a_model_at_another_rate_is_stated(tmp_path, capsys):
    folder = tiny_model(tmp_path / "model")
    yaml = folder / "hyperparams.yaml"
    yaml.write_text(yaml.read_text().replace("sample_rate: 16000", "sample_rate: 8000"))
    wav = tmp_path / "a.wav"
    soundfile.write(wav, np.full(RATE // 4, 0.25, dtype=np.float32), RATE)
    assert main([*trusted(folder), str(wav), "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert "note: this model scores audio at 8000 Hz" in captured.err
    assert float(captured.out.split()[1]) == pytest.approx(2 * np.log(0.25), abs=1e-3)


def test_a_model_whose_rate_contradicts_its_detector_is_refused():
    with pytest.raises(ValueError, match="sample_rate: 8000, but detector was built for 16000"):
        SpoofDetector.from_hparams("aasist-l", overrides={"sample_rate": 8000})


def test_a_model_whose_fbank_is_at_the_declared_rate_loads(tmp_path):
    from speechbrain_ssdctx.models import LCNN

    folder = tmp_path / "lcnn8k"
    folder.mkdir()
    torch.save(LCNN(n_mels=32, sample_rate=8000).state_dict(), folder / "detector.ckpt")
    (folder / "hyperparams.yaml").write_text(
        "sample_rate: 8000\nwindow_policy: full\nwindow_samples: null\nthreshold: 0.0\n"
        "detector: !new:speechbrain_ssdctx.models.LCNN\n    n_mels: 32\n    sample_rate: 8000\n"
        "modules:\n    detector: !ref <detector>\n"
        "pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer\n"
        "    loadables:\n        detector: !ref <detector>\n"
        "    custom_hooks:\n"
        "        detector: !name:speechbrain_ssdctx.inference.load_weights\n"
    )
    assert SpoofDetector.from_hparams(folder).hparams.sample_rate == 8000
    yaml = folder / "hyperparams.yaml"
    yaml.write_text(yaml.read_text().replace("sample_rate: 8000\nwindow", "sample_rate: 16000\nw"
                                             "indow"))
    with pytest.raises(ValueError, match="detector.fbank.compute_STFT was built for 8000 Hz"):
        SpoofDetector.from_hparams(folder)


def test_out_cannot_be_the_protocol(tmp_path, capsys):
    protocol = tmp_path / "key.txt"
    protocol.write_text("LA_0069 a - - bonafide\n")
    wav = tmp_path / "a.wav"
    soundfile.write(wav, np.full(RATE, 0.1, dtype=np.float32), RATE)
    before = protocol.read_bytes()
    argv = ["--model", "aasist-l", str(wav), "--protocol", str(protocol)]
    assert main([*argv, "--out", str(protocol)]) == 1
    assert "--out" in (err := capsys.readouterr().err) and "is one of the input files" in err
    assert protocol.read_bytes() == before
    assert main([*argv, "--out", str(tmp_path / "s.txt"), "--failed", str(protocol)]) == 1
    assert "is one of the input files" in capsys.readouterr().err
    assert protocol.read_bytes() == before
