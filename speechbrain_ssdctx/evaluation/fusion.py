"""Linear logistic-regression fusion of several detectors into one calibrated LLR.

Several systems scoring the same trials often err on different trials; a weighted sum
of their scores can beat the best of them. :class:`LogisticFusion` learns
``llr = w_1 s_1 + ... + w_K s_K + offset`` on a development set with the objective of
:class:`~speechbrain_ssdctx.evaluation.calibration.Calibration` (the BOSARIS / FoCal
recipe, Brümmer 2006): the prior-weighted cross-entropy of the posteriors at a target
prior ``P`` (each class weighted to total ``P`` and ``1 - P``, the prior log-odds added
as an offset), with the same small ridge on the weights. The fused scores are therefore
natural-log likelihood ratios, calibrated at ``P``, and the fusion of one system is its
calibration. Fit on dev, apply to eval; save it as JSON next to the systems' names.

Authors
 * speechbrain-ssdctx contributors 2025
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from speechbrain_ssdctx.evaluation.calibration import (
    Calibration,
    fit_logistic,
    read_json_mapping,
    write_json,
)
from speechbrain_ssdctx.evaluation.dcf import DetectionCosts

__all__ = ["LogisticFusion"]


def _as_matrix(scores, what: str) -> np.ndarray:
    """``[trials, systems]`` float64 scores, finite."""
    matrix = np.asarray(scores, dtype=np.float64)
    if matrix.ndim == 1:
        matrix = matrix[:, None]
    if matrix.ndim != 2 or not matrix.size:
        raise ValueError(f"LogisticFusion: {what} must be a [trials, systems] array.")
    if not np.isfinite(matrix).all():
        raise ValueError(f"LogisticFusion: {what} contain NaN or inf.")
    return matrix


@dataclass(frozen=True)
class LogisticFusion:
    """A linear fusion ``llr = weights . scores + offset`` of several systems' scores.

    Arguments
    ---------
    weights : tuple of float
        One weight per system.
    offset : float
        Shift, in nats.
    prior : float
        The bona fide prior the fusion was trained at.
    systems : tuple of str
        The systems' names, in the order of ``weights`` (informative).

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> labels = np.arange(4000) < 2000
    >>> shared = rng.normal(0, 1, 4000)
    >>> a = 2.0 * labels + shared + rng.normal(0, 1, 4000)
    >>> b = 2.0 * labels + shared + rng.normal(0, 1, 4000)
    >>> fusion = LogisticFusion.fit(np.stack([a, b], axis=1), labels, ("a", "b"))
    >>> fusion.weights[0] > 0 and fusion.weights[1] > 0, fusion.systems
    (True, ('a', 'b'))
    >>> fusion(np.array([[1.0, 1.0]])).shape
    (1,)
    """

    weights: tuple[float, ...]
    offset: float
    prior: float = DetectionCosts().effective_prior
    systems: tuple[str, ...] = ()

    def __post_init__(self):
        values = (*self.weights, self.offset, self.prior)
        if not self.weights or not all(math.isfinite(v) for v in values):
            raise ValueError(f"LogisticFusion: finite weights and offset; got {self}")
        if not 0 < self.prior < 1:
            raise ValueError(f"LogisticFusion: prior must be in (0, 1), got {self.prior}")
        if self.systems and len(self.systems) != len(self.weights):
            raise ValueError(
                f"LogisticFusion: {len(self.systems)} names for {len(self.weights)} weights."
            )

    def __call__(self, scores) -> np.ndarray:
        """The fused LLRs of ``scores`` (``[trials, systems]``)."""
        matrix = _as_matrix(scores, "scores")
        if matrix.shape[1] != len(self.weights):
            raise ValueError(
                f"LogisticFusion: scores of {matrix.shape[1]} systems for a fusion of "
                f"{len(self.weights)}."
            )
        return matrix @ np.asarray(self.weights) + self.offset

    @classmethod
    def fit(
        cls,
        scores,
        is_bonafide,
        systems: Sequence[str] = (),
        prior: float | None = None,
        l2: float = 1e-6,
    ) -> LogisticFusion:
        """Prior-weighted logistic regression of the labels on the systems' scores.

        Minimises ``P * mean_bona softplus(-(w.s + b + logit P)) + (1 - P) *
        mean_spoof softplus(w.s + b + logit P) + l2 / 2 * |w|^2``, as
        ``Calibration.fit`` does for one system.

        Arguments
        ---------
        scores : array_like
            ``[trials, systems]`` development scores.
        is_bonafide : array_like of bool
            True for bona fide trials.
        systems : sequence of str
            The systems' names.
        prior : float, optional
            Target bona fide prior ``P`` (default: ``DetectionCosts().effective_prior``).
        l2 : float
            Weight of the ridge on the weights (of the raw scores).

        Returns
        -------
        LogisticFusion
        """
        prior = DetectionCosts().effective_prior if prior is None else float(prior)
        matrix = _as_matrix(scores, "scores")
        labels = np.asarray(is_bonafide, dtype=bool).reshape(-1)
        if labels.size != matrix.shape[0]:
            raise ValueError(f"LogisticFusion.fit: {labels.size} labels for {matrix.shape[0]} "
                             "trials.")
        if labels.all() or not labels.any():
            raise ValueError("LogisticFusion.fit needs bona fide and spoofed scores.")
        if not 0 < prior < 1:
            raise ValueError(f"LogisticFusion.fit: prior must be in (0, 1), got {prior}")
        weights, offset = fit_logistic(matrix, labels, prior, l2)
        return cls(weights, offset, prior, tuple(systems))

    @classmethod
    def from_calibration(cls, calibration: Calibration, system: str = "") -> LogisticFusion:
        """The fusion of one system with this calibration."""
        return cls((calibration.slope,), calibration.offset, calibration.prior,
                   (system,) if system else ())

    def to_dict(self) -> dict:
        """``{"weights": [..], "offset": .., "prior": .., "systems": [..]}`` (JSON ready)."""
        return {"weights": list(self.weights), "offset": self.offset, "prior": self.prior,
                "systems": list(self.systems)}

    @classmethod
    def from_mapping(cls, values: Mapping, source: str = "fusion") -> LogisticFusion:
        """Builds a fusion from a mapping written by :meth:`to_dict`."""
        try:
            return cls(tuple(float(w) for w in values["weights"]), float(values["offset"]),
                       float(values["prior"]), tuple(str(s) for s in values.get("systems", ())))
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(
                f"{source}: a fusion needs a list of weights and numbers offset and prior "
                f"({error})."
            ) from None

    def save(self, path: str | os.PathLike) -> Path:
        """Writes the fusion as JSON (atomically)."""
        return write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike) -> LogisticFusion:
        """Reads a fusion written by :meth:`save`."""
        values = read_json_mapping(path, "fusion")
        return cls.from_mapping(values, str(path))
