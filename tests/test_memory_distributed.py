"""MemoryBank under torch.distributed: two gloo processes end with identical banks."""

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from speechbrain_ssdctx.memory import MemoryBank

BATCH_SIZES = {0: [3, 2, 4], 1: [1, 2, 0]}  # uneven sizes, as with a short last batch


def rank_batch(rank: int, step: int) -> tuple[torch.Tensor, torch.Tensor]:
    count = BATCH_SIZES[rank][step]
    values = torch.arange(count, dtype=torch.float32) + 100 * rank + 10 * step
    return torch.stack([values, values + 0.5], dim=1), values.long() % 2 + rank


def worker(rank: int, init_file: str, out_dir: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    try:
        bank = MemoryBank(size=8, dim=2)
        for step in range(3):
            bank.enqueue(*rank_batch(rank, step))
        torch.save(
            {"embeddings": bank.embeddings, "labels": bank.labels}, f"{out_dir}/bank{rank}.pt"
        )
    finally:
        dist.destroy_process_group()


def test_all_ranks_hold_the_gathered_bank(tmp_path):
    mp.spawn(worker, args=(str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True)
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
