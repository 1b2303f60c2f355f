"""A savedir holds one model: reused for the same model, refused for another (whose files
SpeechBrain would otherwise reuse), and a folder with files of its own is refused."""

import pathlib

import pytest

from speechbrain_ssdctx.cli.score import main as score_main
from speechbrain_ssdctx.inference import SpoofDetector

ROOT = pathlib.Path(__file__).resolve().parents[1]
LEGACY = ROOT / "tests" / "fixtures" / "exports_0.1.0"
AUDIO = ROOT / "tests" / "fixtures" / "asvspoof2019_la" / "LA" / "ASVspoof2019_LA_dev" / \
    "flac" / "LA_D_1003356.flac"

pytestmark = pytest.mark.slow  # loads models


def test_a_savedir_is_reused_for_its_model_and_refused_for_another(tmp_path, capsys):
    savedir = tmp_path / "savedir"
    lcnn = str(LEGACY / "lcnn-0.1.0")
    first = SpoofDetector.from_hparams(lcnn, savedir=savedir).score_file(str(AUDIO))
    again = SpoofDetector.from_hparams(lcnn, savedir=savedir).score_file(str(AUDIO))
    assert again == first
    assert score_main(["--model", str(LEGACY / "xvector-0.1.0"), "--savedir", str(savedir),
                       str(AUDIO), "--no-progress"]) == 1
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "holds the model" in error[0] and "lcnn-0.1.0" in error[0]


def test_a_hand_made_savedir_is_used_when_empty_and_refused_with_files(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert score_main(["--model", "aasist-l", "--savedir", str(empty), str(AUDIO),
                       "--no-progress"]) == 0
    full = tmp_path / "full"
    full.mkdir()
    (full / "detector.ckpt").write_bytes(b"not these weights")
    assert score_main(["--model", "aasist-l", "--savedir", str(full), str(AUDIO),
                       "--no-progress"]) == 1
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "is not empty and names no model" in error[0]
