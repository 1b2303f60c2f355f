"""Protocol, key and ASV score parsing on the real files; manifest preparation."""

import csv
import os
import shutil
import time
from collections import Counter
from pathlib import Path

import pytest

from speechbrain_ssdctx.data import demo_corpus_folder
from speechbrain_ssdctx.data.asvspoof import (
    MissingAudioError,
    ProtocolError,
    prepare_asvspoof2019_la,
    prepare_asvspoof2021,
    read_asv_scores,
    read_protocol_2019,
    read_trial_list,
    read_trial_metadata_2021,
)

FIXTURES = Path(__file__).parent / "fixtures"
LA2019 = FIXTURES / "asvspoof2019_la" / "LA"
PROTOCOLS = LA2019 / "ASVspoof2019_LA_cm_protocols"
EDGE = FIXTURES / "edge_cases"

# Counts documented with the fixtures (tests/fixtures/README-shared-fixtures.md).
PROTOCOL_COUNTS = {
    "train.trn": (25380, 2580, [f"A0{i}" for i in range(1, 7)], 3800),
    "dev.trl": (24844, 2548, [f"A0{i}" for i in range(1, 7)], 3716),
    "eval.trl": (71237, 7355, [f"A{i:02d}" for i in range(7, 20)], 4914),
}


@pytest.mark.slow
@pytest.mark.parametrize("suffix", PROTOCOL_COUNTS)
def test_official_2019_protocol_counts(suffix):
    total, bonafide, attacks, per_attack = PROTOCOL_COUNTS[suffix]
    rows = read_protocol_2019(PROTOCOLS / f"ASVspoof2019.LA.cm.{suffix}.txt")
    assert len(rows) == total
    assert len({row["ID"] for row in rows}) == total
    labels = Counter(row["label"] for row in rows)
    assert labels == {"bonafide": bonafide, "spoof": total - bonafide}
    spoof_attacks = Counter(row["attack"] for row in rows if row["label"] == "spoof")
    assert spoof_attacks == dict.fromkeys(attacks, per_attack)
    assert {row["attack"] for row in rows if row["label"] == "bonafide"} == {"-"}


# Counted with awk on the files (documented line totals: 29,548 and 102,579).
@pytest.mark.slow
@pytest.mark.parametrize(
    "split, counts", [("dev", (1484, 5768, 22296)), ("eval", (5370, 33327, 63882))]
)
def test_official_asv_score_counts(split, counts):
    path = LA2019 / "ASVspoof2019_LA_asv_scores" / f"ASVspoof2019.LA.asv.{split}.gi.trl.scores.txt"
    asv = read_asv_scores(path)
    assert (asv.target.size, asv.nontarget.size, asv.spoof.size) == counts
    first_line = path.read_text().split("\n", 1)[0].split()
    assert first_line[1] == "target" and asv.target[0] == float(first_line[2])


@pytest.mark.slow
def test_2021_trial_list():
    ids = read_trial_list(FIXTURES / "asvspoof2021_la" / "ASVspoof2021.LA.cm.eval.trl.txt")
    assert len(ids) == len(set(ids)) == 181566
    assert ids[0] == "LA_E_9332881"


LA_KEY = """\
LA_0009 LA_E_9332881 alaw ita_tx A07 spoof notrim eval
LA_0020 LA_E_7294490 g722 loc_tx bonafide bonafide notrim eval
LA_0011 LA_E_1000005 none - - bonafide notrim progress
"""
DF_KEY = """\
LA_0023 DF_E_2000011 nocodec asvspoof A14 spoof notrim progress traditional_vocoder - - - -
VCC2TM2 DF_E_2000003 mp3m4a vcc2018 bonafide bonafide notrim eval bonafide - - - -
TEF2 DF_E_2000002 low_m4a vcc2020 Task1-t20 spoof notrim eval neural_vocoder_autoregressive - - -
"""


def test_2021_la_key_lines(tmp_path):
    path = tmp_path / "trial_metadata.txt"
    path.write_text(LA_KEY)
    rows = read_trial_metadata_2021(path, "LA")
    assert rows[0] == {
        "ID": "LA_E_9332881",
        "label": "spoof",
        "speaker": "LA_0009",
        "subset": "eval",
        "attack": "A07",
        "codec": "alaw",
        "transmission": "ita_tx",
    }
    assert [row["attack"] for row in rows[1:]] == ["-", "-"]
    assert [row["codec"] for row in rows] == ["alaw", "g722", "none"]
    assert [row["subset"] for row in rows] == ["eval", "eval", "progress"]


def test_2021_df_key_lines(tmp_path):
    path = tmp_path / "trial_metadata.txt"
    path.write_text(DF_KEY)
    rows = read_trial_metadata_2021(path, "DF")
    assert [row["label"] for row in rows] == ["spoof", "bonafide", "spoof"]
    assert [row["compression"] for row in rows] == ["nocodec", "mp3m4a", "low_m4a"]
    assert [row["source"] for row in rows] == ["asvspoof", "vcc2018", "vcc2020"]
    assert rows[2]["vocoder"] == "neural_vocoder_autoregressive"
    assert rows[2]["attack"] == "Task1-t20" and rows[1]["attack"] == "-"


@pytest.mark.parametrize(
    "reader, text, line, message",
    [
        (read_protocol_2019, "LA_0079 LA_T_1 - - bonafide\nLA_0079 LA_T_2 - A01\n", 2, "5 fields"),
        (read_protocol_2019, "LA_0079 LA_T_1 - A01 fake\n", 1, "label 'fake'"),
        (lambda p: read_trial_metadata_2021(p, "LA"), DF_KEY, 1, "needs 8 fields"),
        (lambda p: read_trial_metadata_2021(p, "DF"), "LA_1 DF_E_1 nocodec x A1 spoof\n", 1, "9"),
        (read_asv_scores, "bonafide target 1.0\nbonafide impostor 2.0\n", 2, "label 'impostor'"),
        (read_asv_scores, "bonafide target x\n", 1, "not a number"),
    ],
)
def test_malformed_lines_name_file_and_line(tmp_path, reader, text, line, message):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(ProtocolError, match=message) as error:
        reader(path)
    assert f"{path}, line {line}" in str(error.value)


def test_empty_and_absent_files(tmp_path):
    with pytest.raises(ProtocolError, match="empty"):
        read_protocol_2019(EDGE / "empty.wav")
    with pytest.raises(ProtocolError, match="not found"):
        read_protocol_2019(tmp_path / "nothing.txt")


def _read_csv(path):
    with open(path, newline="") as stream:
        return list(csv.DictReader(stream))


def test_prepare_demo_matches_protocols_and_is_idempotent(tmp_path):
    outputs = prepare_asvspoof2019_la(demo_corpus_folder(), tmp_path)
    assert set(outputs) == {"train", "dev", "eval"}  # no ASV scores in the demo
    protocols = demo_corpus_folder() / "ASVspoof2019_LA_cm_protocols"
    for split, suffix in (("train", "train.trn"), ("dev", "dev.trl"), ("eval", "eval.trl")):
        manifest = _read_csv(outputs[split])
        lines = (protocols / f"ASVspoof2019.LA.cm.{suffix}.txt").read_text().split("\n")
        expected = [line.split() for line in lines if line]
        assert [(r["speaker"], r["ID"], r["attack"], r["label"]) for r in manifest] == [
            (s, u, a, k) for s, u, _, a, k in expected
        ]
        assert all(Path(r["wav"]).is_file() and Path(r["wav"]).is_absolute() for r in manifest)
    stamp = outputs["train"].stat().st_mtime_ns
    time.sleep(0.01)
    prepare_asvspoof2019_la(demo_corpus_folder(), tmp_path)
    assert outputs["train"].stat().st_mtime_ns == stamp  # skipped: up to date
    prepare_asvspoof2019_la(demo_corpus_folder(), tmp_path, check_headers=True)
    assert outputs["train"].stat().st_mtime_ns != stamp  # other options: rebuilt


def _small_2019_layout(root: Path, extra_train=()):
    """An official layout with the three real utterances and the real ASV scores."""
    la = root / "LA"
    shutil.copytree(LA2019 / "ASVspoof2019_LA_asv_scores", la / "ASVspoof2019_LA_asv_scores")
    for split, utt, attack, key in (
        ("train", "LA_T_1272637", "-", "bonafide"),
        ("dev", "LA_D_1003356", "A04", "spoof"),
        ("eval", "LA_E_6163791", "A09", "spoof"),
    ):
        flac = la / f"ASVspoof2019_LA_{split}" / "flac"
        flac.mkdir(parents=True)
        shutil.copy(LA2019 / f"ASVspoof2019_LA_{split}" / "flac" / f"{utt}.flac", flac)
        lines = [f"LA_0079 {utt} - {attack} {key}"]
        if split == "train":
            lines += [f"LA_0079 {name} - A01 spoof" for name in extra_train]
        suffix = {"train": "train.trn", "dev": "dev.trl", "eval": "eval.trl"}[split]
        protocols = la / "ASVspoof2019_LA_cm_protocols"
        protocols.mkdir(exist_ok=True)
        (protocols / f"ASVspoof2019.LA.cm.{suffix}.txt").write_text("\n".join(lines) + "\n")
    return la


def test_prepare_official_layout_records_asv_scores(tmp_path):
    la = _small_2019_layout(tmp_path / "data")
    outputs = prepare_asvspoof2019_la(tmp_path / "data", tmp_path / "out")  # parent of LA works
    assert outputs["asv_eval"].name == "ASVspoof2019.LA.asv.eval.gi.trl.scores.txt"
    assert outputs["asv_dev"].is_file()
    assert [r["ID"] for r in _read_csv(outputs["eval"])] == ["LA_E_6163791"]
    # a new protocol line makes the manifests out of date
    protocol = la / "ASVspoof2019_LA_cm_protocols" / "ASVspoof2019.LA.cm.train.trn.txt"
    shutil.copy(EDGE / "not_audio.flac", la / "ASVspoof2019_LA_train" / "flac" / "LA_T_9.flac")
    protocol.write_text(protocol.read_text() + "LA_0079 LA_T_9 - A01 spoof\n")
    assert len(_read_csv(prepare_asvspoof2019_la(la, tmp_path / "out")["train"])) == 2


def test_missing_audio_is_reported_by_name_and_count(tmp_path):
    _small_2019_layout(tmp_path / "data", extra_train=["LA_T_0000001", "LA_T_0000002"])
    with pytest.raises(
        MissingAudioError, match=r"2 of 3 ASVspoof 2019 LA train files missing"
    ) as e:
        prepare_asvspoof2019_la(tmp_path / "data", tmp_path / "out")
    assert "LA_T_0000001.flac" in str(e.value) and "LA_T_0000002.flac" in str(e.value)
    assert not (tmp_path / "out" / "asvspoof2019_la_train.csv").exists()


def test_skip_missing_drops_and_says_how_many(tmp_path, caplog):
    _small_2019_layout(tmp_path / "data", extra_train=["LA_T_0000001", "LA_T_0000002"])
    outputs = prepare_asvspoof2019_la(tmp_path / "data", tmp_path / "out", skip_missing=True)
    assert [r["ID"] for r in _read_csv(outputs["train"])] == ["LA_T_1272637"]
    assert "Dropped 2 trials" in caplog.text


def test_header_check_finds_unreadable_audio(tmp_path):
    la = _small_2019_layout(tmp_path / "data", extra_train=["LA_T_0000001"])
    shutil.copy(
        EDGE / "not_audio.flac", la / "ASVspoof2019_LA_train" / "flac" / "LA_T_0000001.flac"
    )
    assert len(_read_csv(prepare_asvspoof2019_la(la, tmp_path / "a")["train"])) == 2
    with pytest.raises(MissingAudioError, match="1 of 2 .* unreadable .*LA_T_0000001.flac"):
        prepare_asvspoof2019_la(la, tmp_path / "b", check_headers=True)


@pytest.mark.slow
def test_full_protocols_without_audio_count_every_missing_file(tmp_path):
    with pytest.raises(MissingAudioError) as error:
        prepare_asvspoof2019_la(LA2019, tmp_path)
    for count in ("25379 of 25380", "24843 of 24844", "71236 of 71237"):
        assert count in str(error.value)


def _layout_2021(root: Path, track: str):
    flac = root / f"ASVspoof2021_{track}_eval" / "flac"
    flac.mkdir(parents=True)
    for name in ("E_1", "E_2", "E_3"):
        shutil.copy(
            LA2019 / "ASVspoof2019_LA_eval" / "flac" / "LA_E_6163791.flac",
            flac / f"{track}_{name}.flac",
        )
    return flac


def test_prepare_2021_with_keys(tmp_path):
    _layout_2021(tmp_path / "data", "DF")
    keys = tmp_path / "keys" / "DF" / "CM"
    keys.mkdir(parents=True)
    (keys / "trial_metadata.txt").write_text(
        "LA_1 DF_E_1 nocodec asvspoof A14 spoof notrim eval traditional_vocoder - - - -\n"
        "LA_1 DF_E_2 low_mp3 vcc2018 bonafide bonafide notrim eval bonafide - - - -\n"
        "LA_1 DF_E_3 low_mp3 vcc2018 A09 spoof notrim progress unknown - - - -\n"
    )
    manifest = prepare_asvspoof2021(tmp_path / "data", tmp_path / "out", "DF", tmp_path / "keys")
    rows = _read_csv(manifest)
    assert list(rows[0]) == [
        "ID",
        "wav",
        "label",
        "attack",
        "speaker",
        "compression",
        "source",
        "subset",
        "vocoder",
    ]
    assert [(r["label"], r["compression"], r["subset"]) for r in rows] == [
        ("spoof", "nocodec", "eval"),
        ("bonafide", "low_mp3", "eval"),
        ("spoof", "low_mp3", "progress"),
    ]


def test_prepare_2021_from_the_trial_list_has_unknown_labels(tmp_path):
    flac = _layout_2021(tmp_path / "data", "LA")
    (flac.parent / "ASVspoof2021.LA.cm.eval.trl.txt").write_text("LA_E_1\nLA_E_2\nLA_E_3\n")
    manifest = prepare_asvspoof2021(tmp_path / "data", tmp_path / "out", "LA")
    rows = _read_csv(manifest)
    assert [r["label"] for r in rows] == ["unknown"] * 3
    assert all(os.path.isfile(r["wav"]) for r in rows)


def test_prepare_2021_without_keys_or_list_explains(tmp_path):
    _layout_2021(tmp_path / "data", "LA")
    with pytest.raises(FileNotFoundError, match="keys package"):
        prepare_asvspoof2021(tmp_path / "data", tmp_path / "out", "LA")
