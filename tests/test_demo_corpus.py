"""The bundled demo corpus: layout, protocols, audio, split rules, licences."""

import csv
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import soundfile

from speechbrain_ssdctx.data import demo_corpus_folder, read_protocol_2019

ROOT = demo_corpus_folder()
SUFFIX = {"train": "train.trn", "dev": "dev.trl", "eval": "eval.trl"}


def _protocol(split):
    return read_protocol_2019(
        ROOT / "ASVspoof2019_LA_cm_protocols" / f"ASVspoof2019.LA.cm.{SUFFIX[split]}.txt"
    )


def _sources():
    with open(ROOT / "sources.tsv", newline="") as stream:
        return list(csv.DictReader(stream, delimiter="\t"))


@pytest.mark.parametrize("split", SUFFIX)
def test_every_listed_utterance_is_16k_mono_flac(split):
    rows = _protocol(split)
    folder = ROOT / f"ASVspoof2019_LA_{split}" / "flac"
    assert sorted(p.stem for p in folder.glob("*.flac")) == sorted(r["ID"] for r in rows)
    for row in rows:
        info = soundfile.info(str(folder / f"{row['ID']}.flac"))
        assert (info.samplerate, info.channels) == (16000, 1)
        assert 1.3 <= info.frames / 16000 <= 4.5


def test_size_and_balance():
    counts = {split: Counter(r["label"] for r in _protocol(split)) for split in SUFFIX}
    total = sum(sum(c.values()) for c in counts.values())
    assert 100 <= total <= 200
    train = counts["train"]
    assert 0.8 <= train["bonafide"] / train["spoof"] <= 1.25
    size = sum(p.stat().st_size for p in ROOT.rglob("*") if p.is_file())
    assert size < 10 * 2**20


def test_eval_adds_unseen_systems_next_to_known_ones():
    attacks = {s: {r["attack"] for r in _protocol(s) if r["label"] == "spoof"} for s in SUFFIX}
    assert attacks["train"] == attacks["dev"] == {"A01", "A02", "A03", "A04"}
    assert attacks["eval"] == attacks["train"] | {"A05", "A06", "A07"}


def test_every_bona_fide_source_is_in_every_split():
    splits_of = defaultdict(set)
    for row in _sources():
        if row["key"] == "bonafide":  # the source is the file name's prefix (vctk_..., ...)
            splits_of[Path(row["source_file"]).name.split("_")[0]].add(row["split"])
    assert len(splits_of) == 6
    assert all(splits == set(SUFFIX) for splits in splits_of.values()), splits_of


def test_no_audio_is_shared_between_splits():
    spans = defaultdict(list)
    for row in _sources():
        spans[row["source_file"]].append((float(row["start_s"]), float(row["end_s"]), row["split"]))
    for source_file, items in spans.items():
        for start, end, split in items:
            for other_start, other_end, other_split in items:
                if split != other_split:
                    overlap = min(end, other_end) - max(start, other_start)
                    assert overlap <= 1e-6, (source_file, split, other_split)


def test_protocols_and_sources_agree():
    sources = {row["ID"]: row for row in _sources()}
    for split in SUFFIX:
        for row in _protocol(split):
            origin = sources[row["ID"]]
            assert (origin["split"], origin["key"], origin["attack"], origin["speaker"]) == (
                split,
                row["label"],
                row["attack"],
                row["speaker"],
            )


def test_licences_and_notice_travel_with_the_audio():
    notice = (ROOT.parent / "NOTICE.md").read_text()
    licences = {p.name for p in (ROOT / "LICENSES").iterdir()}
    for row in _sources():
        assert row["licence"] in notice
    assert {
        "VCTK_CC-BY-4.0.txt",
        "CMU_ARCTIC_COPYING.txt",
        "SpeechBrain_Apache-2.0.txt",
    } <= licences
    for name in licences:
        assert name in notice
