"""MLAAD with M-AILABS as its bona fide side, on a tiny folder in the official layout."""

import hashlib

import pytest
import torch
from corpus_layouts import MAILABS_BOOKS, MLAAD_MODELS, make_mlaad

from speechbrain_ssdctx.data.corpora import get_corpus, training_corpus
from speechbrain_ssdctx.data.dataio import load_datasets
from speechbrain_ssdctx.data.mlaad import split_of
from speechbrain_ssdctx.data.preparation import read_manifest


def expected_split(key: str) -> str:
    """The split rule, recomputed: MD5 of the key as a fraction of 16**32, 70/15/15."""
    point = int(hashlib.md5(key.encode()).hexdigest(), 16) / 16**32
    return "train" if point < 0.7 else "dev" if point < 0.85 else "eval"


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlaad")
    mlaad, mailabs = make_mlaad(root)
    manifests = get_corpus("MLAAD").prepare(mlaad, root / "manifests", mailabs_folder=mailabs)
    return manifests, {split: read_manifest(path) for split, path in manifests.items()}


def test_every_utterance_lands_in_its_models_or_speakers_split(prepared):
    _, rows = prepared
    every = [(split, row) for split, split_rows in rows.items() for row in split_rows]
    spoofs = [(s, r) for s, r in every if r["label"] == "spoof"]
    bonafide = [(s, r) for s, r in every if r["label"] == "bonafide"]
    folders = sum(len(models) for models in MLAAD_MODELS.values())
    assert len(spoofs) == 2 * folders and len(bonafide) == 2 * 5
    for split, row in spoofs:
        assert split == expected_split(f"model:{row['attack']}")
        assert row["ID"].startswith(f"{row['language']}-{row['attack']}-")
    speakers = {f"{locale}/{speaker or 'mix-' + book}"
                for locale, books in MAILABS_BOOKS.items() for _, speaker, book in books}
    assert {f"{r['ID'][:5]}/{r['speaker']}" for _, r in bonafide} == speakers
    for split, row in bonafide:
        assert split == expected_split(f"speaker:{row['ID'][:5]}/{row['speaker']}")
    # The multilingual model is in one split, with both of its languages.
    xtts = {(s, r["language"]) for s, r in spoofs if "xtts" in r["attack"]}
    assert len({s for s, _ in xtts}) == 1 and {lang for _, lang in xtts} == {"en", "de"}


def test_the_corpus_trains_when_given():
    assert training_corpus({"mlaad_folder": "/m"}).name == "MLAAD"
    assert training_corpus({"mlaad_folder": "/m", "data_folder": "/LA"}).name == "MLAAD"
    corpus = get_corpus("MLAAD")
    assert corpus.resample and corpus.trains
    assert corpus.manifests({"train": 1, "dev": 2, "eval": 3}, "/m", False) == {"MLAAD_eval": 3}


def test_its_audio_is_resampled_to_16k(prepared):
    manifests, rows = prepared
    split = next(s for s, r in rows.items() if any(x["label"] == "spoof" for x in r))
    dataset = load_datasets({"set": manifests[split]}, eval_policy="full", resample=True)["set"]
    items = {item["id"]: item for item in dataset}
    spoof = next(r for r in rows[split] if r["label"] == "spoof")
    # 8,000 samples at 22,050 Hz are 0.3628 s: 5,805 samples at 16 kHz.
    assert items[spoof["ID"]]["sig"].shape == torch.Size([round(8000 * 16000 / 22050)])


def test_split_fractions_are_checked():
    with pytest.raises(ValueError, match="three shares"):
        split_of("x", (0.5, 0.5))
