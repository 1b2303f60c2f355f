"""Score calibration: turning detector scores into log-likelihood ratios.

A detector's score orders trials (EER, minDCF only need the order), but its value means
nothing by itself: "what does a score of 3.4 mean?". A calibrated score is a natural-log
likelihood ratio ``llr = ln p(x | bona fide) / p(x | spoof)``: it gives the posterior
probability of bona fide at any prior, and the Bayes decision for any costs is a fixed
threshold on it (``DetectionCosts.bayes_threshold``), which is what actDCF and Cllr
measure.

``Calibration.fit`` learns the affine map ``llr = slope * score + offset`` by
prior-weighted logistic regression on a development set (the BOSARIS / ``pyllr``
recipe, Brümmer 2006): it minimises the cross-entropy of the posteriors at the target
prior ``P``, each class weighted to total ``P`` and ``1 - P``, with the prior log-odds
added as an offset so that the result is an LLR, not a posterior log-odds. Apply it to
any other score set of the same detector; store it with an exported model so that
``SpoofDetector`` returns calibrated LLRs.

Authors
 * speechbrain-ssdctx contributors 2025
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, log_expit

from speechbrain_ssdctx.evaluation.dcf import DetectionCosts
from speechbrain_ssdctx.utils.atomic import atomic_open

__all__ = ["Calibration", "posterior"]


def _logit(p: float) -> float:
    return math.log(p) - math.log1p(-p)


def posterior(llrs, prior: float):
    """Posterior probability of bona fide from LLRs at a bona fide prior.

    Arguments
    ---------
    llrs : float or array_like
        Natural-log likelihood ratios.
    prior : float
        Prior probability of bona fide, in (0, 1).

    Returns
    -------
    float or np.ndarray

    Example
    -------
    >>> float(posterior(0.0, 0.5)), round(float(posterior(0.0, 0.95)), 2)
    (0.5, 0.95)
    """
    if not 0 < prior < 1:
        raise ValueError(f"prior must be in (0, 1), got {prior}")
    return expit(np.asarray(llrs, dtype=np.float64) + _logit(prior))

def fit_logistic(
    scores: np.ndarray, is_bonafide: np.ndarray, prior: float, l2: float
) -> tuple[tuple[float, ...], float]:
    """Prior-weighted logistic regression of the labels on ``[trials, systems]`` scores:
    minimises ``P * mean_bona softplus(-(w.s + b + logit P)) + (1 - P) * mean_spoof
    softplus(w.s + b + logit P) + l2 / 2 * |w|^2`` (the calibration cross-entropy at prior
    ``P``; the ridge keeps the fit finite on separable scores). Returns ``(w, b)`` for the
    raw scores. Shared by :class:`Calibration` (one system) and the fusion.

    Example
    -------
    >>> scores = np.array([[2.0], [1.0], [-1.0], [-2.5]])
    >>> (w,), b = fit_logistic(scores, np.array([True, True, False, False]), 0.5, 1.0)
    >>> w > 0
    True
    """
    # Standardise every column for a well-conditioned problem, then map the solution back.
    centre = scores.mean(axis=0)
    scale = scores.std(axis=0)
    scale[scale == 0] = 1.0
    x = np.hstack(((scores - centre) / scale, np.ones((len(scores), 1))))
    sign = np.where(is_bonafide, 1.0, -1.0)
    counts = is_bonafide.sum(), (~is_bonafide).sum()
    weight = np.where(is_bonafide, prior / counts[0], (1 - prior) / counts[1])
    ridge = np.append(l2 / scale**2, 0.0)  # on the raw scores' weights; none on the offset
    prior_logodds = _logit(prior)

    def objective(params):
        margin = sign * (x @ params + prior_logodds)
        loss = -np.dot(weight, log_expit(margin)) + 0.5 * np.dot(ridge, params**2)
        residual = weight * expit(-margin)  # - d loss / d margin
        return loss, -(residual * sign) @ x + ridge * params

    def hessian(params):
        margin = sign * (x @ params + prior_logodds)
        curvature = weight * expit(margin) * expit(-margin)
        return (x * curvature[:, None]).T @ x + np.diag(ridge)

    result = minimize(
        objective, np.zeros(x.shape[1]), jac=True, hess=hessian, method="trust-exact",
        options={"gtol": 1e-12, "maxiter": 200},
    )
    raw = result.x[:-1] / scale
    return tuple(float(w) for w in raw), float(result.x[-1] - np.dot(raw, centre))


def write_json(path: str | os.PathLike, values: Mapping) -> Path:
    """Writes ``values`` as JSON, atomically (a calibration's or a fusion's file)."""
    path = Path(path)
    with atomic_open(path) as stream:
        json.dump(values, stream, indent=1)
        stream.write("\n")
    return path


def read_json_mapping(path: str | os.PathLike, what: str) -> Mapping:
    """The mapping a JSON file written by :func:`write_json` holds; one-line errors
    naming the file and ``what`` it should be."""
    try:
        values = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not a {what} JSON file ({error}).") from None
    if not isinstance(values, Mapping):
        raise ValueError(f"{path}: not a {what} JSON file (no mapping).")
    return values


@dataclass(frozen=True)
class Calibration:
    """An affine score-to-LLR map, ``llr = slope * score + offset``.

    Arguments
    ---------
    slope : float
        Scale of the scores (positive for a detector better than chance).
    offset : float
        Shift, in nats.
    prior : float
        The bona fide prior the map was trained at (informative: the map gives LLRs,
        usable at any prior).

    Example
    -------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> bona, spoof = rng.normal(4.0, 2.0, 5000), rng.normal(0.0, 2.0, 5000)
    >>> calibration = Calibration.fit(bona, spoof, prior=0.5)
    >>> round(calibration.slope, 1), round(calibration.offset, 1)  # true: 1.0, -2.0
    (1.0, -2.0)
    >>> calibration([0.0, 4.0]).round(1).tolist()
    [-2.0, 2.0]
    """

    slope: float
    offset: float
    prior: float = DetectionCosts().effective_prior

    def __post_init__(self):
        values = (self.slope, self.offset, self.prior)
        if not all(math.isfinite(v) for v in values) or not 0 < self.prior < 1:
            raise ValueError(f"Calibration: finite slope and offset, prior in (0, 1); got {self}")

    def __call__(self, scores: Iterable[float]) -> np.ndarray:
        """The LLRs of ``scores``."""
        return self.slope * np.asarray(scores, dtype=np.float64) + self.offset

    @classmethod
    def fit(
        cls,
        bonafide_scores: Iterable[float],
        spoof_scores: Iterable[float],
        prior: float | None = None,
        l2: float = 1e-6,
    ) -> Calibration:
        """Prior-weighted logistic regression of the labels on the scores.

        Minimises ``P * mean_bona softplus(-(a s + b + logit P)) + (1 - P) *
        mean_spoof softplus(a s + b + logit P) + l2 / 2 * a^2``: the calibration
        cross-entropy at prior ``P``. The small ridge on the slope keeps the fit finite
        when the development scores separate the classes perfectly.

        Arguments
        ---------
        bonafide_scores, spoof_scores : array_like
            Development scores of both classes.
        prior : float, optional
            Target bona fide prior ``P`` (default: the effective prior of the ASVspoof 5
            Track 1 costs, ``DetectionCosts().effective_prior``, about 0.655).
        l2 : float
            Weight of the ridge on the slope.

        Returns
        -------
        Calibration
        """
        prior = DetectionCosts().effective_prior if prior is None else float(prior)
        bonafide = np.asarray(bonafide_scores, dtype=np.float64).reshape(-1)
        spoof = np.asarray(spoof_scores, dtype=np.float64).reshape(-1)
        if not bonafide.size or not spoof.size:
            raise ValueError("Calibration.fit needs bona fide and spoofed scores.")
        if not (np.isfinite(bonafide).all() and np.isfinite(spoof).all()):
            raise ValueError("Calibration.fit: scores contain NaN or inf.")
        if not 0 < prior < 1:
            raise ValueError(f"Calibration.fit: prior must be in (0, 1), got {prior}")
        scores = np.concatenate((bonafide, spoof))[:, None]
        labels = np.arange(scores.size) < bonafide.size
        (slope,), offset = fit_logistic(scores, labels, prior, l2)
        return cls(slope=slope, offset=offset, prior=prior)

    def posterior(self, scores: Iterable[float], prior: float | None = None) -> np.ndarray:
        """Posterior probability of bona fide of ``scores`` at ``prior`` (default: the
        training prior)."""
        return posterior(self(scores), self.prior if prior is None else prior)

    def to_dict(self) -> dict[str, float]:
        """``{"slope": .., "offset": .., "prior": ..}`` (JSON and YAML ready)."""
        return {key: float(value) for key, value in asdict(self).items()}

    @classmethod
    def from_mapping(cls, values: Mapping[str, float], source: str = "calibration") -> Calibration:
        """Builds a calibration from a mapping with ``slope``, ``offset`` and ``prior``."""
        try:
            return cls(float(values["slope"]), float(values["offset"]), float(values["prior"]))
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(
                f"{source}: a calibration needs numbers slope, offset and prior ({error})."
            ) from None

    def save(self, path: str | os.PathLike) -> Path:
        """Writes the calibration as JSON (atomically)."""
        return write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike) -> Calibration:
        """Reads a calibration written by ``save``."""
        values = read_json_mapping(path, "calibration")
        return cls.from_mapping(values, str(path))
