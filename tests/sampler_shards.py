"""A gloo process's share of a CorpusSampler epoch, as the Brain shards it (spawned by
tests/test_mixture.py; a module of its own so that each process imports little)."""

import atexit
import json
from pathlib import Path

import torch.distributed as dist
from speechbrain.dataio.sampler import DistributedSamplerWrapper

from speechbrain_ssdctx.data.sampling import CorpusSampler
from speechbrain_ssdctx.utils.distributed import finish_distributed


def shard_worker(rank: int, init_file: str, out_dir: str, corpora, weights, draws, seed,
                 epoch) -> None:
    """Writes ``rank<rank>.json``: the indices this process's loader gets for ``epoch``."""
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    sampler = CorpusSampler(corpora, weights, num_samples=draws, seed=seed)
    # speechbrain.core.Brain._train_loader_specifics's wrapping of a given sampler (the
    # number of processes and the rank from the process group).
    wrapper = DistributedSamplerWrapper(sampler, rank=dist.get_rank(), drop_last=False,
                                        shuffle=False)
    wrapper.set_epoch(epoch)
    Path(out_dir, f"rank{rank}.json").write_text(json.dumps(list(wrapper)))
    atexit.register(lambda: None)
    finish_distributed(0)
