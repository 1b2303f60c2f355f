"""Score files: formats, bad files named with their line, atomic writes, alignment."""

import codecs

import numpy as np
import pytest

from speechbrain_ssdctx.evaluation import scores as score_files
from speechbrain_ssdctx.evaluation.scores import (
    ScoreFileError,
    align_scores,
    read_sasv_score_file,
    read_score_file,
    score_file_kind,
    write_score_file,
)
from speechbrain_ssdctx.utils.textio import parse_number


def test_align_scores_reports_both_sides():
    with pytest.raises(ValueError, match=r"1 of 2 trials of key .*e\.g\. b.*1 of 2 ids"):
        align_scores({"a": 1.0, "z": 2.0}, ["a", "b"])


@pytest.mark.parametrize(
    "text, line, message",
    [
        ("a 0.5\nb\n", 2, "expected 'utt_id score'"),
        ("a 0.5\nb 0.25\nc", 3, "expected 'utt_id score'"),
        ("a 0.5\nb 0.2x\n", 2, "not a number"),
        ("a 0.5\na 0.7\n", 2, "already scored on line 1"),
        ("a nan\n", 1, "not a number"),
        ("a 1 spoof 0.3\n", 1, "expected"),
        # Python's float() accepts all of these; a score file must not.
        ("a 1_5\n", 1, "'1_5' is not a number"),
        ("a infinity\n", 1, "'infinity' is not a number"),
        ("a \u0661\u0662\n", 1, "is not a number"),  # Arabic-Indic digits: float() says 12
        ("filename\tcm-score\nE_1\t0.5\nE_2\n", 3, "expected 2 columns"),
    ],
)
def test_malformed_score_file_names_file_and_line(tmp_path, text, line, message):
    path = tmp_path / "scores.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScoreFileError, match=message) as error:
        read_score_file(path)
    assert f"{path}, line {line}" in str(error.value)


def test_underscore_number_is_not_read_as_fifteen(tmp_path):
    # Reproduces issue 12: float("1_5") == 15.0 was accepted as a score.
    assert float("1_5") == 15.0
    with pytest.raises(ValueError, match="not a number"):
        parse_number("1_5")


def test_utf8_bom_is_skipped_not_part_of_the_first_id(tmp_path):
    path = tmp_path / "scores.txt"
    path.write_bytes(codecs.BOM_UTF8 + b"LA_E_1 0.5\r\nLA_E_2 -1.0\r\n")
    assert read_score_file(path) == {"LA_E_1": 0.5, "LA_E_2": -1.0}
    # A bad line of a BOM file names the file, with no invisible character in the message.
    path.write_bytes(codecs.BOM_UTF8 + b"LA_E_1\n")
    with pytest.raises(ScoreFileError) as error:
        read_score_file(path)
    assert "\ufeff" not in str(error.value) and f"{path}, line 1" in str(error.value)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_file_is_named_and_explained(tmp_path, encoding):
    path = tmp_path / "scores.txt"
    path.write_bytes("LA_E_1 0.5\nLA_E_2 1.5\n".encode(encoding))
    with pytest.raises(ScoreFileError, match="UTF-16") as error:
        read_score_file(path)
    assert str(path) in str(error.value) and "codec can't decode" not in str(error.value)


def test_undecodable_file_names_file_and_line(tmp_path):
    path = tmp_path / "scores.txt"
    path.write_bytes("LA_E_1 0.5\nLA_É_2 1.5\n".encode("latin-1"))
    with pytest.raises(ScoreFileError, match=r"line 2: not UTF-8 text \(byte 0xc9"):
        read_score_file(path)


def test_asvspoof5_and_tsv_tables_are_read_by_their_header(tmp_path):
    path = tmp_path / "scores.tsv"
    path.write_text("filename\tcm-score\nE_000001\t0.01\nE_000002\t-2.5\n")
    assert read_score_file(path) == {"E_000001": 0.01, "E_000002": -2.5}
    path.write_text("utt_id\tscore\tpath\na\t1.5\t/data/my file.wav\n")  # path with a space
    assert read_score_file(path) == {"a": 1.5}
    assert score_file_kind(path) == "cm"


def test_sasv_score_file(tmp_path):
    path = tmp_path / "sasv.tsv"
    path.write_text(
        "spk\tfilename\tcm-score\tasv-score\tsasv-score\n"
        "E_1\tE_01\t0.5\t-1.0\t0.2\nE_2\tE_01\t-\t-\t3.0\n"
    )
    assert score_file_kind(path) == "sasv"
    scores = read_sasv_score_file(path)
    assert scores[("E_1", "E_01")] == (0.5, -1.0, 0.2)
    assert scores[("E_2", "E_01")] == (None, None, 3.0)  # same file, another target speaker
    with pytest.raises(ScoreFileError, match="Track 2"):
        read_score_file(path)
    path.write_text(path.read_text() + "E_1\tE_01\t0.1\t0.1\t0.1\n")
    with pytest.raises(ScoreFileError, match="line 4: trial E_1 E_01 already scored on line 2"):
        read_sasv_score_file(path)


@pytest.mark.parametrize("style", ["txt", "asvspoof5"])
def test_write_score_file_round_trip_and_atomicity(tmp_path, monkeypatch, style):
    path = tmp_path / "out" / "scores.txt"
    values = np.random.default_rng(0).normal(size=50)
    ids = [f"LA_E_{i:07d}" for i in range(50)]
    write_score_file(path, ids, values, style)
    assert read_score_file(path) == dict(zip(ids, values.tolist(), strict=True))

    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr(score_files.atomic_open.__globals__["os"], "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        write_score_file(path, ids[:3], values[:3], style)
    assert len(read_score_file(path)) == 50  # the old file is intact
    assert [p.name for p in path.parent.iterdir()] == ["scores.txt"]  # no temporary left
