"""The InI machinery: a momentum (EMA) copy of the detector and a FIFO memory bank of its
embeddings.

Authors:
- speechbrain-ssdctx contributors (2025)
"""

import copy

import torch
import torch.distributed as dist
from speechbrain.utils.distributed import is_distributed_initialized

from speechbrain_ssdctx.utils.distributed import get_world_size, unwrap_ddp
from speechbrain_ssdctx.utils.module_state import (
    copy_hooked_state,
    load_hooked_state,
    save_hooked_state,
)


class MemoryBank(torch.nn.Module):
    """A FIFO queue of embeddings and their labels, kept in buffers.

    The queue lives in buffers, so it follows the module's device and is saved and
    restored with its ``state_dict`` (hence by SpeechBrain's Checkpointer). Under
    ``torch.distributed``, :meth:`enqueue` first all-gathers the entries of every rank
    (in rank order; ranks may hold different batch sizes), so all ranks keep identical
    banks.

    Arguments
    ---------
    size : int
        Capacity (number of entries).
    dim : int
        Embedding size.

    Example
    -------
    >>> bank = MemoryBank(size=3, dim=2)
    >>> bank.enqueue(torch.ones(2, 2), torch.tensor([1, 0]))
    >>> bank.enqueue(torch.zeros(2, 2), torch.tensor([0, 0]))
    >>> bank.embeddings
    tensor([[1., 1.],
            [0., 0.],
            [0., 0.]])
    >>> bank.labels
    tensor([0, 0, 0])
    """

    def __init__(self, size: int, dim: int):
        super().__init__()
        if size < 1 or dim < 1:
            raise ValueError(f"MemoryBank: size and dim must be positive, got {size}, {dim}")
        self.size = size
        self.dim = dim
        self.register_buffer("bank_embeddings", torch.zeros(size, dim))
        self.register_buffer("bank_labels", torch.zeros(size, dtype=torch.long))
        self.register_buffer("ptr", torch.zeros((), dtype=torch.long))
        self.register_buffer("filled", torch.zeros((), dtype=torch.long))

    def __len__(self) -> int:
        return int(self.filled)

    @property
    def embeddings(self) -> torch.Tensor:
        """``[filled, dim]`` stored embeddings, oldest first."""
        return self._in_fifo_order(self.bank_embeddings)

    @property
    def labels(self) -> torch.Tensor:
        """``[filled]`` labels of the stored embeddings, oldest first."""
        return self._in_fifo_order(self.bank_labels)

    def _in_fifo_order(self, storage: torch.Tensor) -> torch.Tensor:
        filled, ptr = int(self.filled), int(self.ptr)
        if filled < self.size:
            return storage[:filled]
        return torch.cat([storage[ptr:], storage[:ptr]])

    @torch.no_grad()
    def enqueue(self, embeddings: torch.Tensor, labels: torch.Tensor) -> None:
        """Appends a batch, dropping the oldest entries when the bank is full.

        Arguments
        ---------
        embeddings : torch.Tensor
            ``[N, dim]`` embeddings (stored detached, in float32). ``N`` may exceed
            the free space or even the size (then only the newest ``size`` remain).
        labels : torch.Tensor
            ``[N]`` (or ``[N, 1]``) integer labels.
        """
        labels = labels.reshape(-1)
        if embeddings.dim() != 2 or embeddings.shape[1] != self.dim:
            raise ValueError(
                f"MemoryBank.enqueue: embeddings must be [N, {self.dim}], "
                f"got {tuple(embeddings.shape)}"
            )
        if labels.numel() != embeddings.shape[0]:
            raise ValueError(
                f"MemoryBank.enqueue: {embeddings.shape[0]} embeddings but {labels.numel()} labels"
            )
        embeddings = embeddings.detach().float().to(self.bank_embeddings.device)
        labels = labels.detach().long().to(self.bank_labels.device)
        if is_distributed_initialized() and get_world_size() > 1:
            embeddings, labels = _all_gather_rows(embeddings, labels)
        count = embeddings.shape[0]
        # Only the newest `size` rows can survive; they land where a row-by-row write
        # of the whole batch would have left them.
        skipped = max(count - self.size, 0)
        embeddings, labels = embeddings[skipped:], labels[skipped:]
        start = int(self.ptr) + skipped
        index = (start + torch.arange(len(labels), device=labels.device)) % self.size
        self.bank_embeddings[index] = embeddings
        self.bank_labels[index] = labels
        self.ptr.fill_((int(self.ptr) + count) % self.size)
        self.filled.fill_(min(int(self.filled) + count, self.size))


def _all_gather_rows(*tensors: torch.Tensor) -> list[torch.Tensor]:
    """All-gathers tensors whose first dimension differs between ranks (pads, then trims)."""
    count = torch.tensor([tensors[0].shape[0]], device=tensors[0].device)
    counts = [torch.zeros_like(count) for _ in range(dist.get_world_size())]
    dist.all_gather(counts, count)
    counts = [int(c) for c in counts]
    gathered = []
    for tensor in tensors:
        padded = tensor.new_zeros((max(counts),) + tensor.shape[1:])
        padded[: tensor.shape[0]] = tensor
        pieces = [torch.zeros_like(padded) for _ in counts]
        dist.all_gather(pieces, padded)
        gathered.append(torch.cat([p[:c] for p, c in zip(pieces, counts, strict=True)]))
    return gathered


KEY_BATCHNORM = ("batch", "running")


class MomentumEncoder(torch.nn.Module):
    """A frozen copy of a detector that follows all of its state by moving average.

    After each optimiser step, :meth:`update` sets, for every parameter,
    ``theta_k = momentum * theta_k + (1 - momentum) * theta_q``. Everything else the
    detector's output depends on is copied from the online detector, not averaged:
    buffers (BatchNorm running statistics, ``num_batches_tracked``, fixed filterbanks:
    they already are running averages or constants; under DDP rank 0's are broadcast so
    that every rank holds the same copy) and the state SpeechBrain modules keep outside
    ``state_dict`` and save through their checkpoint hooks (the global statistics of
    ``InputNormalization``, see :mod:`speechbrain_ssdctx.utils.module_state`). That state is in
    this module's ``state_dict`` too, so a Checkpointer restores it.

    :class:`~speechbrain_ssdctx.method.context.ContextLoss` calls :meth:`sync` at its first
    training step (while :attr:`updates` is 0), so the copy starts from the detector as
    it is then, not as it was when this module was built: weights loaded into the
    detector afterwards (a Pretrainer, fine-tuning) are followed.

    How the copy computes the keys (``key_batchnorm``):

    - ``"batch"`` (default, as MoCo's key encoder): dropout off, BatchNorm normalises
      each key batch with its own statistics. The running statistics belong to the
      online weights, not to the lagging averaged ones: used with the averaged weights
      they make the keys nearly collapse onto one direction for thousands of steps (see
      ``benchmarks/bench_bank_separation.py``). A key batch of one utterance uses the
      running statistics (a single row has no batch statistics).
    - ``"running"``: the copy runs in eval mode, BatchNorm normalises with the running
      statistics copied from the online detector (this package's behaviour before 0.2).

    The online detector's own running statistics are never touched. The copy's
    parameters never require gradients and its ``forward`` runs under ``no_grad``.

    With ``share_frozen``, the detector's direct submodules whose parameters are all
    frozen (e.g. a frozen SSL front end of 300M parameters) are not copied: the copy
    calls the online submodule itself, in the online module's mode. A frozen submodule
    is the same in both (an EMA of equal weights changes nothing), so this saves its
    memory and its share of the checkpoint; it is left out of ``state_dict``. The copy
    reaches a shared submodule as an attribute (``self.front_end(x)``), so containers that
    iterate over their registered children (``nn.Sequential``...) cannot share.

    Arguments
    ---------
    module : torch.nn.Module
        The online detector (deep-copied; a DistributedDataParallel wrapper is removed).
    momentum : float
        alpha in [0, 1); 0 makes the copy follow the detector exactly.
    key_batchnorm : str
        ``"batch"`` or ``"running"`` (see above).
    share_frozen : bool
        Share (do not copy) the direct submodules that have parameters, all frozen.

    Example
    -------
    >>> online = torch.nn.Linear(2, 1)
    >>> encoder = MomentumEncoder(online, momentum=0.9)
    >>> with torch.no_grad():
    ...     _ = online.bias.fill_(1.0)
    ...     _ = encoder.module.bias.fill_(0.0)
    >>> encoder.update(online)
    >>> encoder.module.bias.data
    tensor([0.1000])

    Sharing a frozen front end:

    >>> class Detector(torch.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.front_end = torch.nn.Linear(4, 4).requires_grad_(False)
    ...         self.head = torch.nn.Linear(4, 2)
    ...     def forward(self, x):
    ...         return self.head(self.front_end(x))
    >>> online = Detector()
    >>> encoder = MomentumEncoder(online, share_frozen=True)
    >>> encoder.shared, encoder.module.front_end is online.front_end
    (('front_end',), True)
    >>> sorted(k for k in encoder.state_dict() if k.startswith("module."))
    ['module.head.bias', 'module.head.weight']
    """

    def __init__(
        self,
        module: torch.nn.Module,
        momentum: float = 0.999,
        key_batchnorm: str = "batch",
        share_frozen: bool = False,
    ):
        super().__init__()
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"MomentumEncoder: momentum must be in [0, 1), got {momentum}")
        if key_batchnorm not in KEY_BATCHNORM:
            raise ValueError(
                f"MomentumEncoder: key_batchnorm must be one of {KEY_BATCHNORM}, "
                f"got {key_batchnorm!r}"
            )
        self.momentum = momentum
        self.key_batchnorm = key_batchnorm
        online = unwrap_ddp(module)
        if share_frozen and isinstance(
            online, torch.nn.Sequential | torch.nn.ModuleList | torch.nn.ModuleDict
        ):
            raise ValueError(
                f"MomentumEncoder: share_frozen needs a module that calls its submodules as "
                f"attributes, not a {type(online).__name__}"
            )
        shared = {
            name: child
            for name, child in online.named_children()
            if share_frozen and _is_frozen(child)
        }
        self.shared = tuple(shared)
        self.module = copy.deepcopy(online, {id(child): child for child in shared.values()})
        for name, child in shared.items():
            # A plain attribute, not a registered submodule: the copy's forward calls it,
            # but it is neither averaged, moved, put in key mode nor saved here.
            del self.module._modules[name]
            object.__setattr__(self.module, name, child)
        self.module.requires_grad_(False)
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))
        self.train()

    def train(self, mode: bool = True) -> "MomentumEncoder":
        """Sets this wrapper's mode; the copy stays in its key-forward mode."""
        super().train(mode)
        self._key_mode(batch_statistics=self.key_batchnorm == "batch")
        return self

    def _key_mode(self, batch_statistics: bool) -> None:
        """Eval mode, except BatchNorm layers in training mode with batch statistics."""
        self.module.eval()
        for layer in self.module.modules():
            if isinstance(layer, torch.nn.modules.batchnorm._BatchNorm):
                layer.train(batch_statistics)

    @torch.no_grad()
    def sync(self, online: torch.nn.Module) -> None:
        """Makes the copy equal to ``online`` (parameters, buffers, hook state)."""
        self._follow(online, momentum=0.0)

    @torch.no_grad()
    def update(self, online: torch.nn.Module) -> None:
        """One EMA step of the parameters towards ``online``; the other state is copied.

        Arguments
        ---------
        online : torch.nn.Module
            The online detector (may be wrapped in DistributedDataParallel).
        """
        self._follow(online, self.momentum)

    def _follow(self, online: torch.nn.Module, momentum: float) -> None:
        online = unwrap_ddp(online)
        pairs = [
            (dict(self.module.named_parameters()), self._unshared(online.named_parameters())),
            (dict(self.module.named_buffers()), self._unshared(online.named_buffers())),
        ]
        for mine, theirs in pairs:
            if mine.keys() != theirs.keys():
                raise ValueError(
                    "MomentumEncoder.update: the online module's parameters or buffers differ "
                    f"from the copy's: {sorted(mine.keys() ^ theirs.keys())[:5]}"
                )
        params, buffers = pairs
        for name, param in params[0].items():
            param.mul_(momentum).add_(params[1][name].detach(), alpha=1.0 - momentum)
        for name, buffer in buffers[0].items():
            buffer.copy_(buffers[1][name])
        if self.shared:
            load_hooked_state(self.module, self._unshared(save_hooked_state(online).items()))
        else:
            copy_hooked_state(online, self.module)
        if is_distributed_initialized():
            # Without SyncBatchNorm (on the CPU) each rank's running statistics follow
            # its own batches; take rank 0's, as DDP does for the online module.
            for buffer in self.module.buffers():
                dist.broadcast(buffer, src=0)
        self.updates += 1

    def _unshared(self, named) -> dict:
        """The online module's named entries outside the shared submodules."""
        prefixes = tuple(f"{name}." for name in self.shared)
        return {
            name: value
            for name, value in named
            if name not in self.shared and not name.startswith(prefixes)
        }

    @torch.no_grad()
    def forward(self, wavs: torch.Tensor, *args, **kwargs):
        """Runs the copied detector without gradients (same arguments and outputs)."""
        single = self.key_batchnorm == "batch" and wavs.shape[0] == 1
        if single:
            self._key_mode(batch_statistics=False)
        try:
            return self.module(wavs, *args, **kwargs)
        finally:
            if single:
                self._key_mode(batch_statistics=True)

    def get_extra_state(self) -> dict:
        """The copy's hook-saved state (see :mod:`speechbrain_ssdctx.utils.module_state`)."""
        return {"hooked": save_hooked_state(self.module)}

    def set_extra_state(self, state: dict) -> None:
        """Restores the copy's hook-saved state."""
        load_hooked_state(self.module, state["hooked"])


def _is_frozen(module: torch.nn.Module) -> bool:
    """Whether a module has parameters and none of them is trainable."""
    params = list(module.parameters())
    return bool(params) and not any(p.requires_grad for p in params)
