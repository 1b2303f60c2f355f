"""The steps of a training recipe that are not the training loop itself.

``recipes/train.py`` reads like the paper's set-up: prepare the data (ASVspoof 2019 LA, or
the bundled demo corpus when no folder is given, plus 2021 LA / DF when given), build the
datasets, train with ``DetectorBrain``, then score every test set with the best dev-EER
checkpoint and write score files, ``results.json`` and ``results.md``. The functions here
do those steps, so other recipes can reuse them.

Authors
 * speechbrain-ssdctx contributors
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import ruamel.yaml
import speechbrain as sb
import torch
from hyperpyyaml import resolve_references
from speechbrain.utils.distributed import if_main_process, run_on_main

from speechbrain_ssdctx.data import (
    demo_corpus_folder,
    prepare_asvspoof2019_la,
    prepare_asvspoof2021,
)
from speechbrain_ssdctx.data.asvspoof import read_manifest
from speechbrain_ssdctx.data.dataio import load_datasets
from speechbrain_ssdctx.evaluation import asv_operating_point_of, evaluate_scores, official_c012
from speechbrain_ssdctx.metrics import write_score_file
from speechbrain_ssdctx.report import write_results

logger = logging.getLogger(__name__)


def resolved_value(hparams_file: str | os.PathLike, key: str, overrides=None):
    """Reads one top-level value of a HyperPyYAML file, references resolved, no objects built.

    Arguments
    ---------
    hparams_file : path
        The YAML file.
    key : str
        A top-level key.
    overrides : list of str or dict, optional
        Command-line style overrides (``["--seed=3"]``) or a mapping.

    Example
    -------
    >>> resolved_value("hparams/lcnn_inf_ini.yaml", "output_folder", ["--seed=7"])
    'results/lcnn_inf_ini/7'
    """
    return _resolved_tree(hparams_file, overrides)[key]


def _resolved_tree(hparams_file, overrides):
    if isinstance(overrides, list | tuple):
        _, _, overrides = sb.parse_arguments([os.fspath(hparams_file), *overrides])
    with open(hparams_file, encoding="utf-8") as stream:
        text = resolve_references(stream, overrides or {}).getvalue()
    return ruamel.yaml.YAML().load(text)


def eval_window(hparams) -> dict:
    """The evaluation window policy of the hparams, as ``load_datasets`` arguments."""
    policy = hparams["eval_window"]
    samples = None
    if policy == "first":
        samples = int(round(hparams["eval_seconds"] * hparams["sample_rate"]))
    return {"eval_policy": policy, "eval_num_samples": samples}


def prepare_manifests(hparams) -> dict[str, Path]:
    """Prepares every corpus the hparams name (on the main process) and returns the paths.

    Keys: ``train``, ``dev``, ``2019LA_eval`` (manifests), ``asv_dev``, ``asv_eval`` (ASV
    scores, when the corpus has them), ``2021LA_eval``, ``2021DF_eval`` (when given).
    """
    if hparams["data_folder"] is None:
        logger.info("No --data_folder: using the bundled demo corpus %s", demo_corpus_folder())
    run_on_main(_prepare_all, args=[hparams])
    return _prepare_all(hparams)  # up to date now: this only returns the paths


def _prepare_all(hparams) -> dict[str, Path]:
    save_folder, skip = Path(hparams["manifest_folder"]), hparams["skip_missing_audio"]
    paths = prepare_asvspoof2019_la(
        hparams["data_folder"] or demo_corpus_folder(), save_folder, skip_missing=skip
    )
    manifests = {"train": paths["train"], "dev": paths["dev"], "2019LA_eval": paths["eval"]}
    manifests.update({k: v for k, v in paths.items() if k.startswith("asv_")})
    for track in ("LA", "DF"):
        folder = hparams[f"{track.lower()}2021_folder"]
        if folder is not None:
            manifests[f"2021{track}_eval"] = prepare_asvspoof2021(
                folder, save_folder, track, hparams[f"{track.lower()}2021_keys"], skip
            )
    return manifests


def build_datasets(hparams, manifests: dict[str, Path]) -> dict:
    """The ``DynamicItemDataset`` of every manifest (random crops for ``train``).

    With ``max_utterances_per_class`` set, every set keeps only that many bona fide and
    that many spoofed utterances (the first ones), for quick checks.
    """
    csvs = {name: path for name, path in manifests.items() if not name.startswith("asv_")}
    datasets = load_datasets(
        csvs,
        train_num_samples=int(round(hparams["train_seconds"] * hparams["sample_rate"])),
        sample_rate=hparams["sample_rate"],
        bonafide_index=hparams.get("bonafide_index", 1),
        **eval_window(hparams),
    )
    limit = hparams["max_utterances_per_class"]
    if limit is not None:
        datasets = {name: _balanced_slice(data, limit) for name, data in datasets.items()}
    return datasets


def _balanced_slice(dataset, limit: int):
    keep, counts = set(), {}
    with dataset.output_keys_as(["id", "label_id"]):
        for item in dataset:
            label = item["label_id"]
            if counts.get(label, 0) < limit:
                counts[label] = counts.get(label, 0) + 1
                keep.add(item["id"])
    return dataset.filtered_sorted(key_test={"id": lambda utt: utt in keep})


def score_test_sets(brain, datasets: dict, manifests: dict[str, Path], hparams) -> dict:
    """Scores every evaluation set with the best dev-EER checkpoint and evaluates it.

    Writes ``scores/<set>.txt`` (``utt_id score``, for the official tools) and returns the
    reports (``speechbrain_ssdctx.evaluation.evaluate_scores``). A 2021 set prepared
    without keys is scored but not evaluated.
    """
    output = Path(hparams["output_folder"])
    results = {}
    loader = {"batch_size": hparams["eval_batch_size"], "num_workers": hparams["num_workers"]}
    for name in ("dev", "2019LA_eval", "2021LA_eval", "2021DF_eval"):
        if name not in datasets:
            continue
        brain.evaluate(datasets[name], min_key="EER", test_loader_kwargs=dict(loader))
        if if_main_process():
            write_score_file(
                output / "scores" / f"{name}.txt", list(brain.scores), list(brain.scores.values())
            )
        rows = read_manifest(manifests[name])
        if hparams["max_utterances_per_class"] is not None:  # a slice: only its trials
            rows = [row for row in rows if row["ID"] in brain.scores]
        if rows and rows[0]["label"] == "unknown":
            logger.warning("%s has no keys: scores written, no metrics.", name)
            continue
        results[name] = evaluate_scores(
            brain.scores, rows, asv=_asv_point(manifests, name), c012=_c012(name),
            score_name=f"{name} scores", key_name=str(manifests[name]),
        )
        logger.info("%s: EER %.3f%%", name, results[name]["eer_percent"])
    if if_main_process():
        write_results(results, output, demo=hparams["data_folder"] is None)
    return results


def finish_distributed() -> None:
    """Ends a DDP run cleanly: all ranks meet, then the process group is destroyed.

    Without it, a rank that exits while another still tears down its gloo connections
    can be aborted ("terminate called without an active exception").
    """
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


def _asv_point(manifests, name):
    """The ASV operating point of a 2019 LA set (its organisers' ASV scores), if present."""
    key = {"dev": "asv_dev", "2019LA_eval": "asv_eval"}.get(name)
    return asv_operating_point_of(manifests[key]) if key in manifests else None


def _c012(name):
    """The official C012 coefficients of 2021 LA (revised min t-DCF), else None."""
    return official_c012("eval") if name == "2021LA_eval" else None
