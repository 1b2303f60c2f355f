"""The paper's total training loss, for any detector that returns ``(embedding, logits)``.

``L = L_cls(x) + L_cls(x_mask) + lambda_inf * L_InF + lambda_ini * L_InI``

Authors:
- speechbrain-ssdctx contributors (2025)
"""

import contextlib
from collections.abc import Callable

import torch
import torch.nn.functional as F
from speechbrain.augment.augmenter import Augmenter
from speechbrain.utils.callchains import lengths_arg_exists

from speechbrain_ssdctx.method.contract import CONTRACT, ContractError, as_labels, split_outputs
from speechbrain_ssdctx.method.losses import (
    KL_DIRECTIONS,
    ClassificationLoss,
    InterInstanceLoss,
    kl_consistency,
)
from speechbrain_ssdctx.method.masking import BandPassMasking
from speechbrain_ssdctx.method.memory import MemoryBank, MomentumEncoder
from speechbrain_ssdctx.utils.distributed import no_gradient_sync, unwrap_ddp
from speechbrain_ssdctx.utils.module_state import kept_state
from speechbrain_ssdctx.utils.reproducibility import PrivateRandomStream, RandomReplay

INI_VIEWS = ("clean", "masked", "both")
INF_VIEWS = ("joint", "sequential")
PARTS = ("cls", "cls_masked", "inf", "ini")


class ContextLoss(torch.nn.Module):
    """InF + InI training around any detector that returns an embedding and logits.

    :meth:`forward` runs the detector on the clean batch and (InF) on its masked copy,
    and returns the total loss and its parts. :meth:`after_step`, called after each
    optimiser step, moves the momentum encoder towards the detector and then enqueues
    the momentum embeddings of the step's clean batch into the memory bank.

    The detector contract (checked at every call, see :mod:`speechbrain_ssdctx.method.contract`):
    ``forward(wavs, lengths) -> (embedding [B, D], logits [B, 2])``, where SpeechBrain's
    shapes are accepted too (embedding ``[B, 1, D]``; logits ``[B, 1, 2]``, the
    log-probabilities or cosine scores of SpeechBrain's ``Classifier``, or one bona fide
    logit per row), and labels are ``[B]``, ``[B, 1]`` or ``PaddedData`` class indices
    (0 and 1, in the recipe's own label encoding). Anything else fails with a message
    stating the contract and what was received.

    The classification loss is called in SpeechBrain's layout, ``loss(predictions
    [B, 1, 2], targets [B, 1])``, so any SpeechBrain classification loss can be given in
    YAML (``!name:speechbrain.nnet.losses.nll_loss`` for log-probabilities,
    ``!new:speechbrain.nnet.losses.LogSoftmaxWrapper`` around
    ``AdditiveAngularMargin`` for AAM-softmax); the default is the cross-entropy.

    The masking (InF's second view) is :class:`~speechbrain_ssdctx.method.masking.BandPassMasking`
    by default, or any module ``masking(wavs, lengths) -> wavs`` or ``(wavs, lengths)``
    that returns one masked view of every utterance, e.g. SpeechBrain's ``Augmenter``.
    An ``Augmenter`` whose options change the batch size or skip the masking for some
    utterances (``concat_original``, ``augment_prob < 1``, ``min_augmentations = 0``,
    ``repeat_augment != 1``, ``parallel_augment`` without ``parallel_augment_fixed_bs``,
    augment start / end indices) is refused. The masking runs in a random stream of its
    own (:class:`~speechbrain_ssdctx.utils.reproducibility.PrivateRandomStream`, in this
    module's state dict): augmentations that draw from the global generators draw the
    same masks after a resume from a checkpoint, and leave the global generators alone.
    A masked view of another length than the clean one (a speed change) is padded in
    the joint batch; two passes run each view at its own length.

    Design choices (ours; the paper is silent):

    - Both views go through the detector as one concatenated batch (``joint_views``):
      one pass instead of two, so BatchNorm normalises the two views with shared
      batch statistics and its running statistics see both views once per step.
      ``joint_views=False`` runs two passes (each view normalised with its own batch
      statistics; running statistics then updated twice per step).
    - ``inf_views="sequential"`` trains view by view, at the activation memory of one
      view: the clean view's forward and backward, then the masked view's, each view's
      loss holding the terms of the total that depend on it with the other view's
      logits as constants in the KL term, so that the two backward passes sum to the
      gradient of the total (the same as joint mode's for a detector whose layers do
      not mix the examples of a batch; with BatchNorm in train mode, the gradient of
      ``joint_views=False``: each view normalised with its own batch statistics,
      running statistics updated twice per step). When the clean view's KL gradient
      needs the masked view's logits (``lambda_inf > 0`` without ``detach_target``), a
      forward pass of the masked view without gradient gives them first: about one
      more forward pass per step; the detector's buffers (BatchNorm running statistics)
      and hook-saved state are restored after it, and the masked view's pass with
      gradient replays its random draws (the same dropout masks). The backward passes
      run in :meth:`forward`, scaled by its ``scale_loss`` (``DetectorBrain`` passes
      its gradient-accumulation and fp16 scaling), outside autocast; under DDP the
      first one does not all-reduce (``no_sync``), so a step all-reduces once. The
      returned total then carries the loss's value and its ``backward()`` does
      nothing. The embeddings entering L_InI and the momentum keys are those of joint
      mode. Without InF, or with gradients disabled, it runs as joint mode does, with
      the views in two passes.
    - The momentum embeddings of the clean batch are computed in :meth:`forward`, with
      the encoder as it was before this step's update, and enqueued by
      :meth:`after_step` after the update (MoCo's order: the keys of step t come from
      the encoder updated at the end of step t - 1). This avoids a second momentum pass.
      The key forward is MoCo's by default (BatchNorm on the key batch's statistics,
      dropout off; ``key_batchnorm``, see
      :class:`~speechbrain_ssdctx.method.memory.MomentumEncoder`).
    - At the first training step the momentum encoder is synchronised with the
      detector (weights loaded after this module was built are followed).
    - With ``use_inf=True`` and ``lambda_inf=0`` (masked view as plain augmentation), the
      KL term is still computed without gradient, for logging.
    - Before the first :meth:`after_step` the bank is empty and ``L_InI`` is 0.

    The detector is deep-copied for the momentum encoder only; it is not registered
    here (it belongs to the Brain's modules, its parameters must be saved and
    optimised once). The state dict holds the momentum encoder (with all the state it
    follows), the memory bank and the masking's random state, so SpeechBrain's
    Checkpointer restores them.

    Arguments
    ---------
    detector : torch.nn.Module
        The online detector (see the contract above).
    embedding_dim : int or None
        Embedding size; ``None`` reads ``detector.embedding_dim`` (needed with InI).
    masking : torch.nn.Module or None
        The masking for InF; ``None`` builds a ``BandPassMasking`` with the paper's
        defaults.
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
        Joint mode: run the clean and masked views as one concatenated batch (see
        above).
    inf_views : str
        ``"joint"`` (default): both views' graphs are held until the caller's backward.
        ``"sequential"``: one view's at a time, the backward passes run in
        :meth:`forward` (see above).
    classification_loss_fn : callable or None
        ``(predictions [B, 1, 2], targets [B, 1]) -> 0-d loss`` (SpeechBrain's layout);
        ``None``: unweighted :class:`~speechbrain_ssdctx.method.losses.ClassificationLoss`.
    key_batchnorm : str
        How BatchNorm normalises the momentum encoder's keys: ``"batch"`` (default,
        MoCo) or ``"running"`` (the copied running statistics, as before 0.2).
    momentum_share_frozen : bool
        The momentum encoder shares (does not copy) the detector's frozen submodules,
        e.g. a frozen SSL front end: only the trainable head is duplicated (see
        :class:`~speechbrain_ssdctx.method.memory.MomentumEncoder`).

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

    Sequential mode: the gradients are in ``.grad`` when the call returns.

    >>> sequential = ContextLoss(detector, masking=BandPassMasking(seed=0), bank_size=8,
    ...                          inf_views="sequential")
    >>> detector.zero_grad()
    >>> total, parts = sequential(detector, wavs, lengths, labels)
    >>> detector.head.weight.grad is not None
    True
    >>> total.backward()  # does nothing
    """

    def __init__(
        self,
        detector: torch.nn.Module,
        embedding_dim: int | None = None,
        masking: torch.nn.Module | None = None,
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
        inf_views: str = "joint",
        classification_loss_fn=None,
        key_batchnorm: str = "batch",
        momentum_share_frozen: bool = False,
    ):
        super().__init__()
        if kl_direction not in KL_DIRECTIONS:
            raise ValueError(f"kl_direction must be one of {KL_DIRECTIONS}, got {kl_direction!r}")
        if inf_views not in INF_VIEWS:
            raise ValueError(f"inf_views must be one of {INF_VIEWS}, got {inf_views!r}")
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
        self.inf_views = inf_views
        self.classification_loss_fn = classification_loss_fn or ClassificationLoss()
        self.embedding_dim = None
        if use_inf:
            self.masking = masking if masking is not None else BandPassMasking()
            if isinstance(self.masking, Augmenter):
                check_augmenter(self.masking)
            self.masking_stream = PrivateRandomStream()
        if use_ini:
            detector = unwrap_ddp(detector)
            self.embedding_dim = _embedding_dim(detector, embedding_dim)
            self.momentum_encoder = MomentumEncoder(
                detector, momentum, key_batchnorm, share_frozen=momentum_share_frozen
            )
            self.memory = MemoryBank(bank_size, self.embedding_dim)
            self.ini_loss = InterInstanceLoss(temperature)
            self._pending: list[tuple[torch.Tensor, torch.Tensor]] = []

    def forward(
        self,
        detector: torch.nn.Module,
        wavs: torch.Tensor,
        lengths: torch.Tensor | None,
        labels,
        scale_loss: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Runs the detector on the view(s) and assembles the loss.

        With ``inf_views="sequential"`` (and InF, gradients enabled) the backward passes
        run here, view by view, and the returned total's ``backward()`` does nothing.

        Arguments
        ---------
        detector : torch.nn.Module
            The online detector (may be wrapped in DistributedDataParallel).
        wavs : torch.Tensor
            ``[B, T]`` clean waveforms.
        lengths : torch.Tensor or None
            ``[B]`` relative lengths (``None``: all full).
        labels : torch.Tensor or PaddedData
            ``[B]`` or ``[B, 1]`` class indices (0 and 1), or SpeechBrain's PaddedData.
        scale_loss : callable or None
            Sequential mode: what the caller does to a loss before ``backward()``
            (``DetectorBrain``: divide by ``grad_accumulation_factor``, then the fp16
            ``GradScaler``); ``None``: nothing. Unused in joint mode.

        Returns
        -------
        total : torch.Tensor
            0-d loss to back-propagate (sequential mode: already back-propagated).
        parts : dict
            0-d tensors: ``"cls"`` (clean view) and, when enabled, ``"cls_masked"``,
            ``"inf"`` (KL, before weighting) and ``"ini"`` (before weighting).
        """
        batch = wavs.shape[0]
        labels = as_labels(labels, batch).to(wavs.device)
        if lengths is None:
            lengths = torch.ones(batch, device=wavs.device)
        sequential = self.inf_views == "sequential"
        if self.use_inf and sequential and torch.is_grad_enabled():
            masked = self._mask(wavs, lengths)
            parts = self._sequential_backward(
                detector, (wavs, lengths), masked, labels, scale_loss or _unscaled
            )
            self._remember_keys(detector, wavs, lengths, labels)
            return _already_back_propagated(self._total(parts)), parts
        parts = {}
        if self.use_inf:
            masked, masked_lengths = self._mask(wavs, lengths)
            (embedding, logits), (embedding_masked, logits_masked) = self._two_views(
                detector, wavs, lengths, masked, masked_lengths,
                joint=self.joint_views and not sequential,
            )
            parts["cls"] = self._classification(logits, labels)
            parts["cls_masked"] = self._classification(logits_masked, labels)
            with torch.set_grad_enabled(torch.is_grad_enabled() and self.lambda_inf > 0):
                parts["inf"] = kl_consistency(
                    logits, logits_masked, self.kl_direction, self.detach_target
                )
        else:
            embedding, logits = self._detect(detector, wavs, lengths)
            parts["cls"] = self._classification(logits, labels)
        if self.use_ini:
            self._remember_keys(detector, wavs, lengths, labels)
            queries = {"clean": [embedding]}
            if self.use_inf:
                queries["masked"] = [embedding_masked]
                queries["both"] = [embedding, embedding_masked]
            losses = [self._ini(query, labels) for query in queries[self.ini_view]]
            parts["ini"] = torch.stack(losses).mean()
        return self._total(parts), parts

    def _total(self, parts: dict[str, torch.Tensor]) -> torch.Tensor:
        """``L_cls(x) + L_cls(x_mask) + lambda_inf L_InF + lambda_ini L_InI``."""
        total = parts["cls"]
        if self.use_inf:
            total = total + parts["cls_masked"]
            if self.lambda_inf > 0:
                total = total + self.lambda_inf * parts["inf"]
        if self.use_ini:
            total = total + self.lambda_ini * parts["ini"]
        return total

    def _ini(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """L_InI of online embeddings against the memory bank."""
        return self.ini_loss(embeddings, labels, self.memory.embeddings, self.memory.labels)

    def _remember_keys(self, detector, wavs, lengths, labels) -> None:
        """Training with InI: the momentum keys of the clean batch, for :meth:`after_step`."""
        if self.use_ini and self.training:
            self._pending.append((self._keys(detector, wavs, lengths), labels))

    def _sequential_backward(self, detector, clean, masked, labels, scale_loss):
        """Forward and backward of the clean view, then of the masked view; the parts.

        Each view's loss holds the terms of the total that depend on it, the other
        view's logits entering the KL as constants: the two backward passes sum to the
        gradient of the total. The clean view's KL gradient needs the masked view's
        logits: a pass without gradient gives them (the detector's buffers are restored
        after it, and the masked view's pass with gradient replays its random draws).
        The first backward does not all-reduce under DDP.
        """
        weights = {"clean": 1.0, "masked": 0.0, "both": 0.5}[self.ini_view]
        ini_weights = {"clean": weights, "masked": 1.0 - weights}
        needs_masked_logits = self.lambda_inf > 0 and not self.detach_target
        if needs_masked_logits:
            replay = RandomReplay(clean[0].device)
            with torch.no_grad(), kept_state(detector):
                fixed_masked = self._detect(detector, *masked)[1]
        parts = {}
        with no_gradient_sync(detector):
            embedding, logits = self._detect(detector, *clean)
            loss = self._classification(logits, labels)
            parts["cls"] = loss.detach()
            if needs_masked_logits:
                loss = loss + self.lambda_inf * kl_consistency(
                    logits, fixed_masked, self.kl_direction
                )
            loss = loss + self._weighted_ini(parts, embedding, labels, ini_weights["clean"])
            _backward(loss, scale_loss)
        logits = logits.detach()
        del embedding, loss
        with replay.replayed() if needs_masked_logits else contextlib.nullcontext():
            embedding, logits_masked = self._detect(detector, *masked)
        loss = self._classification(logits_masked, labels)
        parts["cls_masked"] = loss.detach()
        with torch.set_grad_enabled(self.lambda_inf > 0):
            inf = kl_consistency(logits, logits_masked, self.kl_direction)
        parts["inf"] = inf.detach()
        if self.lambda_inf > 0:
            loss = loss + self.lambda_inf * inf
        loss = loss + self._weighted_ini(parts, embedding, labels, ini_weights["masked"])
        _backward(loss, scale_loss)
        return {name: parts[name] for name in PARTS if name in parts}

    def _weighted_ini(self, parts, embedding, labels, weight):
        """``lambda_ini * weight * L_InI(embedding)`` (0 without InI or weight); the
        weighted value is added to ``parts["ini"]``."""
        if not self.use_ini or weight == 0:
            return 0.0
        value = weight * self._ini(embedding, labels)
        parts["ini"] = parts.get("ini", 0.0) + value.detach()
        return self.lambda_ini * value

    def _detect(self, detector, wavs, lengths, who="the detector"):
        """The detector's ``(embedding [B, D], logits [B, 2])``, checked."""
        return split_outputs(detector(wavs, lengths), wavs.shape[0], self.embedding_dim, who)

    def _classification(self, logits, labels):
        """The classification loss, called in SpeechBrain's layout."""
        return self.classification_loss_fn(logits.unsqueeze(1), labels.unsqueeze(1))

    def _mask(self, wavs, lengths):
        """The masked view (in the masking's own random stream) and its lengths."""
        with self.masking_stream.active(wavs.device):
            if lengths_arg_exists(self.masking.forward):
                masked = self.masking(wavs, lengths)
            else:
                masked = self.masking(wavs)
        masked, masked_lengths = masked if isinstance(masked, tuple | list) else (masked, lengths)
        if masked.shape[0] != wavs.shape[0] or masked.dim() != 2:
            raise ValueError(
                f"ContextLoss: the masking must return one masked waveform per utterance, "
                f"[B, T] with B = {wavs.shape[0]}; {type(self.masking).__name__} returned "
                f"{list(masked.shape)}"
            )
        if isinstance(self.masking, Augmenter) and not self.masking.do_augment:
            raise ValueError("ContextLoss: the masking Augmenter skipped this batch")
        return masked, masked_lengths

    def _two_views(self, detector, wavs, lengths, masked, masked_lengths, joint):
        """``((embedding, logits), (embedding_masked, logits_masked))``, in one pass
        (``joint``) or two."""
        if not joint:
            return self._detect(detector, wavs, lengths), self._detect(
                detector, masked, masked_lengths
            )
        batch = wavs.shape[0]
        both, both_lengths = _concatenate([wavs, masked], [lengths, masked_lengths])
        embeddings, logits = split_outputs(
            detector(both, both_lengths), 2 * batch, self.embedding_dim,
            "the detector (given the clean and masked views as one batch)",
        )
        return (embeddings[:batch], logits[:batch]), (embeddings[batch:], logits[batch:])

    def _keys(self, detector, wavs, lengths):
        """The momentum encoder's embeddings of the clean batch (synchronised first)."""
        if int(self.momentum_encoder.updates) == 0:
            self.momentum_encoder.sync(detector)
        keys, _ = split_outputs(
            self.momentum_encoder(wavs, lengths), wavs.shape[0], self.embedding_dim,
            "the momentum encoder (a copy of the detector)",
        )
        return keys

    def get_extra_state(self) -> dict:
        """The masking's random stream (with InF)."""
        return {"masking_stream": self.masking_stream.state()} if self.use_inf else {}

    def set_extra_state(self, state: dict) -> None:
        """Restores the masking's random stream."""
        if self.use_inf:
            self.masking_stream.load_state(state["masking_stream"])

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


def check_augmenter(augmenter: Augmenter) -> None:
    """Refuses ``Augmenter`` options that would not give one masked view per utterance.

    Arguments
    ---------
    augmenter : speechbrain.augment.augmenter.Augmenter
        The masking.

    Raises
    ------
    ValueError
        Naming every such option and why.

    Example
    -------
    >>> from speechbrain.augment.time_domain import DropFreq
    >>> check_augmenter(Augmenter(augmentations=[DropFreq()], concat_original=True))
    Traceback (most recent call last):
    ...
    ValueError: ContextLoss: the masking Augmenter must give exactly one masked view ...
    concat_original=True adds the clean batch to the masked one (the batch size changes)
    """
    problems = []
    if augmenter.concat_original:
        problems.append(
            "concat_original=True adds the clean batch to the masked one (the batch size "
            "changes)"
        )
    if augmenter.augment_prob < 1:
        problems.append(
            f"augment_prob={augmenter.augment_prob} < 1 leaves whole batches unmasked "
            "(the masked view would equal the clean one)"
        )
    if augmenter.min_augmentations == 0:
        problems.append("min_augmentations=0 lets some batches get no augmentation at all")
    if augmenter.repeat_augment != 1:
        problems.append(
            f"repeat_augment={augmenter.repeat_augment} repeats the batch (set it to 1)"
        )
    if augmenter.parallel_augment and not augmenter.parallel_augment_fixed_bs:
        problems.append(
            "parallel_augment=True makes one batch per augmentation (add "
            "parallel_augment_fixed_bs=True)"
        )
    if augmenter.augment_start_index != 0 or augmenter.augment_end_index is not None:
        problems.append("augment_start_index / augment_end_index mask only part of the batch")
    if not augmenter.augmentations:
        problems.append("it has no augmentations")
    if problems:
        raise ValueError(
            "ContextLoss: the masking Augmenter must give exactly one masked view of every "
            "utterance (InF compares each utterance with its own masked view): "
            + "; ".join(problems)
        )


def _embedding_dim(detector: torch.nn.Module, embedding_dim: int | None) -> int:
    """``embedding_dim``, else the detector's attribute, else an error naming both."""
    if embedding_dim is None:
        embedding_dim = getattr(detector, "embedding_dim", None)
    if embedding_dim is None:
        raise ContractError(
            f"ContextLoss with use_ini=True needs the embedding size D of {CONTRACT} for "
            f"its memory bank: pass embedding_dim=<D> (the detector, "
            f"{type(detector).__name__}, has no embedding_dim attribute)"
        )
    return int(embedding_dim)


def _unscaled(loss: torch.Tensor) -> torch.Tensor:
    return loss


def _backward(loss: torch.Tensor, scale_loss) -> None:
    """``scale_loss(loss).backward()`` outside autocast (backward passes should not run
    under it)."""
    with torch.autocast(device_type=loss.device.type, enabled=False):
        scale_loss(loss).backward()


def _already_back_propagated(total: torch.Tensor) -> torch.Tensor:
    """``total``'s value, as a tensor whose ``backward()`` reaches no parameter."""
    return total.detach() + torch.zeros((), device=total.device, requires_grad=True)


def _concatenate(waves: list[torch.Tensor], lengths: list[torch.Tensor]):
    """Concatenates batches of waveforms on the batch axis, right-padding the shorter
    ones and rescaling their relative lengths."""
    longest = max(wave.shape[1] for wave in waves)
    lengths = [length * wave.shape[1] / longest for wave, length in zip(waves, lengths,
                                                                            strict=True)]
    waves = [F.pad(wave, (0, longest - wave.shape[1])) for wave in waves]
    return torch.cat(waves), torch.cat(lengths)
