"""DynamicItemDataset pipelines on the bundled demo corpus."""

import csv

import pytest
import torch
from speechbrain.dataio.batch import PaddedBatch
from speechbrain.dataio.dataloader import make_dataloader

from speechbrain_ssdctx.data import demo_corpus_folder, load_audio, prepare_asvspoof2019_la
from speechbrain_ssdctx.data.dataio import label_pipeline, load_datasets


@pytest.fixture(scope="module")
def manifests(tmp_path_factory):
    return prepare_asvspoof2019_la(demo_corpus_folder(), tmp_path_factory.mktemp("manifests"))


def _labels(path):
    with open(path, newline="") as stream:
        return {row["ID"]: (row["label"], row["wav"]) for row in csv.DictReader(stream)}


def test_items_have_the_right_shapes_and_labels(manifests):
    datasets = load_datasets(
        manifests, train_num_samples=32000, generator=torch.Generator().manual_seed(0)
    )
    assert set(datasets) == {"train", "dev", "eval"}
    truth = _labels(manifests["eval"])
    for index in range(3):
        item = datasets["eval"][index]
        label, wav = truth[item["id"]]
        assert item["label_id"] == (1 if label == "bonafide" else 0)
        full = load_audio(wav)
        assert item["sig"].shape == (64600,)  # official policy
        assert torch.equal(item["sig"][: min(full.numel(), 64600)], full[:64600])
    assert datasets["train"][0]["sig"].shape == (32000,)


def test_first_and_full_policies(manifests):
    first = load_datasets(manifests, eval_policy="first", eval_num_samples=8000)["dev"][0]
    assert first["sig"].shape == (8000,)
    full = load_datasets(manifests, eval_policy="full")["dev"][0]
    assert full["sig"].numel() == load_audio(_labels(manifests["dev"])[full["id"]][1]).numel()


def test_batches_collate_labels(manifests):
    datasets = load_datasets(manifests, train_num_samples=16000)
    loader = make_dataloader(datasets["train"], batch_size=4, collate_fn=PaddedBatch)
    batch = next(iter(loader))
    assert batch.sig.data.shape == (4, 16000)
    assert batch.label_id.dtype == torch.int64 and set(batch.label_id.tolist()) <= {0, 1}


def test_label_pipeline_values():
    assert [label_pipeline(x) for x in ("bonafide", "spoof", "unknown")] == [1, 0, -1]
    with pytest.raises(ValueError, match="Unknown label 'fake'"):
        label_pipeline("fake")


def test_bad_policy_fails_at_construction(manifests):
    with pytest.raises(ValueError, match="Unknown evaluation policy"):
        load_datasets(manifests, eval_policy="middle")
