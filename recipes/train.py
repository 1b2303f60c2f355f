#!/usr/bin/env python3
"""Trains a synthetic speech detector with the InF + InI context strategy.

The paper's set-up (section 4.2): train on ASVspoof 2019 LA train, keep the checkpoint with
the lowest dev EER, evaluate it on 2019 LA eval and 2021 LA eval (and 2021 DF eval).
Which detector and which modules (InF, InI) are used is all in the YAML file.

    python recipes/train.py hparams/lcnn_inf_ini.yaml                    # bundled demo corpus
    python recipes/train.py hparams/lcnn_inf_ini.yaml --data_folder=/path/to/LA \
        --la2021_folder=/path/to/2021 --la2021_keys=/path/to/keys
    torchrun --nproc_per_node=4 recipes/train.py hparams/aasist_inf_ini.yaml --data_folder=...

The multi-GPU and precision settings are declared in the YAML (docs/multi_gpu.md); the
command line overrides them (``--precision=bf16``, ``--grad_accumulation_factor=2``...).

A run that is killed resumes from its last checkpoint when started again with the same
command. The output folder ends with ``scores/*.txt``, ``results.json``, ``results.md``
(EER, min t-DCF, per-attack EER) and ``inference.yaml`` (for ``ssdctx-export``).

Authors
 * speechbrain-ssdctx contributors
"""

import sys

import speechbrain as sb
from hyperpyyaml import load_hyperpyyaml
from speechbrain.utils.distributed import if_main_process

from speechbrain_ssdctx.brain import DetectorBrain
from speechbrain_ssdctx.experiment import (
    build_datasets,
    prepare_manifests,
    run_options,
    score_test_sets,
    write_inference_yaml,
)
from speechbrain_ssdctx.report import results_markdown
from speechbrain_ssdctx.utils.distributed import finish_distributed

if __name__ == "__main__":
    hparams_file, run_opts, overrides = sb.parse_arguments(sys.argv[1:])
    run_opts = run_options(hparams_file, run_opts, overrides)  # the YAML's "auto" settled
    sb.utils.distributed.ddp_init_group(run_opts)
    with open(hparams_file, encoding="utf-8") as fin:
        hparams = load_hyperpyyaml(fin, overrides)
    sb.create_experiment_directory(
        experiment_directory=hparams["output_folder"],
        hyperparams_to_save=hparams_file,
        overrides=overrides,
    )
    if if_main_process():
        write_inference_yaml(
            hparams_file, overrides, f"{hparams['output_folder']}/inference.yaml", hparams
        )

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
        print(results_markdown(results))
    finish_distributed()
