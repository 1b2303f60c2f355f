"""The paper's total training loss, for any detector that returns ``(embedding, logits)``.

``L = L_cls(x) + L_cls(x_mask) + lambda_inf * L_InF + lambda_ini * L_InI``

Authors:
- speechbrain-ssdctx contributors (2025)
"""

import torch
import torch.nn.functional as F

from speechbrain_ssdctx.augment import BandPassMasking
from speechbrain_ssdctx.losses import KL_DIRECTIONS, InterInstanceLoss, kl_consistency
from speechbrain_ssdctx.memory import MemoryBank, MomentumEncoder, unwrap_ddp

INI_VIEWS = ("clean", "masked", "both")


def classification_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy on ``[B, C]`` logits, or binary cross-entropy on one logit per row.

    Arguments
    ---------
    logits : torch.Tensor
        ``[B, C]`` logits, or ``[B]`` / ``[B, 1]`` bona fide log-odds.
    labels : torch.Tensor
        ``[B]`` class indices (bonafide = 1, spoof = 0).

    Returns
    -------
    torch.Tensor
        0-d loss, averaged over the batch.

    Example
    -------
    >>> float(classification_loss(torch.zeros(4, 2), torch.tensor([0, 1, 1, 0])))
    0.6931...
    >>> float(classification_loss(torch.zeros(4), torch.tensor([0, 1, 1, 0])))
    0.6931...
    """
    if logits.dim() == 1 or logits.shape[-1] == 1:
        return F.binary_cross_entropy_with_logits(logits.reshape(-1).float(), labels.float())
    return F.cross_entropy(logits.float(), labels)


class ContextLoss(torch.nn.Module):
    """InF + InI training around a detector whose forward returns ``(embedding, logits)``.

    :meth:`forward` runs the detector on the clean batch and (InF) on its band-pass
    masked copy, and returns the total loss and its parts. :meth:`after_step`, called
    after each optimiser step, moves the momentum encoder towards the detector and then
    enqueues the momentum embeddings of the step's clean batch into the memory bank.

    Design choices (ours; the paper is silent):

    - Both views go through the detector as one concatenated batch (``joint_views``):
      one pass instead of two, so BatchNorm normalises the two views with shared
      batch statistics and its running statistics see both views once per step.
      ``joint_views=False`` runs two passes (each view normalised with its own batch
      statistics; running statistics then updated twice per step).
    - The momentum embeddings of the clean batch are computed in :meth:`forward`, with
      the encoder as it was before this step's update, and enqueued by
      :meth:`after_step` after the update (MoCo's order: the keys of step t come from
      the encoder updated at the end of step t - 1). This avoids a second momentum pass.
    - With ``use_inf=True`` and ``lambda_inf=0`` (masked view as plain augmentation), the
      KL term is still computed without gradient, for logging.
    - Before the first :meth:`after_step` the bank is empty and ``L_InI`` is 0.

    The detector is deep-copied for the momentum encoder only; it is not registered
    here (it belongs to the Brain's modules, its parameters must be saved and
    optimised once). The state dict holds the momentum encoder, the memory bank and
    the masking generator's state, so SpeechBrain's Checkpointer restores them.

    Arguments
    ---------
    detector : torch.nn.Module
        The online detector, ``forward(wavs, lengths) -> (embedding, logits)``.
    embedding_dim : int or None
        Embedding size; ``None`` reads ``detector.embedding_dim``.
    masking : BandPassMasking or None
        The masking module for InF; ``None`` builds one with the paper's defaults.
    use_inf : bool
        Classify the masked view too and add the KL consistency term.
    use_ini : bool
        Add the inter-instance term (momentum encoder + memory bank).
    lambda_inf : float
        Weight of L_InF (paper: 0.1). 0 keeps the masked view as plain augmentation.
    lambda_ini : float
        Weight of L_InI (paper: 1 for LCNN, 0.0001 for AASIST).
    kl_direction : str
        ``"forward"`` (KL(q || q_mask)), ``"reverse"`` or ``"symmetric"``.
    detach_target : bool
        No gradient through the clean view in the KL term.
    bank_size : int
        Memory bank capacity (ours: 4096).
    momentum : float
        EMA momentum of the momentum encoder (ours: 0.999).
    temperature : float
        tau of L_InI (paper: 1).
    ini_view : str
        Which online embeddings are compared with the bank: ``"clean"`` (default),
        ``"masked"`` or ``"both"`` (mean of the two losses); the last two need InF.
    joint_views : bool
        Run the clean and masked views as one concatenated batch (see above).
    classification_loss_fn : callable or None
        ``(logits, labels) -> 0-d loss``; ``None``: :func:`classification_loss`.
    momentum_share_frozen : bool
        The momentum encoder shares (does not copy) the detector's frozen submodules,
        e.g. a frozen SSL front end: only the trainable head is duplicated (see
        :class:`~speechbrain_ssdctx.memory.MomentumEncoder`).

    Example
    -------
    >>> class Toy(torch.nn.Module):
    ...     embedding_dim = 4
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.encoder = torch.nn.Linear(16000, 4)
    ...         self.head = torch.nn.Linear(4, 2)
    ...     def forward(self, wavs, lengths=None):
    ...         embedding = self.encoder(wavs)
    ...         return embedding, self.head(embedding)
    >>> detector = Toy()
    >>> context = ContextLoss(detector, masking=BandPassMasking(seed=0), bank_size=8)
    >>> wavs, lengths, labels = torch.randn(2, 16000), torch.ones(2), torch.tensor([1, 0])
    >>> total, parts = context(detector, wavs, lengths, labels)
    >>> sorted(parts)
    ['cls', 'cls_masked', 'inf', 'ini']
    >>> total.backward()
    >>> context.after_step(detector)
    >>> len(context.memory)
    2
    """

    def __init__(
        self,
        detector: torch.nn.Module,
        embedding_dim: int | None = None,
        masking: BandPassMasking | None = None,
        use_inf: bool = True,
        use_ini: bool = True,
        lambda_inf: float = 0.1,
        lambda_ini: float = 1.0,
        kl_direction: str = "forward",
        detach_target: bool = False,
        bank_size: int = 4096,
        momentum: float = 0.999,
        temperature: float = 1.0,
        ini_view: str = "clean",
        joint_views: bool = True,
        classification_loss_fn=None,
        momentum_share_frozen: bool = False,
    ):
        super().__init__()
        if kl_direction not in KL_DIRECTIONS:
            raise ValueError(f"kl_direction must be one of {KL_DIRECTIONS}, got {kl_direction!r}")
        if ini_view not in INI_VIEWS:
            raise ValueError(f"ini_view must be one of {INI_VIEWS}, got {ini_view!r}")
        if ini_view != "clean" and not use_inf:
            raise ValueError(f"ini_view={ini_view!r} needs the masked view: set use_inf=True")
        if lambda_inf < 0 or lambda_ini < 0:
            raise ValueError(f"weights must be >= 0, got {lambda_inf=}, {lambda_ini=}")
        self.use_inf = use_inf
        self.use_ini = use_ini
        self.lambda_inf = lambda_inf
        self.lambda_ini = lambda_ini
        self.kl_direction = kl_direction
        self.detach_target = detach_target
        self.ini_view = ini_view
        self.joint_views = joint_views
        self.classification_loss_fn = classification_loss_fn or classification_loss
        if use_inf:
            self.masking = masking if masking is not None else BandPassMasking()
        if use_ini:
            detector = unwrap_ddp(detector)
            if embedding_dim is None:
                embedding_dim = detector.embedding_dim
            self.momentum_encoder = MomentumEncoder(
                detector, momentum=momentum, share_frozen=momentum_share_frozen
            )
            self.memory = MemoryBank(bank_size, embedding_dim)
            self.ini_loss = InterInstanceLoss(temperature)
            self._pending: list[tuple[torch.Tensor, torch.Tensor]] = []

    def forward(
        self,
        detector: torch.nn.Module,
        wavs: torch.Tensor,
        lengths: torch.Tensor | None,
        labels: torch.Tensor,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Runs the detector on the view(s) and assembles the loss.

        Arguments
        ---------
        detector : torch.nn.Module
            The online detector (may be wrapped in DistributedDataParallel).
        wavs : torch.Tensor
            ``[B, T]`` clean waveforms.
        lengths : torch.Tensor or None
            ``[B]`` relative lengths (``None``: all full).
        labels : torch.Tensor
            ``[B]`` or ``[B, 1]`` labels, bonafide = 1, spoof = 0.

        Returns
        -------
        total : torch.Tensor
            0-d loss to back-propagate.
        parts : dict
            0-d tensors: ``"cls"`` (clean view) and, when enabled, ``"cls_masked"``,
            ``"inf"`` (KL, before weighting) and ``"ini"`` (before weighting).
        """
        labels = labels.reshape(-1).long()
        if lengths is None:
            lengths = torch.ones(wavs.shape[0], device=wavs.device)
        parts = {}
        if self.use_inf:
            masked, _ = self.masking(wavs, lengths)
            (embedding, logits), (embedding_masked, logits_masked) = self._two_views(
                detector, wavs, masked, lengths
            )
            parts["cls"] = self.classification_loss_fn(logits, labels)
            parts["cls_masked"] = self.classification_loss_fn(logits_masked, labels)
            with torch.set_grad_enabled(torch.is_grad_enabled() and self.lambda_inf > 0):
                parts["inf"] = kl_consistency(
                    logits, logits_masked, self.kl_direction, self.detach_target
                )
        else:
            embedding, logits = detector(wavs, lengths)
            parts["cls"] = self.classification_loss_fn(logits, labels)
        if self.use_ini:
            if self.training:
                self._pending.append((self.momentum_encoder(wavs, lengths)[0], labels))
            queries = {"clean": [embedding]}
            if self.use_inf:
                queries["masked"] = [embedding_masked]
                queries["both"] = [embedding, embedding_masked]
            bank = (self.memory.embeddings, self.memory.labels)
            losses = [self.ini_loss(query, labels, *bank) for query in queries[self.ini_view]]
            parts["ini"] = torch.stack(losses).mean()
        total = parts["cls"]
        if self.use_inf:
            total = total + parts["cls_masked"]
            if self.lambda_inf > 0:
                total = total + self.lambda_inf * parts["inf"]
        if self.use_ini:
            total = total + self.lambda_ini * parts["ini"]
        return total, parts

    def _two_views(self, detector, wavs, masked, lengths):
        """``((embedding, logits), (embedding_masked, logits_masked))``."""
        if not self.joint_views:
            return detector(wavs, lengths), detector(masked, lengths)
        batch = wavs.shape[0]
        embeddings, logits = detector(torch.cat([wavs, masked]), torch.cat([lengths, lengths]))
        return (embeddings[:batch], logits[:batch]), (embeddings[batch:], logits[batch:])

    @torch.no_grad()
    def after_step(self, detector: torch.nn.Module) -> None:
        """Momentum update towards ``detector``, then enqueue of the pending embeddings.

        Call it after every optimiser step (with gradient accumulation, the embeddings
        of all the accumulated batches are enqueued). Under DDP every rank must call it
        (the bank's enqueue all-gathers). Does nothing without InI.

        Arguments
        ---------
        detector : torch.nn.Module
            The online detector (may be wrapped in DistributedDataParallel).
        """
        if not self.use_ini:
            return
        self.momentum_encoder.update(detector)
        if self._pending:
            embeddings = torch.cat([emb for emb, _ in self._pending])
            labels = torch.cat([lab for _, lab in self._pending])
        else:
            embeddings = self.memory.bank_embeddings.new_zeros(0, self.memory.dim)
            labels = self.memory.bank_labels.new_zeros(0)
        self._pending.clear()
        self.memory.enqueue(embeddings, labels)
