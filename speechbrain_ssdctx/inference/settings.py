"""The inference settings of a served detector: how it windows audio, what its score means.

One :class:`InferenceSettings` describes a model folder: the export writes it into the
folder's ``hyperparams.yaml`` and :class:`~speechbrain_ssdctx.inference.SpoofDetector`
reads it back (:meth:`InferenceSettings.from_hparams`). Both get it checked by
:meth:`InferenceSettings.completed`, the one place where these values are validated.

Authors
 * speechbrain-ssdctx contributors 2025
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

from speechbrain_ssdctx.data.audio import WINDOW_POLICIES
from speechbrain_ssdctx.evaluation.calibration import Calibration
from speechbrain_ssdctx.evaluation.scores import DEFAULT_SCORE_TYPE, SCORE_TYPES
from speechbrain_ssdctx.method.contract import check_bonafide_index

#: How the logits of a file's windows become the file's logits.
AGGREGATIONS = ("mean", "min", "max")

#: Sliding-window length when the model stores none (seconds; the recipes' crops are 6 s).
DEFAULT_WINDOW_SECONDS = 6.0

#: Sample rate of a model that names none.
DEFAULT_SAMPLE_RATE = 16000


@dataclass(frozen=True)
class InferenceSettings:
    """How a model scores; ``None`` fields take defaults (see :meth:`completed`).

    Arguments
    ---------
    sample_rate : int
        Audio is resampled to it (default 16000).
    window_policy : str
        ``"official"``, ``"first"``, ``"sliding"`` or ``"full"`` (default; see
        :mod:`speechbrain_ssdctx.inference.windows`).
    window_samples : int
        The window of the ``"first"`` policy (and the default sliding window).
    min_samples : int
        Shortest input of the detector (shorter windows are repeat-padded to it).
    score_type : str
        ``"log_odds"`` (default) or ``"bonafide_logit"``.
    threshold : float
        Decision threshold on the score (e.g. the dev EER threshold); an export without
        one stores 0 and its card says that it was not calibrated.
    bonafide_index : int
        The logit index of bona fide the detector was trained with (default 1).
    calibration : Calibration
        An affine map of scores to log-likelihood ratios (e.g. the recipe's
        ``calibration.json``, fitted on the dev scores); with it, ``classify_file``
        returns calibrated LLRs and Bayes decisions.
    window_seconds : float
        Window of the ``"sliding"`` policy (default: ``window_samples``, else 6 s).
    hop_seconds : float
        Hop of the ``"sliding"`` policy (default: half a window; ``0 < hop <= window``).
    aggregate : str
        How the windows' logits become a file's: ``"mean"`` (default), ``"min"`` or
        ``"max"`` (the logits of the window with the lowest / highest score).

    Example
    -------
    >>> settings = InferenceSettings(window_policy="first", window_samples=32000).completed()
    >>> settings.sample_rate, settings.score_type, settings.bonafide_index
    (16000, 'log_odds', 1)
    >>> InferenceSettings(window_policy="first").completed()  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: window_policy 'first' needs a positive window_samples (...), got None
    """

    sample_rate: int | None = None
    window_policy: str | None = None
    window_samples: int | None = None
    min_samples: int | None = None
    score_type: str | None = None
    threshold: float | None = None
    bonafide_index: int | None = None
    calibration: Calibration | None = None
    window_seconds: float | None = None
    hop_seconds: float | None = None
    aggregate: str | None = None

    @classmethod
    def from_hparams(cls, hparams: Mapping, source: str = "hyperparams.yaml") -> InferenceSettings:
        """The settings a model folder's hyperparameters store, completed and checked.

        Arguments
        ---------
        hparams : Mapping
            The loaded hyperparameters (keys of other names are ignored; ``calibration``
            is a mapping with ``slope``, ``offset`` and ``prior``).
        source : str
            The file, for error messages.

        Returns
        -------
        InferenceSettings

        Example
        -------
        >>> InferenceSettings.from_hparams({"window_policy": "full", "threshold": 0.5}).threshold
        0.5
        """
        values = {f.name: hparams[f.name] for f in fields(cls) if hparams.get(f.name) is not None}
        if "calibration" in values:
            values["calibration"] = Calibration.from_mapping(values["calibration"], source)
        if "threshold" in values:
            values["threshold"] = _number("threshold", values["threshold"], source)
        return cls(**values).completed()

    def completed(self) -> InferenceSettings:
        """A copy with the defaults filled in, checked.

        Raises
        ------
        ValueError
            Naming the first setting that is not valid and what it must be.
        """
        done = replace(
            self,
            sample_rate=self.sample_rate or DEFAULT_SAMPLE_RATE,
            window_policy=self.window_policy or "full",
            score_type=self.score_type or DEFAULT_SCORE_TYPE,
            bonafide_index=1 if self.bonafide_index is None else self.bonafide_index,
        )
        done._check()
        return done

    def in_use(
        self,
        policy: str | None = None,
        window_seconds: float | None = None,
        hop_seconds: float | None = None,
        aggregate: str | None = None,
    ) -> InferenceSettings:
        """The settings a detector scores with: the given choices over the stored ones.

        A model stored with ``"full"`` scores with ``"sliding"`` unless ``"full"`` is
        asked for (a long file in one pass can take many gigabytes). The sliding window,
        hop and aggregation are filled in (see the class arguments), and checked.

        Arguments
        ---------
        policy : str, optional
            The window policy (None: the stored one).
        window_seconds, hop_seconds : float, optional
            Window and hop of ``"sliding"`` (None: the stored ones or the defaults).
        aggregate : str, optional
            ``"mean"``, ``"min"`` or ``"max"`` (None: the stored one or ``"mean"``).

        Returns
        -------
        InferenceSettings

        Example
        -------
        >>> settings = InferenceSettings(window_policy="full").in_use()
        >>> settings.window_policy, settings.window_seconds, settings.hop_seconds
        ('sliding', 6.0, 3.0)
        """
        stored = self.completed()
        window = window_seconds or stored._sliding_window()
        return replace(
            stored,
            window_policy=policy or ("sliding" if stored.window_policy == "full"
                                     else stored.window_policy),
            window_seconds=window,
            hop_seconds=hop_seconds or stored.hop_seconds or window / 2,
            aggregate=aggregate or stored.aggregate or "mean",
        ).completed()

    def _sliding_window(self) -> float:
        """The sliding window in seconds: the stored one, ``window_samples``, or 6 s."""
        if self.window_seconds:
            return self.window_seconds
        if self.window_samples:
            return self.window_samples / self.sample_rate
        return DEFAULT_WINDOW_SECONDS

    def _check(self) -> None:
        _check_positive_int("sample_rate", self.sample_rate)
        if self.window_policy not in WINDOW_POLICIES:
            raise ValueError(
                f"window_policy must be one of {WINDOW_POLICIES}, got {self.window_policy!r}"
            )
        if self.window_policy == "first" and not self.window_samples:
            raise ValueError(
                "window_policy 'first' needs a positive window_samples (the window's length "
                f"in samples), got {self.window_samples!r}"
            )
        for name in ("window_samples", "min_samples"):
            if getattr(self, name) is not None:
                _check_positive_int(name, getattr(self, name))
        if self.score_type not in SCORE_TYPES:
            raise ValueError(f"score_type must be one of {SCORE_TYPES}, got {self.score_type!r}")
        if self.threshold is not None and not math.isfinite(_number("threshold", self.threshold)):
            raise ValueError(f"threshold must be a finite number, got {self.threshold!r}")
        check_bonafide_index(self.bonafide_index)
        if self.aggregate is not None and self.aggregate not in AGGREGATIONS:
            raise ValueError(f"aggregate must be one of {AGGREGATIONS}, got {self.aggregate!r}")
        window = self._sliding_window()
        if not window > 0:
            raise ValueError(f"window_seconds must be positive, got {window!r}")
        hop = self.hop_seconds or window / 2
        if not 0 < hop <= window:
            raise ValueError(f"hop must be in (0, window]: got window {window} s, hop {hop} s")


def _check_positive_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _number(name: str, value, source: str = "the settings") -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{source}: {name} must be a number, got {value!r}")
    return float(value)
