"""ssdctx-score end to end on the fixture audio."""

import csv
import pathlib
import shutil

import numpy as np
import pytest
import soundfile
import torch

from speechbrain_ssdctx.cli.score import main
from speechbrain_ssdctx.evaluation import read_key
from speechbrain_ssdctx.models import AASIST
from speechbrain_ssdctx.pretrained import bundled_checkpoint
from speechbrain_ssdctx.scores import read_score_file

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
LA = FIXTURES / "asvspoof2019_la" / "LA"
PROTOCOLS = LA / "ASVspoof2019_LA_cm_protocols"
UTTERANCES = {"LA_T_1272637": "train", "LA_D_1003356": "dev", "LA_E_6163791": "eval"}
EDGE = FIXTURES / "edge_cases"


@pytest.fixture(scope="module")
def protocol(tmp_path_factory) -> pathlib.Path:
    """The official protocol lines of the three fixture utterances."""
    lines = []
    for split in ("train.trn", "dev.trl", "eval.trl"):
        with open(PROTOCOLS / f"ASVspoof2019.LA.cm.{split}.txt") as stream:
            lines += [line for line in stream if line.split()[1] in UTTERANCES]
    assert len(lines) == 3
    path = tmp_path_factory.mktemp("protocol") / "three.txt"
    path.write_text("".join(lines))
    return path


@pytest.fixture(scope="module")
def official_scores() -> dict[str, float]:
    """AASIST-L's official score (bona fide logit of the first 64,600 samples, tiled)."""
    model = AASIST.from_official_checkpoint(bundled_checkpoint("aasist-l"))
    scores = {}
    for utt, split in UTTERANCES.items():
        wav, _ = soundfile.read(LA / f"ASVspoof2019_LA_{split}" / "flac" / f"{utt}.flac")
        wav = np.tile(wav, 64600 // len(wav) + 1)[:64600]
        with torch.no_grad():
            scores[utt] = float(model(torch.tensor(wav, dtype=torch.float32)[None])[1][0, 1])
    return scores


def test_scores_files_and_prints_metrics(tmp_path, protocol, official_scores, capsys):
    out = tmp_path / "scores.txt"
    folders = [str(LA / f"ASVspoof2019_LA_{split}" / "flac") for split in UTTERANCES.values()]
    argv = ["--model", "aasist-l", *folders, "--out", str(out), "--protocol", str(protocol)]
    assert main(argv) == 0
    scores = read_score_file(out)
    assert list(scores) == list(UTTERANCES)
    for utt, value in scores.items():
        assert value == pytest.approx(official_scores[utt], abs=1e-4)
    captured = capsys.readouterr()
    # The bona fide utterance scores above both spoofs: nothing is misclassified at the EER.
    assert "| scored files | 1 / 2 | 0.000 |" in captured.out
    assert "| A04 | 0.000 |" in captured.out
    assert "| A09 | 0.000 |" in captured.out
    assert "scoring" in captured.err and "3/3" in captured.err


def test_tsv_output_recursion_and_batching(tmp_path, official_scores):
    out = tmp_path / "scores.tsv"
    argv = ["--model", "aasist-l", str(LA), "--format", "tsv", "--out", str(out)]
    assert main([*argv, "--batch-size", "3", "--no-progress"]) == 0
    with open(out, newline="") as stream:
        rows = list(csv.DictReader(stream, delimiter="\t"))
    assert [row["utt_id"] for row in rows] == sorted(UTTERANCES, key=lambda u: UTTERANCES[u])
    for row in rows:
        assert pathlib.Path(row["path"]).stem == row["utt_id"]
        assert pathlib.Path(row["path"]).is_file()
        assert float(row["score"]) == pytest.approx(official_scores[row["utt_id"]], abs=1e-4)


def test_prints_to_stdout_without_out(capsys):
    flac = LA / "ASVspoof2019_LA_eval" / "flac" / "LA_E_6163791.flac"
    assert main(["--model", "aasist-l", str(flac), "--no-progress"]) == 0
    utt, score = capsys.readouterr().out.split()
    assert utt == "LA_E_6163791" and float(score) < 0


@pytest.mark.parametrize("name", ["corrupt_truncated.flac", "empty.wav", "not_audio.flac"])
def test_bad_file_fails_naming_it(name, capsys):
    assert main(["--model", "aasist-l", str(EDGE / name), "--no-progress"]) == 1
    assert name in capsys.readouterr().err


def test_input_errors(tmp_path, capsys):
    assert main(["--model", "aasist-l", str(tmp_path / "nope.wav")]) == 1
    assert "No such audio file or folder" in capsys.readouterr().err
    assert main(["--model", "aasist-l", str(tmp_path)]) == 1
    assert "No audio files" in capsys.readouterr().err
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        shutil.copy(EDGE / "silence_1s_16k.wav", tmp_path / sub)
    assert main(["--model", "aasist-l", str(tmp_path)]) == 1
    assert "share the utterance id 'silence_1s_16k'" in capsys.readouterr().err
    assert main(["--model", str(tmp_path / "no_model"), str(EDGE / "silence_1s_16k.wav")]) == 1
    assert "neither a folder" in capsys.readouterr().err


def test_read_key_formats(tmp_path):
    la_2021 = tmp_path / "trial_metadata.txt"
    la_2021.write_text(
        "LA_0009 LA_E_9332881 alaw ita_tx A07 spoof notrim eval\n"
        "LA_0009 LA_E_0000001 none - bonafide bonafide notrim eval\n"
    )
    rows, kind = read_key(la_2021)
    keys = {row["ID"]: row for row in rows}
    assert kind == "2021LA"
    assert keys["LA_E_9332881"]["attack"] == "A07" and keys["LA_E_0000001"]["label"] == "bonafide"
    df_2021 = tmp_path / "df.txt"
    df_2021.write_text(
        "LA_0023 DF_E_2000011 nocodec asvspoof A14 spoof notrim progress traditional_vocoder"
        " - - - -\n"
    )
    rows, kind = read_key(df_2021)
    assert kind == "2021DF" and rows[0]["ID"] == "DF_E_2000011" and rows[0]["label"] == "spoof"
    bad = tmp_path / "bad.txt"
    bad.write_text("a b c\n")
    with pytest.raises(ValueError, match="bad.txt.*not an ASVspoof key"):
        read_key(bad)
