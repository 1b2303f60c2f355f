"""Multi-process (DDP) training on the CPU with gloo, as ``torchrun`` runs it."""

import json
import socket
import subprocess
import sys

import pytest
import torch
from recipe_utils import ROOT, recipe_env, run_train

from speechbrain_ssdctx.scores import read_score_file

pytestmark = pytest.mark.slow  # recipe, DDP or end-to-end runs


def torchrun(nproc=2) -> list[str]:
    with socket.socket() as probe:  # a free port for the rendezvous
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}",
            "--master_addr=127.0.0.1", f"--master_port={port}"]


def test_ranks_share_bank_and_momentum_encoder_but_draw_different_bands(tmp_path):
    output = tmp_path / "ddp"
    output.mkdir()
    command = [
        *torchrun(), str(ROOT / "tests" / "ddp_worker.py"),
        str(ROOT / "hparams" / "lcnn_inf_ini.yaml"), "--distributed_backend=gloo",
        f"--output_folder={output}", "--number_of_epochs=2", "--max_utterances_per_class=4",
        "--train_seconds=1.0", "--eval_seconds=1.0", "--batch_size=2", "--eval_batch_size=3",
        "--noprogressbar",
    ]
    process = subprocess.run(command, cwd=tmp_path, env=recipe_env(), capture_output=True,
                             text=True, timeout=600)
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]
    ranks = [torch.load(output / f"rank{r}.pt", weights_only=True) for r in (0, 1)]

    # 8 training utterances split over 2 ranks, batches of 2, 2 epochs: every step
    # enqueues the momentum embeddings of both ranks (4 rows), so 16 rows in all.
    assert ranks[0]["bank"].shape == (16, 80)
    assert torch.equal(ranks[0]["bank"], ranks[1]["bank"])
    assert torch.equal(ranks[0]["bank_labels"], ranks[1]["bank_labels"])
    assert sorted(ranks[0]["bank_labels"].tolist()) == [0] * 8 + [1] * 8
    for name in ("momentum", "detector"):
        assert ranks[0][name].keys() == ranks[1][name].keys()
        for key, value in ranks[0][name].items():
            if isinstance(value, torch.Tensor):
                assert torch.equal(value, ranks[1][name][key]), (name, key)
            else:  # the hook-saved state of the momentum encoder (none for LCNN)
                assert value == ranks[1][name][key] == {"hooked": {}}, (name, key)
    # Each rank masked its own utterances with its own bands.
    assert ranks[0]["bands"].numel() == ranks[1]["bands"].numel() == 8
    assert not set(ranks[0]["bands"].tolist()) & set(ranks[1]["bands"].tolist())
    # Dev scores are gathered from both ranks: every rank holds all 8 trials.
    assert ranks[0]["dev_scores"] == ranks[1]["dev_scores"]
    assert len(ranks[0]["dev_scores"]) == 8


def test_train_py_under_torchrun_writes_results_once(tmp_path):
    output = tmp_path / "run"
    output.mkdir()
    run_train("lcnn_inf_ini.yaml", output, "--distributed_backend=gloo",
              "--max_utterances_per_class=4", launcher=torchrun())
    results = json.loads((output / "results.json").read_text())
    assert results["dev"]["bonafide"] == results["dev"]["spoof"] == 4
    assert len(read_score_file(output / "scores" / "2019LA_eval.txt")) == 8
    epochs = [x for x in (output / "train_log.txt").read_text().splitlines() if "epoch:" in x]
    assert len(epochs) == 1  # logged by rank 0 only
