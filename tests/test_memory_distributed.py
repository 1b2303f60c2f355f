"""MemoryBank and ContextLoss under torch.distributed: two gloo processes stay in sync.

The spawned processes end with ``finish_distributed`` (barrier, destroy, immediate exit):
a normal interpreter exit could race with gloo's threads, which outlive the process group,
and abort a process (``terminate called without an active exception``, seen once on a
loaded machine; docs/multi_gpu.md; ``benchmarks/stress_ddp.py`` counts it).
"""

import atexit
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel

from speechbrain_ssdctx.method.context import ContextLoss
from speechbrain_ssdctx.method.masking import BandPassMasking
from speechbrain_ssdctx.method.memory import MemoryBank
from speechbrain_ssdctx.utils.distributed import finish_distributed

pytestmark = pytest.mark.slow  # recipe, DDP or end-to-end runs

BATCH_SIZES = {0: [3, 2, 4], 1: [1, 2, 0]}  # uneven sizes, as with a short last batch


def rank_batch(rank: int, step: int) -> tuple[torch.Tensor, torch.Tensor]:
    count = BATCH_SIZES[rank][step]
    values = torch.arange(count, dtype=torch.float32) + 100 * rank + 10 * step
    return torch.stack([values, values + 0.5], dim=1), values.long() % 2 + rank


def worker(rank: int, init_file: str, out_dir: str) -> None:
    """Runs both scenarios in one process group (spawning is the slow part)."""
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    bank = MemoryBank(size=8, dim=2)
    for step in range(3):
        bank.enqueue(*rank_batch(rank, step))
    torch.save({"embeddings": bank.embeddings, "labels": bank.labels}, f"{out_dir}/bank{rank}.pt")
    context_steps(rank, out_dir)
    # The interpreter's teardown, where gloo's threads could abort the process, must not
    # run at all: atexit handlers are its first step.
    atexit.register(Path(f"{out_dir}/teardown{rank}").touch)
    finish_distributed(0)  # an error above propagates instead: spawn reports it
    Path(f"{out_dir}/after_finish{rank}").touch()  # never runs


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("ddp")
    mp.spawn(worker, args=(str(out_dir / "init"), str(out_dir)), nprocs=2, join=True)
    return out_dir


def test_processes_end_without_interpreter_teardown(outputs):
    for rank in (0, 1):
        assert (outputs / f"context{rank}.pt").exists()  # the work before finish was done
        assert not (outputs / f"after_finish{rank}").exists()
        assert not (outputs / f"teardown{rank}").exists()


def test_all_ranks_hold_the_gathered_bank(outputs):
    tmp_path = outputs
    rows, labels = [], []
    for step in range(3):
        for rank in (0, 1):  # all-gather order: rank 0's rows, then rank 1's
            embeddings, batch_labels = rank_batch(rank, step)
            rows += embeddings.tolist()
            labels += batch_labels.tolist()
    for rank in (0, 1):
        bank = torch.load(tmp_path / f"bank{rank}.pt")
        assert bank["embeddings"].tolist() == rows[-8:]
        assert bank["labels"].tolist() == labels[-8:]


def context_steps(rank: int, out_dir: str) -> None:
    """Two DDP training steps with ContextLoss; each rank saves its state."""
    torch.manual_seed(0)
    detector = Detector()
    context = ContextLoss(detector, masking=BandPassMasking(seed=1), bank_size=16)
    ddp = DistributedDataParallel(detector)
    optimizer = torch.optim.SGD(ddp.parameters(), lr=0.1)
    for step in range(2):
        wavs = torch.randn(3 + rank, 800, generator=torch.Generator().manual_seed(rank + step))
        labels = torch.arange(3 + rank) % 2
        optimizer.zero_grad()
        total, _ = context(ddp, wavs, torch.ones(3 + rank), labels)
        total.backward()
        optimizer.step()
        context.after_step(ddp)
    torch.save(
        {"state": context.state_dict(), "lows": context.masking.sample_low_freqs(4)},
        f"{out_dir}/context{rank}.pt",
    )


class Detector(torch.nn.Module):
    embedding_dim = 3

    def __init__(self):
        super().__init__()
        self.encoder = torch.nn.Linear(800, 3)
        self.head = torch.nn.Linear(3, 2)

    def forward(self, wavs, lengths=None):
        embedding = self.encoder(wavs)
        return embedding, self.head(embedding)


def test_context_loss_under_ddp_keeps_ranks_in_sync(outputs):
    first, second = (torch.load(outputs / f"context{rank}.pt") for rank in (0, 1))
    assert len(first["state"]["memory.bank_embeddings"]) == 16
    assert int(first["state"]["memory.filled"]) == 2 * (3 + 4)
    for key, value in first["state"].items():
        if key not in ("masking._extra_state", "_extra_state"):  # the masking's random
            torch.testing.assert_close(value, second["state"][key], msg=key)  # streams
    assert not torch.equal(first["lows"], second["lows"])  # ranks draw different bands
