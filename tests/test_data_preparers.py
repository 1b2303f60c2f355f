"""ASVspoof 5, In-the-Wild and labelled-CSV preparation on official-layout folders."""

import codecs
import os
import shutil
import time
from collections import Counter

import pytest
from corpus_layouts import demo_rows, make_asvspoof5, make_in_the_wild, make_labelled_csv

from speechbrain_ssdctx.data.asvspoof import prepare_asvspoof2019_la, read_protocol_2019
from speechbrain_ssdctx.data.asvspoof5 import (
    prepare_asvspoof5,
    read_cm_key,
    read_protocol_asvspoof5,
    read_sasv_key,
)
from speechbrain_ssdctx.data.dataio import load_datasets
from speechbrain_ssdctx.data.in_the_wild import prepare_in_the_wild
from speechbrain_ssdctx.data.labelled import prepare_labelled_csv
from speechbrain_ssdctx.data.preparation import MissingAudioError, ProtocolError, read_manifest


@pytest.fixture(scope="module")
def asvspoof5(tmp_path_factory):
    return make_asvspoof5(tmp_path_factory.mktemp("asvspoof5"))


def test_asvspoof5_manifests(asvspoof5, tmp_path):
    paths = prepare_asvspoof5(asvspoof5, tmp_path)
    assert sorted(paths) == ["dev", "eval", "train"]
    for split, letter in (("train", "T"), ("dev", "D"), ("eval", "E")):
        rows = read_manifest(paths[split])
        demo = demo_rows(split)
        assert len(rows) == len(demo)
        assert Counter(r["label"] for r in rows) == Counter(r["label"] for r in demo)
        assert all(r["ID"].startswith(f"{letter}_") and os.path.isfile(r["wav"]) for r in rows)
        assert {r["attack"] for r in rows if r["label"] == "bonafide"} == {"-"}
        assert all(r["attack"].startswith("A") for r in rows if r["label"] == "spoof")
    eval_rows = read_manifest(paths["eval"])
    assert {r["codec"] for r in eval_rows} == {"-", "C01", "C05"}
    assert set(eval_rows[0]) >= {"ID", "wav", "label", "attack", "speaker", "codec", "codec_q"}
    # Up to date: a second run does nothing; a changed protocol is read again.
    stamp = os.stat(paths["train"]).st_mtime_ns
    prepare_asvspoof5(asvspoof5, tmp_path)
    assert os.stat(paths["train"]).st_mtime_ns == stamp
    # The recipes' data pipelines read the manifests.
    datasets = load_datasets({"dev": paths["dev"]}, eval_policy="first", eval_num_samples=8000)
    assert datasets["dev"][0]["sig"].shape == (8000,)


def test_asvspoof5_missing_audio_and_skip(asvspoof5, tmp_path):
    copy = make_asvspoof5(tmp_path / "copy")
    victim = sorted((copy / "flac_D").iterdir())[0]
    victim.unlink()
    message = f"1 of .* ASVspoof 5 dev files missing .*{victim.name}"
    with pytest.raises(MissingAudioError, match=message):
        prepare_asvspoof5(copy, tmp_path / "out")
    paths = prepare_asvspoof5(copy, tmp_path / "out", skip_missing=True)
    assert len(read_manifest(paths["dev"])) == len(demo_rows("dev")) - 1
    with pytest.raises(FileNotFoundError, match="No ASVspoof 5 layout"):
        prepare_asvspoof5(tmp_path / "nowhere", tmp_path / "out2")


@pytest.mark.parametrize(
    "line, message",
    [
        ("D_1 D_0000000001 F - - - - A11 spoof", None),  # nine fields (no TMP): accepted
        ("D_1 D_0000000001 F - - A11 spoof -", "10 fields"),
        ("D_1 D_0000000001 F - - - - A11 fake -", "label 'fake'"),
    ],
)
def test_asvspoof5_protocol_lines(tmp_path, line, message):
    path = tmp_path / "p.tsv"
    path.write_text("D_1 D_0000000000 M - - - - bonafide bonafide -\n" + line + "\n")
    if message is None:
        assert [r["attack"] for r in read_protocol_asvspoof5(path)] == ["-", "A11"]
    else:
        with pytest.raises(ProtocolError, match=f"{path}, line 2: .*{message}"):
            read_protocol_asvspoof5(path)


def test_duplicate_ids_are_refused_in_every_reader(tmp_path):
    # Reproduces issue 12: one bona fide and one spoof row of the same utterance.
    cases = {
        read_protocol_2019: "LA_1 LA_E_1 - - bonafide\nLA_2 LA_E_2 - A07 spoof\n"
                            "LA_1 LA_E_1 - A07 spoof\n",
        read_protocol_asvspoof5: "E_1 E_01 F - - - - bonafide bonafide -\n"
                                 "E_1 E_02 F - - - - bonafide bonafide -\n"
                                 "E_1 E_01 F - - - - A17 spoof -\n",
        read_cm_key: "filename\tcm-label\nE_01\tbonafide\nE_02\tspoof\nE_01\tspoof\n",
    }
    for reader, text in cases.items():
        path = tmp_path / f"{reader.__name__}.txt"
        path.write_text(text)
        first, again = (2, 4) if reader is read_cm_key else (1, 3)  # the key has a header
        with pytest.raises(ProtocolError, match=rf"line {again}: \S+ is listed again \(first on "
                                                rf"line {first}, as bonafide; here as spoof\)"):
            reader(path)
    # A Track 2 trial is a (speaker, file) pair: the same file for two speakers is fine.
    path = tmp_path / "sasv.tsv"
    path.write_text("spk\tfilename\tcm-label\tasv-label\nS1\tE_01\tspoof\tspoof\n"
                    "S2\tE_01\tspoof\tspoof\n")
    assert len(read_sasv_key(path)) == 2
    path.write_text(path.read_text() + "S1\tE_01\tspoof\tspoof\n")
    with pytest.raises(ProtocolError, match="line 4: S1 E_01 is listed again"):
        read_sasv_key(path)


def test_duplicate_id_stops_preparation(tmp_path):
    layout = make_asvspoof5(tmp_path / "asv5")
    protocol = layout / "ASVspoof5_protocols" / "ASVspoof5.dev.track_1.tsv"
    first = protocol.read_text().splitlines()[0].split()
    first[7], first[8] = ("A17", "spoof") if first[8] == "bonafide" else ("bonafide", "bonafide")
    protocol.write_text(protocol.read_text() + " ".join(first) + "\n")
    with pytest.raises(ProtocolError, match=f"{first[1]} is listed again"):
        prepare_asvspoof5(layout, tmp_path / "out")
    # Same for 2019 LA (a copy of the demo corpus with one line repeated).
    la = tmp_path / "LA"
    shutil.copytree(demo_rows("dev")[0]["flac"].parents[2], la)
    protocol = la / "ASVspoof2019_LA_cm_protocols" / "ASVspoof2019.LA.cm.dev.trl.txt"
    first_line = protocol.read_text().splitlines()[0]
    repeated = first_line.replace("bonafide", "spoof").replace(" - - ", " - A01 ")
    protocol.write_text(protocol.read_text() + repeated + "\n")
    with pytest.raises(ProtocolError, match="is listed again"):
        prepare_asvspoof2019_la(la, tmp_path / "out2019")


def test_bom_protocol_is_read(tmp_path):
    path = tmp_path / "p.tsv"
    path.write_bytes(codecs.BOM_UTF8 + b"D_1 D_0000000000 M - - - - bonafide bonafide -\r\n")
    assert read_protocol_asvspoof5(path)[0]["speaker"] == "D_1"


def test_in_the_wild(tmp_path):
    folder = make_in_the_wild(tmp_path / "release_in_the_wild")
    manifest = prepare_in_the_wild(folder, tmp_path / "out")
    rows = read_manifest(manifest)
    assert [r["ID"] for r in rows] == [str(i) for i in range(12)]
    expected = [r["label"] for r in demo_rows("eval")[:12]]
    assert [r["label"] for r in rows] == expected
    assert all(r["speaker"].startswith("Speaker ") for r in rows)
    time.sleep(0.01)
    (folder / "meta.csv").write_text((folder / "meta.csv").read_text() + "99.wav,X,real\n")
    with pytest.raises(ProtocolError, match=r"meta.csv, line 14: label 'real' is not one of"):
        prepare_in_the_wild(folder, tmp_path / "out")
    (folder / "meta.csv").write_text("file,speaker,label\n0.wav,A,spoof\n404.wav,A,spoof\n")
    with pytest.raises(MissingAudioError, match="1 of 2 In-the-Wild files missing .*404.wav"):
        prepare_in_the_wild(folder, tmp_path / "out")
    (folder / "meta.csv").write_text("file,speaker,label\n0.wav,A,spoof\n0.wav,A,bona-fide\n")
    with pytest.raises(ProtocolError, match="line 3: 0 is listed again"):
        prepare_in_the_wild(folder, tmp_path / "out")


def test_labelled_csv(tmp_path):
    csv_path = make_labelled_csv(tmp_path / "own")
    manifest = prepare_labelled_csv(csv_path, tmp_path / "out")
    assert manifest.name == "labelled_mine.csv"
    rows = read_manifest(manifest)
    assert len(rows) == 10 and all(os.path.isabs(r["wav"]) and os.path.isfile(r["wav"])
                                   for r in rows)
    assert [r["label"] for r in rows] == [r["label"] for r in demo_rows("dev")[:10]]
    for text, message in (
        ("path,label\nreal/x.flac,genuine\n", "line 2: label 'genuine' is not bonafide or spoof"),
        ("file,label\nx.wav,spoof\n", "the header needs the columns path,label"),
        ("path,label\na/x.wav,spoof\nb/x.wav,bonafide\n", "line 3: x is listed again"),
    ):
        bad = tmp_path / "bad.csv"
        bad.write_text(text)
        with pytest.raises(ProtocolError, match=message):
            prepare_labelled_csv(bad, tmp_path / "out_bad")
    missing = tmp_path / "own" / "missing.csv"
    missing.write_text("path,label\nreal/nothing.wav,bonafide\n")
    with pytest.raises(MissingAudioError, match="nothing.wav"):
        prepare_labelled_csv(missing, tmp_path / "out_missing")
