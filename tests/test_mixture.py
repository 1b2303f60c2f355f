"""Training on several corpora at once (``train_corpora``): the entries, the merged
manifests, the weighted draw (its shares, on one process and sharded over two gloo
processes, and its exact resumption inside an epoch) and a recipe run."""

import json
import re
from collections import Counter
from pathlib import Path

import pytest
import torch.multiprocessing as mp
from corpus_layouts import make_labelled_csv
from recipe_utils import run_train
from sampler_shards import shard_worker
from scipy.stats import chisquare
from speechbrain.dataio.dataloader import SaveableDataLoader

from speechbrain_ssdctx.data import demo_corpus_folder
from speechbrain_ssdctx.data.mixture import CorpusMixture, MixtureError
from speechbrain_ssdctx.data.preparation import read_manifest
from speechbrain_ssdctx.data.sampling import CorpusSampler
from speechbrain_ssdctx.evaluation.eer import compute_eer
from speechbrain_ssdctx.evaluation.scores import read_score_file

#: Corpora of very unequal sizes, and weights that are not their sizes' proportions.
SIZES = {"small": 40, "medium": 160, "large": 800}
WEIGHTS = {"small": 1.0, "medium": 1.0, "large": 2.0}
DRAWS, SEED, EPOCH = 8000, 7, 3


def corpora() -> list[str]:
    return [name for name, size in SIZES.items() for _ in range(size)]


def shares_p_value(counts: Counter, weights: dict) -> float:
    """Chi-square goodness of fit of the counts to the shares ``weight / sum``."""
    total, names = sum(counts.values()), list(weights)
    expected = [total * weights[n] / sum(weights.values()) for n in names]
    return chisquare([counts.get(n, 0) for n in names], expected).pvalue


# ---- entries and manifests ------------------------------------------------------------------

def test_entries_are_checked_one_line_each():
    for entries, message in (
        ([{"corpus": "demo", "csv": "a.csv"}], "exactly one of corpus, csv, folder"),
        ([{"csv": "a.csv", "weight": 0}], "weight must be a positive number"),
        ([{"csv": "a.csv", "wieght": 2}], "unknown keys: \\['wieght'\\]"),
        ([{"corpus": "InTheWild"}], "is a test corpus"),
        ([{"corpus": "2019LA"}], "needs its data: path: ... in the entry, or --data_folder"),
        ([{"csv": "x/a.csv"}, {"folder": "y/a"}], "used twice"),
        ({"corpus": "demo"}, "expected a list"),
        ([], "the list is empty"),
    ):
        with pytest.raises(MixtureError, match=message):
            CorpusMixture.from_entries(entries, {"data_folder": None})


def test_the_merged_manifests_tag_every_utterance_with_its_corpus(tmp_path):
    mine = make_labelled_csv(tmp_path / "own")
    mixture = CorpusMixture.from_entries(
        [{"corpus": "demo"}, {"csv": mine, "dev": mine, "weight": 3}], {})
    manifests = mixture.prepare(tmp_path / "manifests", {})
    protocols = demo_corpus_folder() / "ASVspoof2019_LA_cm_protocols"
    lines = {split: len((protocols / f"ASVspoof2019.LA.cm.{split}.txt").read_text().split("\n"))
             - 1 for split in ("train.trn", "dev.trl")}  # one utterance a line
    train = read_manifest(manifests["train"])
    assert Counter(row["corpus"] for row in train) == {"demo": lines["train.trn"], "mine": 10}
    dev = read_manifest(manifests["dev"])
    assert Counter(row["corpus"] for row in dev) == {"demo": lines["dev.trl"], "mine": 10}
    assert all(Path(row["wav"]).is_file() for row in train + dev)
    assert mixture.shares == {"demo": 0.25, "mine": 0.75}


# ---- the draw -------------------------------------------------------------------------------

def test_an_epoch_holds_each_corpus_by_its_weight():
    sampler = CorpusSampler(corpora(), WEIGHTS, num_samples=DRAWS, seed=SEED)
    sampler.set_epoch(EPOCH)
    counts = Counter(corpora()[i] for i in sampler)
    assert sum(counts.values()) == DRAWS
    assert shares_p_value(counts, WEIGHTS) > 0.001  # the weights' shares: 25/25/50 %
    assert shares_p_value(counts, SIZES) < 1e-9  # not the sizes' (4/16/80 %)
    assert sampler.epoch_counts() == dict(counts)
    # Within a corpus, every utterance is equally likely.
    small = Counter(i for i in sampler if i < SIZES["small"])
    assert chisquare([small.get(i, 0) for i in range(SIZES["small"])]).pvalue > 0.001


def test_the_draw_depends_on_seed_and_epoch_only():
    a = CorpusSampler(corpora(), WEIGHTS, num_samples=500, seed=SEED)
    b = CorpusSampler(corpora(), WEIGHTS, num_samples=500, seed=SEED)
    a.set_epoch(2)
    b.set_epoch(2)
    assert list(a) == list(b)
    b.set_epoch(3)
    assert list(a) != list(b)
    assert len(CorpusSampler(corpora(), WEIGHTS, seed=SEED)) == sum(SIZES.values())


def test_a_resumed_epoch_continues_the_same_draw(tmp_path):
    """SaveableDataLoader's intra-epoch checkpoint, as the recipe's: the batches after a
    resume are those the uninterrupted epoch had."""
    data = list(range(sum(SIZES.values())))

    def loader():
        sampler = CorpusSampler(corpora(), WEIGHTS, num_samples=64, seed=SEED)
        sampler.set_epoch(EPOCH)
        return SaveableDataLoader(data, batch_size=8, sampler=sampler)

    whole = [batch.tolist() for batch in loader()]
    first = loader()
    iterator = iter(first)
    done = [next(iterator).tolist() for _ in range(3)]
    first._speechbrain_save(tmp_path / "loader.ckpt")
    resumed = loader()
    resumed._speechbrain_load(tmp_path / "loader.ckpt", end_of_epoch=False)
    assert done + [batch.tolist() for batch in resumed] == whole


@pytest.mark.slow
def test_two_gloo_processes_share_the_epoch_by_weight(tmp_path):
    mp.spawn(shard_worker, nprocs=2, join=True, args=(
        str(tmp_path / "init"), str(tmp_path), corpora(), WEIGHTS, DRAWS, SEED, EPOCH))
    shards = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    whole = CorpusSampler(corpora(), WEIGHTS, num_samples=DRAWS, seed=SEED)
    whole.set_epoch(EPOCH)
    drawn = list(whole)
    # Disjoint positions of the one draw: rank r takes draws r, r + 2, ...
    assert shards[0] == drawn[0::2] and shards[1] == drawn[1::2]
    for shard in shards:
        assert len(shard) == DRAWS // 2
        assert shares_p_value(Counter(corpora()[i] for i in shard), WEIGHTS) > 0.001


# ---- a recipe run ---------------------------------------------------------------------------

@pytest.mark.slow
def test_a_run_on_the_demo_corpus_and_a_labelled_csv(tmp_path):
    mine = make_labelled_csv(tmp_path / "own")
    output = tmp_path / "run"
    run_train("lcnn.yaml", output, "--max_utterances_per_class=4",
              f"--train_corpora=[{{corpus: demo, weight: 1}}, "
              f"{{csv: {mine}, dev: {mine}, weight: 3}}]")
    log = (output / "train_log.txt").read_text()
    epoch = next(line for line in log.splitlines() if line.startswith("epoch: 1"))
    drawn = {name: int(n) for name, n in re.findall(r"train utterances_(\w+): (\d+)", epoch)}
    assert set(drawn) == {"demo", "mine"} and sum(drawn.values()) == 16  # 4 + 4 of each
    assert set(re.findall(r"valid EER_(\w+):", epoch)) == {"demo", "mine"}
    per_corpus = json.loads((output / "results.json").read_text())["dev"]["per_corpus"]
    assert {n: e["train_utterances"] for n, e in per_corpus.items()} == drawn
    # Each corpus's dev EER, recomputed from the score file and the manifest.
    scores = read_score_file(output / "scores" / "dev.txt")
    rows = read_manifest(output / "manifests" / "mixture_dev.csv")
    for name in ("demo", "mine"):
        mine_rows = [r for r in rows if r["corpus"] == name and r["ID"] in scores]
        bonafide = [scores[r["ID"]] for r in mine_rows if r["label"] == "bonafide"]
        spoof = [scores[r["ID"]] for r in mine_rows if r["label"] == "spoof"]
        assert len(bonafide) == len(spoof) == 4
        assert per_corpus[name]["eer"] == pytest.approx(100 * compute_eer(bonafide, spoof)[0])
    assert "### dev (demo + mine): per corpus" in (output / "results.md").read_text()
