"""The registry of corpora: every step that names a corpus reads it, and a corpus of one's
own (a record, a preparer and a key reader, no module of the package touched) is prepared,
titled in reports and model cards, and has its key read like the project's corpora."""

import csv
import importlib
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile

from speechbrain_ssdctx.cli.evaluate import main as eval_main
from speechbrain_ssdctx.data import (
    CORPORA,
    DEMO,
    Corpus,
    CorpusSet,
    KeyFormat,
    get_corpus,
    register_corpus,
    training_corpus,
)
from speechbrain_ssdctx.data.corpora import corpus_inputs, find_set
from speechbrain_ssdctx.data.preparation import read_manifest
from speechbrain_ssdctx.evaluation.evaluate import KEY_KINDS, read_key
from speechbrain_ssdctx.evaluation.report import results_markdown, set_title
from speechbrain_ssdctx.training.experiment import build_datasets, prepare_manifests
from speechbrain_ssdctx.training.startup import is_demo_run, run_hparams
from speechbrain_ssdctx.training.typed_hparams import HparamError

ROOT = Path(__file__).resolve().parents[1]
TRAINING_YAMLS = sorted((ROOT / "hparams").glob("*.yaml"))
model_card_module = importlib.import_module("speechbrain_ssdctx.inference.model_card")


# ---- the project's corpora -------------------------------------------------------------------


def corpus_hparam_values(tmp_path: Path) -> dict[str, str]:
    """A valid override value for every hyperparameter of every registered corpus."""
    folder, keys, labels = tmp_path / "data", tmp_path / "keys", tmp_path / "mine.csv"
    folder.mkdir(exist_ok=True)
    keys.mkdir(exist_ok=True)
    labels.write_text("path,label\n")
    values = {}
    for corpus in CORPORA.values():
        if corpus.hparam is not None:
            values[corpus.hparam] = f"[{labels}]" if corpus.per_file else str(folder)
        values.update({hparam: str(keys) for hparam in corpus.options.values()})
    return values


@pytest.mark.parametrize("yaml", TRAINING_YAMLS, ids=lambda path: path.name)
def test_every_corpus_hparam_a_training_yaml_defines_passes_its_typed_checks(yaml, tmp_path):
    defined = run_hparams(yaml, ["--demo_schedule=null"])
    values = {k: v for k, v in corpus_hparam_values(tmp_path).items() if k in defined}
    resolved = run_hparams(yaml, [f"--{key}={value}" for key, value in values.items()])
    assert values and all(resolved[key] is not None for key in values)


@pytest.mark.parametrize("yaml", TRAINING_YAMLS, ids=lambda path: path.name)
def test_every_training_yaml_defines_every_corpus_hparam(yaml, tmp_path):
    defined = run_hparams(yaml, ["--demo_schedule=null"])
    assert set(corpus_hparam_values(tmp_path)) <= set(defined)


@pytest.mark.parametrize("corpus", [c for c in CORPORA.values() if c.hparam and not c.per_file],
                         ids=lambda corpus: corpus.name)
def test_the_typed_checks_of_a_corpus_folder_are_real(corpus, tmp_path):
    with pytest.raises(HparamError, match=f"{corpus.hparam}: .* does not exist"):
        run_hparams(TRAINING_YAMLS[0], [f"--{corpus.hparam}={tmp_path / 'absent'}"])


def test_report_and_model_card_read_titles_and_datasets_from_the_registry():
    for corpus in CORPORA.values():
        for corpus_set in corpus.sets:
            if not corpus_set.scored or corpus.per_file:
                continue
            owner, _ = find_set(corpus_set.name, first=get_corpus(DEMO) if corpus.name == DEMO
                                else None)
            demo = corpus.name == DEMO
            if owner is corpus:  # "dev" is 2019 LA's unless the run says otherwise
                assert set_title(corpus_set.name, demo) == corpus.set_title(corpus_set)
                if not demo:
                    assert model_card_module._dataset(corpus_set.name) == (
                        corpus.dataset_name, corpus.dataset, corpus.config, corpus_set.split)
    # As the project published them (results.md titles, card's model-index).
    assert [set_title(n) for n in ("dev", "2019LA_eval", "2021DF_eval", "InTheWild")] == [
        "2019 LA dev", "2019 LA eval", "2021 DF eval", "In-the-Wild"]
    assert set_title("dev", demo=True) == "demo dev"
    assert model_card_module._dataset("InTheWild") == ("In-the-Wild", "in-the-wild", None,
                                                       "test")
    assert model_card_module.DEMO_DATASET == ("speechbrain-ssdctx demo corpus",
                                              "speechbrain-ssdctx-demo")


def test_the_training_corpus_and_what_a_run_prepares():
    given = {"data_folder": "/LA", "asvspoof5_folder": "/5", "la2021_folder": "/21",
             "la2021_keys": "/k", "in_the_wild_folder": "/w", "test_csvs": ["a/x.csv", "y.csv"]}
    assert training_corpus(given).name == "ASVspoof5"  # replaces 2019 LA, which then tests
    plan = [(c.name, source, training) for c, source, training in corpus_inputs(given)]
    assert plan == [("ASVspoof5", "/5", True), ("2019LA", "/LA", False),
                    ("2021LA", "/21", False), ("InTheWild", "/w", False),
                    ("labelled", "a/x.csv", False), ("labelled", "y.csv", False)]
    assert training_corpus({"data_folder": "/LA"}).name == "2019LA"
    assert is_demo_run({"data_folder": None}) and not is_demo_run({"asvspoof5_folder": "/5"})
    demo = next(corpus_inputs({}))
    assert demo[0].name == DEMO and (demo[1] / "ASVspoof2019_LA_cm_protocols").is_dir()


def test_registry_refuses_a_name_or_key_kind_twice():
    with pytest.raises(ValueError, match="registered already"):
        register_corpus(get_corpus("InTheWild"))
    clash = Corpus("Other", "other", "other", "Other", preparer=lambda *a, **k: None,
                   sets=(CorpusSet("Other", "test"),), hparam="other_folder",
                   key_formats=get_corpus("InTheWild").key_formats)
    with pytest.raises(ValueError, match="in_the_wild"):
        register_corpus(clash)
    with pytest.raises(KeyError, match="No corpus named 'nope'"):
        get_corpus("nope")
    with pytest.raises(ValueError, match="role"):
        Corpus("x", "x", "x", "x", preparer=print, sets=(CorpusSet("x", "test"),),
               hparam="x", role="eval")


# ---- a corpus of one's own -------------------------------------------------------------------

TOY_RATE = 8000  # not the recipes' 16 kHz: the record says it is resampled


def prepare_toy(data_folder, save_folder, skip_missing=False, check_headers=False) -> Path:
    """The toy corpus's preparer: ``truth.tsv`` (``file<TAB>real|fake``) to a manifest."""
    rows = [line.split("\t") for line in (Path(data_folder) / "truth.tsv").read_text().split("\n")
            if line]
    manifest = Path(save_folder) / "toy.csv"
    manifest.parent.mkdir(parents=True, exist_ok=True)
    with open(manifest, "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["ID", "wav", "label"])
        for name, truth in rows:
            label = "bonafide" if truth == "real" else "spoof"
            writer.writerow([Path(name).stem, str(Path(data_folder) / name), label])
    return manifest


def read_toy_key(path) -> list[dict[str, str]]:
    """The toy corpus's key reader (``file<TAB>real|fake``)."""
    return [{"ID": Path(name).stem, "label": "bonafide" if truth == "real" else "spoof"}
            for name, truth in (line.split("\t") for line in Path(path).read_text().split("\n")
                                if line)]


TOY = Corpus(
    name="ToyCorpus", title="Toy test", dataset="toy-dataset", dataset_name="Toy dataset",
    preparer=prepare_toy, sets=(CorpusSet("ToyCorpus", "test"),), hparam="toy_folder",
    key_formats=(KeyFormat("toy", "toy truth.tsv", read_toy_key,
                           lambda fields, track: len(fields) == 2 and fields[1] in ("real",
                                                                                    "fake")),),
    resample=True,
)
TRUTH = {"r1.wav": "real", "r2.wav": "real", "f1.wav": "fake", "f2.wav": "fake", "f3.wav": "fake"}


@pytest.fixture
def toy(tmp_path):
    folder = tmp_path / "toy"
    folder.mkdir()
    for name in TRUTH:
        soundfile.write(folder / name, np.zeros(TOY_RATE // 2), TOY_RATE)  # 0.5 s
    (folder / "truth.tsv").write_text("".join(f"{n}\t{t}\n" for n, t in TRUTH.items()))
    register_corpus(TOY)
    yield folder
    del CORPORA[TOY.name]


def test_a_registered_corpus_is_prepared_loaded_titled_and_keyed(toy, tmp_path, capsys):
    hparams = {"data_folder": None, "manifest_folder": tmp_path / "manifests",
               "skip_missing_audio": False, "toy_folder": toy, "test_csvs": [],
               "sample_rate": 16000, "train_seconds": 1.0, "eval_window": "full",
               "eval_seconds": 1.0, "max_utterances_per_class": None}
    manifests = prepare_manifests(hparams)
    assert list(manifests)[:2] == ["train", "dev"] and "ToyCorpus" in manifests  # demo trains
    rows = {row["ID"]: row["label"] for row in read_manifest(manifests["ToyCorpus"])}
    assert rows == {Path(n).stem: "bonafide" if t == "real" else "spoof"
                    for n, t in TRUTH.items()}
    # Its 8 kHz audio is resampled to the recipe's 16 kHz (the record's resample flag).
    dataset = build_datasets(hparams, {"ToyCorpus": manifests["ToyCorpus"]})["ToyCorpus"]
    assert dataset[0]["sig"].shape == (16000 // 2,)

    # Reports and model cards title it from its record.
    report = {"eer": 0.0, "bonafide": 2, "spoof": 3, "min_dcf": 0.0, "act_dcf": 0.1,
              "cllr": 0.2, "min_cllr": 0.0}
    assert "| Toy test | 2 / 3 |" in results_markdown({"ToyCorpus": report})
    assert model_card_module._dataset("ToyCorpus") == ("Toy dataset", "toy-dataset", None,
                                                       "test")

    # read_key tells its key from the others, and ssdctx-eval evaluates against it.
    key_rows, kind = read_key(toy / "truth.tsv")
    assert kind == "toy" and KEY_KINDS[kind] == "toy truth.tsv"
    assert {r["ID"]: r["label"] for r in key_rows} == rows
    scores = tmp_path / "scores.txt"
    scores.write_text("r1 2.0\nr2 1.5\nf1 -1.0\nf2 1.0\nf3 -2.0\n")  # separable: EER 0
    assert eval_main([str(scores), "--key", str(toy / "truth.tsv"), "--json"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    assert (evaluated["bonafide"], evaluated["spoof"], evaluated["eer"]) == (2, 3, 0.0)


def test_a_registered_corpus_is_a_choice_of_prepare_asvspoof(toy, tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("prepare_asvspoof",
                                                  ROOT / "recipes" / "prepare_asvspoof.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.main(["ToyCorpus", str(toy), str(tmp_path / "out")]) == 0
    assert capsys.readouterr().out.strip() == f"test: {tmp_path / 'out' / 'toy.csv'}"
