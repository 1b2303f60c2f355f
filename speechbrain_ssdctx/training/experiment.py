"""The steps of a training recipe that are not the training loop itself.

``recipes/train.py`` reads like the paper's set-up: prepare the data (every corpus of the
registry, ``speechbrain_ssdctx.data.corpora``, whose hyperparameter is given: the training
corpus, ASVspoof 2019 LA or ASVspoof 5, or the bundled demo corpus when none is given; the
test corpora), build the datasets, train with
``DetectorBrain``, then score every test set with the best dev-EER checkpoint, fit a
score calibration on the dev scores, and write score files, ``calibration.json``,
``results.json`` and ``results.md``. The functions here do those steps, so other recipes
can reuse them.

Authors
 * speechbrain-ssdctx contributors
"""

from __future__ import annotations

import logging
from pathlib import Path

import speechbrain as sb
from speechbrain.utils.distributed import if_main_process, run_on_main

from speechbrain_ssdctx.data.corpora import DEMO, corpus_inputs, find_set, training_corpus
from speechbrain_ssdctx.data.dataio import load_datasets
from speechbrain_ssdctx.data.mixture import CORPUS_COLUMN, CorpusMixture, corpus_column
from speechbrain_ssdctx.data.preparation import BONAFIDE, ProtocolError, read_manifest
from speechbrain_ssdctx.evaluation.calibration import Calibration
from speechbrain_ssdctx.evaluation.eer import compute_eer
from speechbrain_ssdctx.evaluation.evaluate import (
    asv_operating_point_of,
    evaluate_scores,
    official_c012,
)
from speechbrain_ssdctx.evaluation.report import set_title, write_results
from speechbrain_ssdctx.evaluation.scores import write_score_file
from speechbrain_ssdctx.training.averaging import average_run_checkpoints
from speechbrain_ssdctx.training.checkpoints import AVERAGED_KEY
from speechbrain_ssdctx.training.startup import is_demo_run

logger = logging.getLogger(__name__)


def eval_window(hparams) -> dict:
    """The evaluation window policy of the hparams, as ``load_datasets`` arguments."""
    policy = hparams["eval_window"]
    samples = None
    if policy == "first":
        samples = int(round(hparams["eval_seconds"] * hparams["sample_rate"]))
    return {"eval_policy": policy, "eval_num_samples": samples}


def prepare_manifests(hparams) -> dict[str, Path]:
    """Prepares every corpus the hparams name (on the main process) and returns the paths.

    Keys: the training corpus's ``train`` and ``dev`` (ASVspoof 2019 LA, the demo corpus, or
    ASVspoof 5 with ``asvspoof5_folder``), then the test sets of the registry's corpora
    whose data is given (their ``CorpusSet`` names: ``2019LA_eval``, ``2021LA_eval``,
    ``labelled_<name>``, ...), and ``asv_dev``, ``asv_eval`` (2019 LA ASV scores, when
    present).
    """
    trained = training_corpus(hparams)
    mixture = CorpusMixture.from_hparams(hparams)
    if mixture is not None:
        logger.info("Training corpora (train_corpora), expected shares of an epoch: %s",
                    ", ".join(f"{k} {v:.1%}" for k, v in mixture.shares.items()))
    elif trained.name == DEMO:
        logger.info("No --data_folder: using the bundled demo corpus %s", trained.folder())
    run_on_main(_prepare_all, args=[hparams])
    return _prepare_all(hparams)  # up to date now: this only returns the paths


def _prepare_all(hparams) -> dict[str, Path]:
    save_folder, skip = Path(hparams["manifest_folder"]), hparams["skip_missing_audio"]
    manifests: dict[str, Path] = {}
    mixture = CorpusMixture.from_hparams(hparams)
    if mixture is not None:  # train and dev: the mixture's; the corpora's test sets
        manifests.update(mixture.prepare(save_folder, hparams, skip))
    for corpus, source, training in corpus_inputs(hparams):
        training = training and mixture is None
        options = {key: hparams.get(hparam) for key, hparam in corpus.options.items()}
        outputs = corpus.prepare(source, save_folder, skip_missing=skip, **options)
        named = corpus.manifests(outputs, source, training)
        if corpus.per_file and named.keys() & manifests.keys():
            raise ValueError(
                f"{corpus.hparam}: two {corpus.title} files named {Path(source).name}."
            )
        manifests.update(named)
    return manifests


def build_datasets(hparams, manifests: dict[str, Path]) -> dict:
    """The ``DynamicItemDataset`` of every manifest (random crops for ``train``).

    With ``max_utterances_per_class`` set, every set keeps only that many bona fide and
    that many spoofed utterances (the first ones), for quick checks. The training crops go
    through ``wav_augment_chain`` (an ``speechbrain_ssdctx.augment.AugmentationChain``, run in
    the data loader's workers) unless it is absent or empty.
    """
    csvs = {name: path for name, path in manifests.items() if not name.startswith("asv_")}
    options = {
        "train_num_samples": int(round(hparams["train_seconds"] * hparams["sample_rate"])),
        "sample_rate": hparams["sample_rate"],
        "bonafide_index": hparams.get("bonafide_index", 1),
        "augmentation": hparams.get("wav_augment_chain") or None,
        **eval_window(hparams),
    }
    # Corpora other than ASVspoof (In-the-Wild, labelled CSVs) may hold audio at any rate.
    own = {name: path for name, path in csvs.items() if _resampled(name, hparams)}
    datasets = load_datasets({k: v for k, v in csvs.items() if k not in own}, **options)
    if own:
        datasets.update(load_datasets(own, resample=True, **options))
    limit = hparams["max_utterances_per_class"]
    if limit is not None:
        datasets = {name: _balanced_slice(data, limit) for name, data in datasets.items()}
    if "train" in datasets:
        for warning in training_set_warnings(datasets["train"], hparams):
            logger.warning(warning)
    return datasets


def training_set_warnings(dataset, hparams) -> list[str]:
    """Checks that the training set holds both classes; the warnings of a run that may not.

    Arguments
    ---------
    dataset : DynamicItemDataset
        The training set (``label_id``: bona fide = ``bonafide_index``).
    hparams : dict
        ``allow_single_class`` (default False) lets a set with one class train, warned
        about (in the log and in each set's results: ``warnings``).

    Returns
    -------
    list of str
        The warnings (none for a set with both classes).

    Raises
    ------
    ProtocolError
        If the set is empty, or holds one class and ``allow_single_class`` is not set.
    """
    with dataset.output_keys_as(["label_id"]):
        labels = [int(item["label_id"]) for item in dataset]
    if not labels:
        raise ProtocolError("the training set is empty: its protocol lists no utterance")
    bonafide = sum(label == hparams.get("bonafide_index", 1) for label in labels)
    counts = f"{bonafide} bona fide, {len(labels) - bonafide} spoof"
    if 0 < bonafide < len(labels):
        return []
    if not hparams.get("allow_single_class", False):
        raise ProtocolError(
            f"the training set holds one class only ({counts}): a detector needs both; "
            "--allow_single_class=True trains it anyway"
        )
    return [f"the training set holds one class only ({counts}): trained anyway "
            "(allow_single_class)"]


def _balanced_slice(dataset, limit: int):
    """The first ``limit`` utterances of each class (of each class of each corpus, with a
    ``corpus`` column: ``train_corpora``)."""
    keep, counts = set(), {}
    corpora = corpus_column(dataset) or {}
    with dataset.output_keys_as(["id", "label_id"]):
        for item in dataset:
            label = (corpora.get(item["id"]), item["label_id"])
            if counts.get(label, 0) < limit:
                counts[label] = counts.get(label, 0) + 1
                keep.add(item["id"])
    return dataset.filtered_sorted(key_test={"id": lambda utt: utt in keep})


def evaluation_set_names(manifests: dict[str, Path]) -> list[str]:
    """The sets to score, dev first (its scores fit the calibration), then the others."""
    return ["dev"] + [name for name in manifests if name not in ("train", "dev")
                      and not name.startswith("asv_")]


def score_test_sets(brain, datasets: dict, manifests: dict[str, Path], hparams) -> dict:
    """Scores every evaluation set with the best dev-EER checkpoint (or the average of
    ``average_checkpoints`` checkpoints, :func:`averaged_checkpoint_key`) and evaluates it.

    Writes ``scores/<set>.txt`` (``utt_id score``, for the official tools) and returns the
    reports (``speechbrain_ssdctx.evaluation.evaluate.evaluate_scores``). A calibration
    (``llr = slope * score + offset``) is fitted on the dev scores at the prior
    ``calibration_prior`` and saved as ``calibration.json``; every report gives actDCF
    and Cllr before and after it (on dev itself the calibrated numbers are optimistic).
    A 2021 set prepared without keys is scored but not evaluated.
    """
    output = Path(hparams["output_folder"])
    results, calibration = {}, None
    warnings = training_set_warnings(datasets["train"], hparams) if "train" in datasets else []
    loader = brain.loader_kwargs(sb.Stage.TEST)
    chosen = averaged_checkpoint_key(brain, hparams)
    for name in evaluation_set_names(manifests):
        if name not in datasets:
            continue
        brain.evaluate(datasets[name], **chosen, test_loader_kwargs=dict(loader))
        scores = brain.score_stats.scores
        if if_main_process():
            write_score_file(output / "scores" / f"{name}.txt", list(scores), list(scores.values()))
        rows = read_manifest(manifests[name])
        if hparams["max_utterances_per_class"] is not None:  # a slice: only its trials
            rows = [row for row in rows if row["ID"] in scores]
        if rows and rows[0]["label"] == "unknown":
            logger.warning("%s has no keys: scores written, no metrics.", name)
            continue
        if name == "dev":
            calibration = _fit_calibration(scores, rows, hparams)
            per_corpus = _per_corpus(scores, rows, brain, hparams)
            if if_main_process():
                calibration.save(output / "calibration.json")
        results[name] = evaluate_scores(
            scores, rows, asv=_asv_point(manifests, name), c012=_c012(name, hparams),
            score_name=f"{name} scores", key_name=str(manifests[name]), calibration=calibration,
        )
        if name == "dev" and per_corpus:
            results[name]["per_corpus"] = per_corpus
        results[name]["key"] = str(manifests[name])
        if warnings:
            results[name]["warnings"] = warnings
        title = _title(name, hparams)
        if title is not None:
            results[name]["title"] = title
        logger.info("%s: EER %.3f%%, minDCF %.4f", name, results[name]["eer"],
                    results[name]["min_dcf"])
    if if_main_process():
        write_results(results, output, demo=is_demo_run(hparams))
    return results


def averaged_checkpoint_key(brain, hparams) -> dict:
    """How ``brain.evaluate`` picks the checkpoint to score with: ``min_key="EER"`` (the
    best dev EER), or with ``average_checkpoints: N`` the average of the best or last N
    (``average_by``), made first on the main process (``save/CKPT+averaged``)."""
    num = hparams.get("average_checkpoints") or 0
    if not num:
        return {"min_key": "EER"}
    folder = brain.checkpointer.checkpoints_dir
    by = hparams.get("average_by", "best")
    run_on_main(average_run_checkpoints, args=[folder, num, by])
    logger.info("Scoring with the average of the %s %d checkpoints (%s)", by, num, folder)
    return {"max_key": AVERAGED_KEY}


def _per_corpus(scores: dict[str, float], rows: list[dict], brain, hparams) -> dict:
    """With ``train_corpora``: each corpus's weight, the utterances of it the epochs drew
    (per epoch and in all), and its dev trials and EER (percent; without both classes in
    dev, no EER)."""
    mixture = CorpusMixture.from_hparams(hparams)
    if mixture is None:
        return {}
    sampler, epochs = brain.corpus_sampler, brain.hparams.epoch_counter.limit
    drawn = [sampler.epoch_counts(epoch) for epoch in range(1, epochs + 1)] if sampler else []
    found = {}
    for name, weight in mixture.weights.items():
        mine = [row for row in rows if row.get(CORPUS_COLUMN) == name and row["ID"] in scores]
        bonafide = [scores[row["ID"]] for row in mine if row["label"] == BONAFIDE]
        spoof = [scores[row["ID"]] for row in mine if row["label"] != BONAFIDE]
        found[name] = {"weight": weight, "bonafide": len(bonafide), "spoof": len(spoof),
                       "train_utterances_per_epoch": [c.get(name, 0) for c in drawn],
                       "train_utterances": sum(c.get(name, 0) for c in drawn)}
        if bonafide and spoof:
            found[name]["eer"] = 100 * compute_eer(bonafide, spoof)[0]
    logger.info("Per training corpus: %s", "; ".join(
        f"{name}: {entry['train_utterances']} utterances drawn, dev EER "
        + (f"{entry['eer']:.3f}%" if "eer" in entry else "n/a") for name, entry in found.items()))
    return found


def _fit_calibration(scores: dict[str, float], rows: list[dict], hparams) -> Calibration:
    """The affine calibration of the dev scores (prior: ``calibration_prior``)."""
    bonafide = [scores[row["ID"]] for row in rows if row["label"] == BONAFIDE]
    spoof = [scores[row["ID"]] for row in rows if row["label"] != BONAFIDE]
    calibration = Calibration.fit(bonafide, spoof, prior=hparams.get("calibration_prior"))
    if calibration.slope <= 0:
        logger.warning(
            "The calibration fitted on dev has slope %.3g <= 0: the dev scores rank spoofs "
            "above bona fide trials (a model no better than chance?).", calibration.slope
        )
    return calibration


def _corpus_of(name: str, hparams):
    """The registry's corpus of a set (the training corpus owns train and dev), or None."""
    trained = training_corpus(hparams)
    if name == "train":
        return trained
    found = find_set(name, first=trained, per_file=True)
    return found[0] if found else None


def _resampled(name: str, hparams) -> bool:
    """Whether the set's corpus is read at its own rate and resampled (``train_corpora``:
    the training and dev sets are when one of their corpora is)."""
    mixture = CorpusMixture.from_hparams(hparams)
    if mixture is not None and name in ("train", "dev"):
        return mixture.resamples
    corpus = _corpus_of(name, hparams)
    return corpus is not None and corpus.resample


def _title(name: str, hparams) -> str | None:
    """The set's title when reports would not give it from its name alone (ASVspoof 5 dev,
    a labelled CSV)."""
    mixture = CorpusMixture.from_hparams(hparams)
    if mixture is not None and name == "dev":
        return f"dev ({' + '.join(mixture.weights)})"
    demo = is_demo_run(hparams)
    found = find_set(name, first=training_corpus(hparams), per_file=True)
    title = found[0].set_title(found[1]) if found else name
    return None if title == set_title(name, demo) else title


def _asv_point(manifests, name):
    """The ASV operating point of a 2019 LA set (its organisers' ASV scores), if present."""
    key = {"dev": "asv_dev", "2019LA_eval": "asv_eval"}.get(name)
    return asv_operating_point_of(manifests[key]) if key in manifests else None


def _c012(name, hparams):
    """The official C012 coefficients of a 2021 LA set (revised min t-DCF), else None."""
    corpus = _corpus_of(name, hparams)
    return official_c012("eval") if corpus is not None and corpus.official_c012 else None
