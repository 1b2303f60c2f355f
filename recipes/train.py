#!/usr/bin/env python3
"""Trains a synthetic speech detector with the InF + InI context strategy.

The paper's set-up (section 4.2): train on ASVspoof 2019 LA train, keep the checkpoint with
the lowest dev EER, evaluate it on 2019 LA eval and 2021 LA eval (and 2021 DF eval).
Which detector and which modules (InF, InI) are used is all in the YAML file.

    python recipes/train.py hparams/lcnn_inf_ini.yaml                    # demo (minutes)
    python recipes/train.py hparams/lcnn_inf_ini.yaml --data_folder=/path/to/LA \
        --la2021_folder=/path/to/2021 --la2021_keys=/path/to/keys
    torchrun --nproc_per_node=4 recipes/train.py hparams/aasist_inf_ini.yaml --data_folder=...

Without --data_folder the recipe trains the bundled demo corpus with the YAML's
demo_schedule (minutes, not the paper's 100 epochs) and says so. A mistake (a mistyped
override, a missing folder, a bad device) ends with one line; --traceback or
SSDCTX_TRACEBACK=1 shows the traceback. A run that is killed resumes from its last
checkpoint when started again with the same command. The output folder ends with
``scores/*.txt``, ``results.json`` and ``results.md`` (EER, min t-DCF, per-attack EER);
``ssdctx-export <output folder> <model folder>`` makes a shareable model of it.

The multi-GPU and precision settings are declared in the YAML (docs/multi_gpu.md); the
command line overrides them (``--precision=bf16``, ``--grad_accumulation_factor=2``...).
Only the main process (global rank 0) writes files.

Authors
 * speechbrain-ssdctx contributors
"""

import sys

import speechbrain as sb
from speechbrain.utils.distributed import if_main_process

from speechbrain_ssdctx.evaluation.report import results_markdown
from speechbrain_ssdctx.training.brain import DetectorBrain
from speechbrain_ssdctx.training.experiment import (
    build_datasets,
    prepare_manifests,
    score_test_sets,
)
from speechbrain_ssdctx.training.startup import is_demo_run, report_user_errors, start_recipe
from speechbrain_ssdctx.utils.distributed import finish_distributed


def main() -> None:
    """Prepares the data, trains, evaluates and reports (one run of the recipe)."""
    start = start_recipe(sys.argv[1:])  # checks, demo schedule, DDP group, hparams
    _hparams_file, run_opts, overrides, hparams = (
        start.hparams_file, start.run_opts, start.overrides, start.hparams
    )
    sb.create_experiment_directory(
        experiment_directory=hparams["output_folder"],
        overrides=overrides,
    )
    start.save_hparams()  # hyperparams.yaml: the YAML as run, its blocks merged
    start.announce()

    manifests = prepare_manifests(hparams)
    datasets = build_datasets(hparams, manifests)

    brain = DetectorBrain(
        modules=hparams["modules"],
        opt_class=hparams["opt_class"],
        hparams=hparams,
        run_opts=run_opts,
        checkpointer=hparams["checkpointer"],
    )
    brain.fit(
        brain.hparams.epoch_counter,
        datasets["train"],
        datasets["dev"],
        train_loader_kwargs=brain.loader_kwargs(sb.Stage.TRAIN),
        valid_loader_kwargs=brain.loader_kwargs(sb.Stage.VALID),
    )
    results = score_test_sets(brain, datasets, manifests, hparams)
    if if_main_process():
        print(results_markdown(results, demo=is_demo_run(hparams)))
        print(start.summary(results))
    finish_distributed()


if __name__ == "__main__":
    # One line for a user's mistake, even after create_experiment_directory replaced
    # sys.excepthook (its hook would print the traceback).
    with report_user_errors("train.py"):
        main()
