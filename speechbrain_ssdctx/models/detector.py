"""A generic detector assembled from SpeechBrain lobes: features, encoder, classifier.

Lets any SpeechBrain embedding model (ECAPA-TDNN, x-vector, ResNet...) be trained with
InF and InI from a YAML file only, with the (embedding, logits) interface of the
package's detectors.

Authors
 * speechbrain-ssdctx contributors
"""

from __future__ import annotations

import torch
from torch import nn


class Detector(nn.Module):
    """Synthetic speech detector: waveform -> features -> encoder -> embedding -> logits.

    ``wavs -> features(wavs) -> normalize(feats, lengths) -> encoder(feats, lengths)
    -> embedding -> classifier(embedding) -> logits``. The front end is inside the forward
    path, so InF can mask the waveform first. An encoder output of shape
    ``[batch, 1, dim]`` (SpeechBrain's ECAPA-TDNN and x-vector) is squeezed to
    ``[batch, dim]``.

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
        Maps the embedding to ``[batch, 2]`` logits (index 1 = bona fide), e.g.
        ``torch.nn.Linear(dim, 2)``.
    normalize : torch.nn.Module, optional
        Called as ``normalize(feats, lengths)``, e.g.
        ``speechbrain.processing.features.InputNormalization``.
    embedding_dim : int, optional
        Embedding size; inferred from the classifier's first ``nn.Linear`` when omitted.
    pass_lengths : bool
        Whether the encoder is called as ``encoder(feats, lengths)`` (default) or
        ``encoder(feats)``.

    Example
    -------
    >>> from speechbrain.lobes.features import Fbank
    >>> from speechbrain.lobes.models.ECAPA_TDNN import ECAPA_TDNN
    >>> detector = Detector(
    ...     features=Fbank(n_mels=40),
    ...     encoder=ECAPA_TDNN(40, lin_neurons=32, channels=[32, 32, 32, 32, 96]),
    ...     classifier=torch.nn.Linear(32, 2),
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
            ``[batch, 2]``, index 1 = bona fide.
        """
        if wavs.dim() != 2:
            raise ValueError(
                f"Detector expects [batch, time] waveforms, got shape {list(wavs.shape)}"
            )
        if lengths is None:
            lengths = torch.ones(wavs.shape[0], device=wavs.device)
        feats = self.features(wavs)
        if self.normalize is not None:
            feats = self.normalize(feats, lengths)
        embedding = self.encoder(feats, lengths) if self.pass_lengths else self.encoder(feats)
        if embedding.dim() == 3 and embedding.shape[1] == 1:
            embedding = embedding.squeeze(1)
        if embedding.dim() != 2:
            raise ValueError(
                f"Detector encoder must return [batch, dim] or [batch, 1, dim], "
                f"got shape {list(embedding.shape)}"
            )
        logits = self.classifier(embedding)
        if logits.shape != (wavs.shape[0], 2):
            raise ValueError(
                f"Detector classifier must return [batch, 2] logits, got {list(logits.shape)}"
            )
        return embedding, logits


def _input_size(classifier: nn.Module) -> int:
    """The input size of the first ``nn.Linear`` of ``classifier``."""
    for module in classifier.modules():
        if isinstance(module, nn.Linear):
            return module.in_features
    raise ValueError(
        "Detector cannot infer embedding_dim: the classifier has no torch.nn.Linear; "
        "pass embedding_dim explicitly"
    )


__all__ = ["Detector"]
