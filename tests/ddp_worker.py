"""Launched by test_ddp.py under torchrun: trains briefly with DDP, saves this rank's state.

Usage: torchrun --nproc_per_node=2 tests/ddp_worker.py HPARAMS --distributed_backend=gloo
    --output_folder=DIR [overrides]
"""

import sys

import speechbrain as sb
import torch
from hyperpyyaml import load_hyperpyyaml

from speechbrain_ssdctx.brain import DetectorBrain
from speechbrain_ssdctx.experiment import build_datasets, finish_distributed, prepare_manifests
from speechbrain_ssdctx.memory import unwrap_ddp

if __name__ == "__main__":
    hparams_file, run_opts, overrides = sb.parse_arguments(sys.argv[1:])
    sb.utils.distributed.ddp_init_group(run_opts)
    with open(hparams_file) as stream:
        hparams = load_hyperpyyaml(stream, overrides)
    datasets = build_datasets(hparams, prepare_manifests(hparams))
    brain = DetectorBrain(
        modules=hparams["modules"], opt_class=hparams["opt_class"], hparams=hparams,
        run_opts=run_opts, checkpointer=hparams["checkpointer"],
    )
    # Record the masking bands this rank draws.
    masking, bands = hparams["masking"], []
    draw = masking.sample_low_freqs

    def recording_draw(batch_size):
        bands.append(draw(batch_size))
        return bands[-1]

    masking.sample_low_freqs = recording_draw
    brain.fit(
        hparams["epoch_counter"], datasets["train"], datasets["dev"],
        train_loader_kwargs={"batch_size": hparams["batch_size"], "shuffle": True},
        valid_loader_kwargs={"batch_size": hparams["eval_batch_size"]},
    )
    context = brain.modules.context
    rank = torch.distributed.get_rank()
    torch.save(
        {
            "bank": context.memory.embeddings,
            "bank_labels": context.memory.labels,
            "momentum": context.momentum_encoder.state_dict(),
            "detector": unwrap_ddp(brain.modules.detector).state_dict(),
            "bands": torch.cat(bands),
            "dev_scores": brain.score_stats.scores,
        },
        f"{hparams['output_folder']}/rank{rank}.pt",
    )
    finish_distributed()
