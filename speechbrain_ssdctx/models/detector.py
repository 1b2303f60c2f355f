"""A generic detector assembled from SpeechBrain lobes: features, encoder, classifier.

Lets any SpeechBrain embedding model (ECAPA-TDNN, x-vector, ResNet...) be trained with
InF and InI from a YAML file only, with the (embedding, logits) interface of the
package's detectors.

Authors
 * speechbrain-ssdctx contributors
"""

from __future__ import annotations

import inspect

import torch
from torch import nn

from speechbrain_ssdctx.method.contract import ContractError, as_embedding, as_logits
from speechbrain_ssdctx.utils.module_state import HookedStateMixin


class Detector(HookedStateMixin, nn.Module):
    """Synthetic speech detector: waveform -> features -> encoder -> embedding -> logits.

    ``wavs -> features(wavs, lengths) -> normalize(feats, lengths) -> encoder(feats,
    lengths) -> embedding -> classifier(embedding) -> logits``. The front end is inside
    the forward path, so InF can mask the waveform first. A front end whose ``forward``
    takes relative lengths (a ``lengths`` or ``wav_lens`` argument: SSL front ends such as
    :class:`~speechbrain_ssdctx.models.ssl.SSLEncoder` and SpeechBrain's HuggingFace lobes,
    whose transformers then mask the padding) gets them, in training, evaluation and
    exported models alike; others (``Fbank``) get the waveforms only. The lobes may
    return SpeechBrain's shapes (see :mod:`speechbrain_ssdctx.method.contract`): an encoder
    output ``[batch, 1, dim]`` (x-vector, ECAPA-TDNN) is squeezed to ``[batch, dim]``; a
    classifier output
    ``[batch, 1, 2]`` (SpeechBrain's ``Classifier``: cosine scores for AAM-softmax, or
    log-probabilities) or a single bona fide logit becomes ``[batch, 2]`` logits.

    The state that SpeechBrain modules keep outside ``state_dict`` and save through
    their checkpoint hooks (the global statistics of
    ``InputNormalization(norm_type="global")``) is part of this module's ``state_dict``
    (see :class:`~speechbrain_ssdctx.utils.module_state.HookedStateMixin`), so a Checkpointer
    that saves the detector whole, and an export, keep it.

    Arguments
    ---------
    features : torch.nn.Module
        Maps ``[batch, time]`` waveforms to ``[batch, frames, feats]`` features, e.g.
        ``speechbrain.lobes.features.Fbank``.
    encoder : torch.nn.Module
        Maps features (and relative lengths, passed as the second argument unless
        ``pass_lengths`` is False) to an embedding ``[batch, dim]`` or ``[batch, 1, dim]``,
        e.g. ``speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN``.
    classifier : torch.nn.Module
        Maps the embedding to ``[batch, 2]`` or ``[batch, 1, 2]`` logits or one bona fide
        logit per row, e.g. ``torch.nn.Linear(dim, 2)`` or
        ``speechbrain.lobes.models.ECAPA_TDNN.Classifier(dim, out_neurons=2)``.
    normalize : torch.nn.Module, optional
        Called as ``normalize(feats, lengths)``, e.g.
        ``speechbrain.processing.features.InputNormalization``.
    embedding_dim : int, optional
        Embedding size; inferred from the classifier (its first ``nn.Linear``, or its own
        2-D ``weight`` as in SpeechBrain's ``Classifier``) when omitted.
    pass_lengths : bool
        Whether the encoder is called as ``encoder(feats, lengths)`` (default) or
        ``encoder(feats)``.

    Example
    -------
    >>> from speechbrain.lobes.features import Fbank
    >>> from speechbrain.lobes.models.ECAPA_TDNN import ECAPA_TDNN, Classifier
    >>> detector = Detector(
    ...     features=Fbank(n_mels=40),
    ...     encoder=ECAPA_TDNN(40, lin_neurons=32, channels=[32, 32, 32, 32, 96]),
    ...     classifier=Classifier(32, out_neurons=2),
    ... )
    >>> embedding, logits = detector(torch.randn(2, 16000))
    >>> detector.embedding_dim, embedding.shape, logits.shape
    (32, torch.Size([2, 32]), torch.Size([2, 2]))
    """

    def __init__(
        self,
        features: nn.Module,
        encoder: nn.Module,
        classifier: nn.Module,
        normalize: nn.Module | None = None,
        embedding_dim: int | None = None,
        pass_lengths: bool = True,
    ):
        super().__init__()
        self.features = features
        self.normalize = normalize
        self.encoder = encoder
        self.classifier = classifier
        self.pass_lengths = pass_lengths
        self.features_lengths_arg = lengths_argument(features)
        self.embedding_dim = embedding_dim if embedding_dim is not None else _input_size(classifier)

    def forward(
        self, wavs: torch.Tensor, lengths: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Scores a batch of raw waveforms.

        Arguments
        ---------
        wavs : torch.Tensor
            ``[batch, time]`` waveforms.
        lengths : torch.Tensor, optional
            ``[batch]`` relative lengths of the valid parts (all ones when omitted).

        Returns
        -------
        embedding : torch.Tensor
            ``[batch, embedding_dim]``.
        logits : torch.Tensor
            ``[batch, 2]``, in the classifier's class order.
        """
        if wavs.dim() != 2:
            raise ValueError(
                f"Detector expects [batch, time] waveforms, got shape {list(wavs.shape)}"
            )
        batch = wavs.shape[0]
        if lengths is None:
            lengths = torch.ones_like(wavs[:, 0], dtype=torch.get_default_dtype())  # traceable
        if self.features_lengths_arg is None:
            feats = self.features(wavs)
        else:
            feats = self.features(wavs, **{self.features_lengths_arg: lengths})
        if self.normalize is not None:
            feats = self.normalize(feats, lengths)
        encoded = self.encoder(feats, lengths) if self.pass_lengths else self.encoder(feats)
        try:
            embedding = as_embedding(encoded, batch)
            logits = as_logits(self.classifier(embedding), batch)
        except ContractError as error:
            raise ContractError(f"Detector: {error}") from None
        if embedding.shape[1] != self.embedding_dim:
            raise ContractError(
                f"Detector: the encoder returned {embedding.shape[1]}-dimensional embeddings "
                f"but embedding_dim is {self.embedding_dim}"
            )
        return embedding, logits


#: The names SpeechBrain gives the relative-lengths argument of a module's ``forward``.
LENGTHS_ARGUMENTS = ("lengths", "wav_lens")


def lengths_argument(module: nn.Module) -> str | None:
    """The name of the relative-lengths argument of ``module``'s ``forward``, or None.

    ``lengths`` (SpeechBrain's convention) or ``wav_lens`` (SpeechBrain's HuggingFace
    lobes), as SpeechBrain's ``lengths_arg_name`` finds them.

    Arguments
    ---------
    module : torch.nn.Module
        A front end.

    Returns
    -------
    str or None

    Example
    -------
    >>> from speechbrain.lobes.features import Fbank
    >>> from speechbrain.nnet.pooling import StatisticsPooling
    >>> lengths_argument(Fbank()), lengths_argument(StatisticsPooling())
    (None, 'lengths')
    """
    try:
        parameters = inspect.signature(module.forward).parameters
    except (TypeError, ValueError):  # a builtin without a signature
        return None
    return next((name for name in LENGTHS_ARGUMENTS if name in parameters), None)


def _input_size(classifier: nn.Module) -> int:
    """The input size of ``classifier``: its first ``nn.Linear``, or its 2-D ``weight``."""
    for module in classifier.modules():
        if isinstance(module, nn.Linear):
            return module.in_features
    weight = getattr(classifier, "weight", None)
    if isinstance(weight, torch.Tensor) and weight.dim() == 2:
        return weight.shape[1]
    raise ValueError(
        f"Detector cannot infer the embedding size from the classifier "
        f"({type(classifier).__name__} has no torch.nn.Linear and no 2-D weight): pass "
        "embedding_dim=<size of the encoder's embedding>"
    )


__all__ = ["Detector", "lengths_argument"]
