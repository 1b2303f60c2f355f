"""ssdctx-score end to end on the fixture audio."""

import csv
import pathlib
import shutil

import numpy as np
import pytest
import soundfile
import torch
from tiny_detector import trusted

from speechbrain_ssdctx.cli.score import main
from speechbrain_ssdctx.evaluation.evaluate import read_key
from speechbrain_ssdctx.evaluation.scores import read_score_file
from speechbrain_ssdctx.models import AASIST
from speechbrain_ssdctx.pretrained import bundled_checkpoint

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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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


# ---- a batch tool: nothing lost, nothing silent -------------------------------------------


def tiny_model(tmp_path):
    from tiny_detector import model_folder

    return str(model_folder(tmp_path / "model"))


def noise_wav(path, seconds=2.0, seed=0):
    rng = np.random.default_rng(seed)
    soundfile.write(path, (0.1 + rng.random(int(16000 * seconds))).astype(np.float32) * 0.3,
                    16000, subtype="FLOAT")
    return path


def test_one_bad_file_loses_nothing(tmp_path, capsys):
    model, folder = tiny_model(tmp_path), tmp_path / "d"
    folder.mkdir()
    noise_wav(folder / "a.wav")
    (folder / "b.wav").write_text("x\n")
    data = soundfile.read(noise_wav(folder / "c.wav", seed=1), dtype="float32")[0]
    data[100] = np.nan
    soundfile.write(folder / "n.wav", data, 16000, subtype="FLOAT")
    out = tmp_path / "s.txt"
    assert main([*trusted(model), str(folder), "--out", str(out), "--no-progress"]) == 1
    alone = tmp_path / "alone.txt"
    assert main([*trusted(model), str(folder / "a.wav"), str(folder / "c.wav"),
                 "--out", str(alone), "--no-progress"]) == 0
    assert read_score_file(out) == read_score_file(alone)  # every good score, as alone
    assert list(read_score_file(out)) == ["a", "c"]
    with open(f"{out}.failed.tsv", newline="") as stream:
        failed = {row["path"]: row["reason"] for row in csv.DictReader(stream, delimiter="\t")}
    assert set(failed) == {str(folder / "b.wav"), str(folder / "n.wav")}
    assert "NaN or infinite samples" in failed[str(folder / "n.wav")]
    err = capsys.readouterr().err
    assert "b.wav" in err and "n.wav" in err
    assert f"2 of 4 files could not be scored (listed in {out}.failed.tsv)" in err

    # Strict: stops at the first failure and writes nothing; a clean rerun clears the list.
    strict = tmp_path / "strict.txt"
    assert main([*trusted(model), str(folder), "--out", str(strict), "--strict",
                 "--no-progress"]) == 1
    assert not strict.exists() and "(--strict); nothing written" in capsys.readouterr().err
    for name in ("b.wav", "n.wav"):
        (folder / name).unlink()
    assert main([*trusted(model), str(folder), "--out", str(out), "--no-progress"]) == 0
    assert not pathlib.Path(f"{out}.failed.tsv").exists()


def test_nan_audio_with_stdout_and_tsv_is_named_not_scored(tmp_path, capsys):
    model = tiny_model(tmp_path)
    data = soundfile.read(noise_wav(tmp_path / "n.wav"), dtype="float32")[0]
    data[5] = np.nan
    soundfile.write(tmp_path / "n.wav", data, 16000, subtype="FLOAT")
    assert main([*trusted(model), str(tmp_path / "n.wav"), "--no-progress"]) == 1
    captured = capsys.readouterr()
    assert "nan" not in captured.out.lower() and "n.wav holds NaN" in captured.err
    out = tmp_path / "s.tsv"
    assert main([*trusted(model), str(tmp_path / "n.wav"), "--format", "tsv", "--out",
                 str(out), "--no-progress"]) == 1
    assert out.read_text() == "utt_id\tscore\tpath\n"


@pytest.fixture()
def no_model_loading(monkeypatch):
    from speechbrain_ssdctx import inference

    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded before the arguments were checked")

    monkeypatch.setattr(inference.SpoofDetector, "from_hparams", refuse)


@pytest.mark.parametrize(("extra", "message"), [
    (["--out", "{tmp}"], "--out '{tmp}' is a folder"),
    (["--out", "{tmp}/f/s.txt"], "cannot be created: '{tmp}/f' is a file"),
    (["--out", "{tmp}/my file.wav"], "is one of the audio files to score"),
    (["--out", "{tmp}/s.txt", "--window-scores", "{tmp}/s.txt"], "are the same file"),
    (["--device", "banana"], "--device: 'banana' is not a torch device"),
    (["--hop-seconds", "3", "--window-seconds", "2"], "must not exceed --window-seconds"),
    (["--protocol", "{tmp}/f"], "not an ASVspoof key"),
])
def test_arguments_are_checked_before_the_model_loads(tmp_path, capsys, no_model_loading,
                                                      extra, message):
    (tmp_path / "f").write_text("a file\n")
    good = noise_wav(tmp_path / "a.wav")
    spaced = noise_wav(tmp_path / "my file.wav")
    files = [str(good)] if "--protocol" in extra else [str(good), str(spaced)]
    argv = ["--model", "aasist-l", *files, "--format", "tsv"]
    argv += [arg.format(tmp=tmp_path) for arg in extra]
    assert main(argv) == 1
    assert message.format(tmp=tmp_path) in capsys.readouterr().err


def test_ids_that_a_score_file_cannot_hold_fail_before_scoring(tmp_path, capsys,
                                                               no_model_loading):
    spaced = noise_wav(tmp_path / "my file.wav")
    assert main(["--model", "aasist-l", str(spaced), "--out", str(tmp_path / "s.txt")]) == 1
    err = capsys.readouterr().err
    assert f"'{spaced}': its utterance id 'my file' is empty or holds whitespace" in err
    if not torch.cuda.is_available():
        assert main(["--model", "aasist-l", str(spaced), "--format", "tsv",
                     "--device", "cuda:0"]) == 1
        assert "torch sees no CUDA GPU" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["0", "-1", "x"])
def test_batch_size_must_be_positive(value, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--model", "aasist-l", str(EDGE / "silence_1s_16k.wav"), "--batch-size", value])
    assert stop.value.code == 2 and "--batch-size" in capsys.readouterr().err


def test_bundled_short_name_wins_over_a_local_folder(tmp_path, monkeypatch):
    from speechbrain_ssdctx.inference.spoof_detector import SpoofDetector

    evidence = tmp_path / "evidence"
    hostile = tmp_path / "aasist"
    hostile.mkdir()
    (hostile / "hyperparams.yaml").write_text(
        f"ran: !apply:os.mkdir ['{evidence}']\nmodules: {{}}\npretrainer: null\n"
    )
    monkeypatch.chdir(tmp_path)
    detector = SpoofDetector.from_hparams("aasist")
    assert detector.mods.detector.variant == "AASIST" and not evidence.exists()
    with pytest.raises(AttributeError):  # written as a path: the folder is loaded (and runs)
        SpoofDetector.from_hparams("./aasist", trust_remote_code=True)
    assert evidence.exists()


def test_model_folder_without_pretrainer_is_one_line(tmp_path, capsys):
    from tiny_detector import model_folder

    folder = model_folder(tmp_path / "model")
    text = (folder / "hyperparams.yaml").read_text()
    (folder / "hyperparams.yaml").write_text(text[: text.index("pretrainer:")])
    assert main(["--model", str(folder), str(noise_wav(tmp_path / "a.wav"))]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (f"ssdctx-score: error: Model folder '{folder}': 'hyperparams.yaml' defines "
                   "no pretrainer (a model folder written by ssdctx-export has both)")


def test_window_scores_file(tmp_path):
    model = tiny_model(tmp_path)
    wav = noise_wav(tmp_path / "long.wav", seconds=3.25)
    windows, out = tmp_path / "w.tsv", tmp_path / "s.txt"
    assert main([*trusted(model), str(wav), "--out", str(out), "--window-scores",
                 str(windows), "--window-seconds", "2", "--hop-seconds", "1",
                 "--no-progress"]) == 0
    with open(windows, newline="") as stream:
        rows = list(csv.DictReader(stream, delimiter="\t"))
    assert [(float(r["start"]), float(r["end"])) for r in rows] == [(0, 2), (1, 3), (1.25, 3.25)]
    mean = sum(float(r["score"]) for r in rows) / 3
    assert read_score_file(out)["long"] == pytest.approx(mean, rel=1e-6)
