"""The tandem detection cost function (t-DCF) of a countermeasure and an ASV system.

The minimum normalised t-DCF of CM scores, in the two forms of the official ASVspoof code
(``min_tdcf(..., form=...)``):

- ``"revised"`` (``tDCF_python_v2``, ASVspoof 2021 and 5): ``C0 + C1 Pmiss_cm + C2
  Pfa_cm`` normalised by ``C0 + min(C1, C2)``, the coefficients from the ASV error
  rates and the tandem costs, or given (the official 2021 C012 tables);
- ``"legacy"`` (ASVspoof 2019, Kinnunen et al. 2018): ``C1 Pmiss_cm + C2 Pfa_cm``
  normalised by ``min(C1, C2)``, the weights from the ASV error rates and the separate
  ASV and CM costs: the revised computation with ``C0 = 0``. This is the number ASVspoof
  2019 papers (and the paper reproduced here) report as "min t-DCF".

The ASV error rates are those at its EER threshold (``asv_operating_point``).

Authors
 * speechbrain-ssdctx contributors 2025
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from speechbrain_ssdctx.evaluation.eer import as_scores, compute_det_curve, compute_eer

__all__ = [
    "TDCF_FORMS",
    "AsvOperatingPoint",
    "CostModel",
    "TDCFCoefficients",
    "asv_operating_point",
    "min_tdcf",
    "tdcf_coefficients",
]

#: The t-DCF forms: ``"legacy"`` (ASVspoof 2019) and ``"revised"`` (ASVspoof 2021 and 5).
TDCF_FORMS = ("legacy", "revised")


@dataclass(frozen=True)
class CostModel:
    """The t-DCF cost model: priors and costs (defaults: ASVspoof 2019 and 2021).

    Arguments
    ---------
    p_spoof : float
        Prior probability of a spoofing attack.
    p_target : float
        Prior probability of a target (genuine, same-speaker) trial.
    p_nontarget : float
        Prior probability of a nontarget (zero-effort impostor) trial.
    c_miss : float
        Revised form: cost of the tandem system rejecting a target trial.
    c_fa : float
        Revised form: cost of the tandem system accepting a nontarget trial.
    c_fa_spoof : float
        Revised form: cost of the tandem system accepting a spoof.
    c_miss_asv, c_fa_asv, c_miss_cm, c_fa_cm : float
        Legacy (2019) form: the ASV and CM miss and false-alarm costs.

    Example
    -------
    >>> cost = CostModel()
    >>> round(cost.p_target + cost.p_nontarget + cost.p_spoof, 12)
    1.0
    """

    p_spoof: float = 0.05
    p_target: float = 0.95 * 0.99
    p_nontarget: float = 0.95 * 0.01
    c_miss: float = 1.0
    c_fa: float = 10.0
    c_fa_spoof: float = 10.0
    c_miss_asv: float = 1.0
    c_fa_asv: float = 10.0
    c_miss_cm: float = 1.0
    c_fa_cm: float = 10.0

    def __post_init__(self):
        priors = (self.p_spoof, self.p_target, self.p_nontarget)
        if min(priors) < 0 or abs(sum(priors) - 1.0) > 1e-10:
            raise ValueError(f"CostModel: priors must be >= 0 and sum to one, got {priors}.")


@dataclass(frozen=True)
class AsvOperatingPoint:
    """The error rates of the ASV system at its EER threshold (target vs nontarget).

    Arguments
    ---------
    eer : float
        ASV EER (fraction) between target and nontarget trials.
    threshold : float
        The ASV threshold at that EER.
    pfa : float
        False acceptance rate of nontarget trials.
    pmiss : float
        Miss rate of target trials.
    pmiss_spoof : float
        Rate of spoofed trials rejected by the ASV.
    pfa_spoof : float
        Rate of spoofed trials accepted by the ASV.
    """

    eer: float
    threshold: float
    pfa: float
    pmiss: float
    pmiss_spoof: float
    pfa_spoof: float


def asv_operating_point(
    target_scores: Iterable[float],
    nontarget_scores: Iterable[float],
    spoof_scores: Iterable[float],
) -> AsvOperatingPoint:
    """Fixes the ASV threshold at its EER and measures its error rates (official recipe).

    Arguments
    ---------
    target_scores, nontarget_scores, spoof_scores : array_like
        ASV scores of target, nontarget and spoofed trials.

    Returns
    -------
    AsvOperatingPoint

    Example
    -------
    >>> asv = asv_operating_point([3.0, 2.0, 0.5], [0.0, 1.0, -1.0], [2.5, -2.0])
    >>> asv.threshold, asv.pfa, asv.pmiss, asv.pfa_spoof
    (0.5, 0.3333333333333333, 0.0, 0.5)
    """
    target = as_scores(target_scores, "ASV target scores")
    nontarget = as_scores(nontarget_scores, "ASV nontarget scores")
    spoof = as_scores(spoof_scores, "ASV spoof scores")
    eer, threshold = compute_eer(target, nontarget)
    pfa_spoof = float(np.mean(spoof >= threshold))
    return AsvOperatingPoint(
        eer=eer,
        threshold=threshold,
        pfa=float(np.mean(nontarget >= threshold)),
        pmiss=float(np.mean(target < threshold)),
        pmiss_spoof=1.0 - pfa_spoof,
        pfa_spoof=pfa_spoof,
    )


@dataclass(frozen=True)
class TDCFCoefficients:
    """The constants of the t-DCF: ``C0 + C1 * Pmiss_cm + C2 * Pfa_cm`` (legacy: ``C0 = 0``).

    Arguments
    ---------
    c0, c1, c2 : float
        The coefficients (ASVspoof 2021 evaluation plan, appendix).

    Example
    -------
    >>> TDCFCoefficients(0.1, 0.8, 0.4).default_cost
    0.5
    """

    c0: float
    c1: float
    c2: float

    def __post_init__(self):
        values = (self.c0, self.c1, self.c2)
        if not all(math.isfinite(v) and v >= 0 for v in values):
            raise ValueError(f"t-DCF coefficients must be finite and >= 0, got {values}.")

    @property
    def default_cost(self) -> float:
        """The cost of the best trivial CM (accept all or reject all): the normaliser."""
        return self.c0 + min(self.c1, self.c2)

    @classmethod
    def from_mapping(cls, values: Mapping[str, float]) -> TDCFCoefficients:
        """Builds the coefficients from a ``{"C0": .., "C1": .., "C2": ..}`` mapping."""
        try:
            return cls(float(values["C0"]), float(values["C1"]), float(values["C2"]))
        except KeyError as error:
            raise ValueError(f"t-DCF coefficients need C0, C1 and C2; missing {error}.") from None


def _check_form(form: str):
    """Raises a ValueError naming the choices when ``form`` is not a t-DCF form."""
    if form not in TDCF_FORMS:
        choices = " or ".join(repr(f) for f in TDCF_FORMS)
        raise ValueError(f"t-DCF form must be {choices}, got {form!r}.")


def tdcf_coefficients(
    asv: AsvOperatingPoint, cost_model: CostModel | None = None, form: str = "revised"
) -> TDCFCoefficients:
    """Computes the t-DCF coefficients C0, C1, C2 from the ASV error rates.

    With ``a = Ptar Cmiss_asv Pmiss_asv + Pnon Cfa_asv Pfa_asv`` (the ASV's own cost),
    ``C1 = Ptar Cmiss_cm - a`` and ``C2 = Pspoof Cfa_cm Pfa_spoof_asv``. The revised form
    takes the tandem costs (``Cmiss_asv = Cmiss_cm = c_miss``, ``Cfa_asv = c_fa``,
    ``Cfa_cm = c_fa_spoof``) and ``C0 = a``; the legacy form the separate ASV and CM
    costs (``c_miss_asv``, ``c_fa_asv``, ``c_miss_cm``, ``c_fa_cm``), ``C0 = 0`` and the
    spoof acceptance as ``1 - Pmiss_spoof_asv``, as the official 2019 code.

    Arguments
    ---------
    asv : AsvOperatingPoint
        ASV error rates (see ``asv_operating_point``).
    cost_model : CostModel, optional
        Priors and costs; the ASVspoof 2019/2021 defaults when None.
    form : str
        ``"revised"`` (ASVspoof 2021 and 5) or ``"legacy"`` (ASVspoof 2019).

    Returns
    -------
    TDCFCoefficients

    Example
    -------
    >>> asv = AsvOperatingPoint(0.0, 0.0, pfa=0.0, pmiss=0.0, pmiss_spoof=0.0, pfa_spoof=1.0)
    >>> c = tdcf_coefficients(asv)
    >>> round(c.c0, 6), round(c.c1, 6), round(c.c2, 6)
    (0.0, 0.9405, 0.5)
    >>> asv = AsvOperatingPoint(0.1, 0.0, pfa=0.1, pmiss=0.1, pmiss_spoof=0.5, pfa_spoof=0.5)
    >>> c = tdcf_coefficients(asv, form="legacy")
    >>> c.c0, round(c.c1, 6), round(c.c2, 6)
    (0.0, 0.83695, 0.25)
    """
    _check_form(form)
    cost = cost_model or CostModel()
    if form == "revised":
        c_miss_asv = c_miss_cm = cost.c_miss
        c_fa_asv, c_fa_cm, pfa_spoof = cost.c_fa, cost.c_fa_spoof, asv.pfa_spoof
    else:
        c_miss_asv, c_miss_cm = cost.c_miss_asv, cost.c_miss_cm
        c_fa_asv, c_fa_cm, pfa_spoof = cost.c_fa_asv, cost.c_fa_cm, 1.0 - asv.pmiss_spoof
    asv_cost = cost.p_target * c_miss_asv * asv.pmiss + cost.p_nontarget * c_fa_asv * asv.pfa
    c1 = cost.p_target * c_miss_cm - asv_cost
    c2 = cost.p_spoof * c_fa_cm * pfa_spoof
    if c1 < 0 or c2 < 0:
        raise ValueError(f"{form} t-DCF weights are negative (C1={c1}, C2={c2}): check ASV.")
    return TDCFCoefficients(asv_cost if form == "revised" else 0.0, c1, c2)


def _check_soft_scores(bonafide: np.ndarray, spoof: np.ndarray):
    """The official code refuses hard decisions: fewer than 3 distinct scores."""
    if np.unique(np.concatenate((bonafide, spoof))).size < 3:
        raise ValueError("t-DCF needs soft CM scores, not binary decisions (< 3 distinct).")


def _resolve_coefficients(coefficients, asv, cost_model, form) -> TDCFCoefficients:
    """The coefficients of ``min_tdcf``: given, or from the ASV error rates and ``form``."""
    _check_form(form)
    if (coefficients is None) == (asv is None):
        raise ValueError("min_tdcf needs exactly one of coefficients (C0, C1, C2) and asv.")
    if asv is not None:
        return tdcf_coefficients(asv, cost_model, form)
    if form != "revised" or cost_model is not None:
        raise ValueError(
            "min_tdcf: form and cost_model apply to an ASV operating point (asv=...); given "
            "coefficients already fix the t-DCF (legacy ones have C0 = 0)."
        )
    if isinstance(coefficients, TDCFCoefficients):
        return coefficients
    return TDCFCoefficients.from_mapping(coefficients)


def min_tdcf(
    bonafide_scores: Iterable[float],
    spoof_scores: Iterable[float],
    coefficients: TDCFCoefficients | Mapping[str, float] | None = None,
    *,
    asv: AsvOperatingPoint | None = None,
    cost_model: CostModel | None = None,
    form: str = "revised",
) -> tuple[float, float]:
    """Minimum normalised t-DCF of CM scores, from given coefficients or ASV error rates.

    ``min_t (C0 + C1 Pmiss_cm(t) + C2 Pfa_cm(t)) / (C0 + min(C1, C2))`` over the points
    of the official DET curve, with C0, C1, C2 either given (the ASVspoof 2021 C012
    tables) or computed from ``asv`` in the ``form`` asked (``tdcf_coefficients``): the
    revised form of ASVspoof 2021 and 5, or the legacy form of ASVspoof 2019 (``C0 = 0``).

    Arguments
    ---------
    bonafide_scores, spoof_scores : array_like
        CM scores of bona fide and spoofed trials.
    coefficients : TDCFCoefficients or mapping with keys "C0", "C1", "C2", optional
        Given coefficients, for example one entry of the official 2021 C012 tables.
    asv : AsvOperatingPoint, optional
        ASV error rates (see ``asv_operating_point``), instead of ``coefficients``.
    cost_model : CostModel, optional
        Priors and costs with ``asv``; the ASVspoof defaults when None.
    form : str
        ``"revised"`` or ``"legacy"``: how ``asv`` gives the coefficients.

    Returns
    -------
    min_tdcf : float
        The minimum normalised t-DCF.
    threshold : float
        The CM threshold where the minimum is reached (first such point).

    Example
    -------
    >>> value, _ = min_tdcf([0.9, 0.8, 0.7], [0.1, 0.2, 0.75], {"C0": 0, "C1": 1, "C2": 1})
    >>> round(value, 6)
    0.333333
    >>> asv = AsvOperatingPoint(0.1, 0.0, pfa=0.1, pmiss=0.1, pmiss_spoof=0.5, pfa_spoof=0.5)
    >>> [round(min_tdcf([0.9, 0.8, 0.3], [0.1, 0.2, 0.4], asv=asv, form=f)[0], 6)
    ...  for f in ("revised", "legacy")]
    [0.528591, 0.333333]
    """
    c = _resolve_coefficients(coefficients, asv, cost_model, form)
    bonafide = as_scores(bonafide_scores, "bonafide_scores")
    spoof = as_scores(spoof_scores, "spoof_scores")
    _check_soft_scores(bonafide, spoof)
    pmiss, pfa, thresholds = compute_det_curve(bonafide, spoof)
    curve = (c.c0 + c.c1 * pmiss + c.c2 * pfa) / c.default_cost
    index = int(np.argmin(curve))
    return float(curve[index]), float(thresholds[index])
