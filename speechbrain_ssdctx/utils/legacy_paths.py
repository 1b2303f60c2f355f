"""The import paths of version 0.1.0, mapped to where their names live now.

Version 0.2.0 moved the 28 top-level modules into subpackages by role (``CHANGELOG.md``
lists every move). What users already wrote keeps working: a model folder exported by
0.1.0 (its ``hyperparams.yaml`` names ``speechbrain_ssdctx.contract.ContractAdapter``), a
training YAML naming ``speechbrain_ssdctx.context.ContextLoss`` or a script importing
``from speechbrain_ssdctx.metrics import compute_eer``. No module is left at the old
places: :class:`LegacyPathFinder`, installed by the package's ``__init__``, answers an
import of an old module with a stand-in module whose names resolve to their new homes,
with a ``FutureWarning`` naming the new path. Subpackages that took an old module's name
(``augment``, ``evaluation``, ``inference``) resolve the old names they no longer hold
through :func:`legacy_attribute` in their module ``__getattr__``.

Example
-------
>>> import warnings
>>> with warnings.catch_warnings():
...     warnings.simplefilter("ignore", FutureWarning)  # it names the new path
...     from speechbrain_ssdctx.contract import ContractAdapter
>>> ContractAdapter.__module__
'speechbrain_ssdctx.method.contract'

Authors:
- speechbrain-ssdctx contributors (2026)
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
import warnings

PACKAGE = "speechbrain_ssdctx"

#: Each 0.1.0 module that moved whole: its new module.
MOVED_MODULES = {
    f"{PACKAGE}.{old}": f"{PACKAGE}.{new}"
    for old, new in {
        "losses": "method.losses",
        "memory": "method.memory",
        "contract": "method.contract",
        "context": "method.context",
        "brain": "training.brain",
        "checkpoints": "training.checkpoints",
        "startup": "training.startup",
        "experiment": "training.experiment",
        "typed_hparams": "training.typed_hparams",
        "metrics": "evaluation",
        "scores": "evaluation.scores",
        "score_stats": "evaluation.score_stats",
        "bootstrap": "evaluation.bootstrap",
        "calibration": "evaluation.calibration",
        "report": "evaluation.report",
        "plots": "evaluation.plots",
        "band_map": "evaluation.band_map",
        "export": "inference.export",
        "model_card": "inference.model_card",
        "hub": "inference.hub",
        "reproducibility": "utils.reproducibility",
        "module_state": "utils.module_state",
        "allocator": "utils.allocator",
        "atomic": "utils.atomic",
        "textio": "utils.textio",
    }.items()
}

_MASKING = ("BandPassMasking", "design_bandpass", "draw_low_freqs", "fir_filter_same",
            "fir_filter_batch", "low_freq_grid_size")
_GENERATORS = ("rank_generator", "generator_state", "restore_generator")
_RAWBOOST = ("RawBoost", "NotchParameters", "notch_filter", "normalize_if_clipping",
             "lnl_convolutive_noise", "isd_additive_noise", "ssi_additive_noise")
_EVALUATE = ("KEY_KINDS", "official_c012", "evaluate_scores", "evaluate_sasv_scores",
             "read_key", "asv_operating_point_of")
_SPOOF_DETECTOR = ("SpoofDecision", "WindowScore", "FileScore", "SpoofDetector",
                   "WINDOWS_PER_PASS")
_MODEL_FOLDER = ("bundled_models_dir", "load_weights", "is_bundled_name", "BUNDLED_MODELS",
                 "INTERFACE_MODULE", "INTERFACE_FILE", "INTERFACE_CLASS")
_SETTINGS = ("AGGREGATIONS", "DEFAULT_WINDOW_SECONDS")

#: The 0.1.0 module ``metrics``, split by concept in 0.2.0.
_EER = ("compute_det_curve", "compute_eer")
_TDCF = ("AsvOperatingPoint", "CostModel", "TDCFCoefficients", "asv_operating_point",
         "tdcf_coefficients", "min_tdcf")
_DCF = ("DetectionCosts", "min_dcf", "act_dcf", "cllr", "pav_llrs", "min_cllr")
_TRIALS = ("cm_metrics", "metrics_per_attack", "metrics_per_condition", "evaluate_trials")
_SASV = ("ASVSPOOF5_ASV", "compute_a_det_curve", "a_dcf", "compute_asv_curves", "t_eer",
         "evaluate_sasv")

#: Each public name of 0.1.0 that is not where its module's move puts it: old full name
#: -> new full name (names of the modules that were split, and renamed names).
MOVED_NAMES = {
    **{f"{PACKAGE}.augment.{n}": f"{PACKAGE}.method.masking.{n}" for n in _MASKING},
    **{f"{PACKAGE}.augment.{n}": f"{PACKAGE}.utils.reproducibility.{n}" for n in _GENERATORS},
    **{f"{PACKAGE}.augment.{n}": f"{PACKAGE}.augment.rawboost.{n}" for n in _RAWBOOST},
    **{f"{PACKAGE}.evaluation.{n}": f"{PACKAGE}.evaluation.evaluate.{n}" for n in _EVALUATE},
    **{f"{PACKAGE}.inference.{n}": f"{PACKAGE}.inference.spoof_detector.{n}"
       for n in _SPOOF_DETECTOR},
    **{f"{PACKAGE}.inference.{n}": f"{PACKAGE}.inference.model_folder.{n}"
       for n in _MODEL_FOLDER},
    **{f"{PACKAGE}.inference.{n}": f"{PACKAGE}.inference.settings.{n}" for n in _SETTINGS},
    f"{PACKAGE}.inference.WINDOW_POLICIES": f"{PACKAGE}.data.audio.WINDOW_POLICIES",
    f"{PACKAGE}.scores.parse_score": f"{PACKAGE}.utils.textio.parse_number",
    **{f"{PACKAGE}.metrics.{n}": f"{PACKAGE}.evaluation.eer.{n}" for n in _EER},
    **{f"{PACKAGE}.metrics.{n}": f"{PACKAGE}.evaluation.tdcf.{n}" for n in _TDCF},
    **{f"{PACKAGE}.metrics.{n}": f"{PACKAGE}.evaluation.dcf.{n}" for n in _DCF},
    **{f"{PACKAGE}.metrics.{n}": f"{PACKAGE}.evaluation.trials.{n}" for n in _TRIALS},
    **{f"{PACKAGE}.metrics.{n}": f"{PACKAGE}.evaluation.sasv.{n}" for n in _SASV},
    # Removed in 0.2.0 (one min_tdcf with a form): their 0.1.0 signatures, below.
    **{f"{PACKAGE}.metrics.{n}": f"{PACKAGE}.utils.legacy_paths.{n}"
       for n in ("min_tdcf_legacy", "min_tdcf_revised", "legacy_tdcf_coefficients")},
}

#: Public names of 0.1.0 with no equal in 0.2.0: old full name -> what replaces them
#: (CHANGELOG.md lists them too). Importing one fails with this text.
REMOVED_NAMES = {
    f"{PACKAGE}.report.SET_TITLES": "the titles of the corpus registry: "
    "speechbrain_ssdctx.evaluation.report.set_title(name)",
    f"{PACKAGE}.report.DEMO_SET_TITLES": "speechbrain_ssdctx.evaluation.report.set_title("
    "name, demo=True)",
    f"{PACKAGE}.model_card.SET_DATASETS": "the dataset ids of the corpus registry: "
    "speechbrain_ssdctx.data.get_corpus(name)",
    f"{PACKAGE}.model_card.DEMO_LICENCE": "speechbrain_ssdctx.data.get_corpus('demo')"
    ".licence_note",
    f"{PACKAGE}.model_card.ASVSPOOF_LICENCE": "speechbrain_ssdctx.data.get_corpus('2019LA')"
    ".licence_note",
    f"{PACKAGE}.startup.CORPUS_KEYS": "speechbrain_ssdctx.data.training_corpus(hparams)",
    f"{PACKAGE}.models.ssl.build_tiny_ssl_model": "a model of your own (the tiny test model "
    "is built in the project's tests/ssl_utils.py)",
}


def min_tdcf_legacy(bonafide_scores, spoof_scores, asv, cost_model=None) -> float:
    """0.1.0's ``metrics.min_tdcf_legacy``: ``evaluation.min_tdcf(..., form="legacy")[0]``."""
    min_tdcf = _resolve(f"{PACKAGE}.evaluation.tdcf.min_tdcf")
    return min_tdcf(bonafide_scores, spoof_scores, asv=asv, cost_model=cost_model,
                    form="legacy")[0]


def min_tdcf_revised(bonafide_scores, spoof_scores, asv, cost_model=None) -> float:
    """0.1.0's ``metrics.min_tdcf_revised``: ``evaluation.min_tdcf(..., form="revised")[0]``."""
    min_tdcf = _resolve(f"{PACKAGE}.evaluation.tdcf.min_tdcf")
    return min_tdcf(bonafide_scores, spoof_scores, asv=asv, cost_model=cost_model,
                    form="revised")[0]


def legacy_tdcf_coefficients(asv, cost_model=None):
    """0.1.0's ``metrics.legacy_tdcf_coefficients``: ``tdcf_coefficients(..., form="legacy")``."""
    tdcf_coefficients = _resolve(f"{PACKAGE}.evaluation.tdcf.tdcf_coefficients")
    return tdcf_coefficients(asv, cost_model, form="legacy")


def new_path(old: str) -> str | None:
    """The current full name of a 0.1.0 module or name (``None``: it did not move).

    Example
    -------
    >>> new_path("speechbrain_ssdctx.context.ContextLoss")
    'speechbrain_ssdctx.method.context.ContextLoss'
    >>> new_path("speechbrain_ssdctx.augment.RawBoost")
    'speechbrain_ssdctx.augment.rawboost.RawBoost'
    >>> new_path("speechbrain_ssdctx.models.LCNN") is None
    True
    """
    if old in MOVED_NAMES or old in MOVED_MODULES:
        return MOVED_NAMES.get(old) or MOVED_MODULES[old]
    module, _, name = old.rpartition(".")
    return f"{MOVED_MODULES[module]}.{name}" if module in MOVED_MODULES else None


def _warn(old: str, new: str) -> None:
    warnings.warn(
        f"'{old}' is now '{new}' (speechbrain-ssdctx 0.2.0 moved it; see CHANGELOG.md). "
        "The old path still works; update your imports and YAML files, or re-export models.",
        FutureWarning,
        stacklevel=3,
    )


def _resolve(new: str):
    module, _, name = new.rpartition(".")
    return getattr(importlib.import_module(module), name)


def legacy_attribute(module: str, name: str):
    """The object a 0.1.0 ``module.name`` refers to, with a ``FutureWarning``; for the
    module ``__getattr__`` of a subpackage that took an old module's name.

    Raises
    ------
    AttributeError
        When ``module.name`` was no name of 0.1.0 either.
    """
    new = MOVED_NAMES.get(f"{module}.{name}")
    if new is None:
        raise AttributeError(f"module {module!r} has no attribute {name!r}")
    _warn(f"{module}.{name}", new)
    return _resolve(new)


class _LegacyModule(types.ModuleType):
    """Stands for a 0.1.0 module: each name resolves to its new home."""

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        old = f"{self.__name__}.{name}"
        new = MOVED_NAMES.get(old)
        if new is None:
            target = importlib.import_module(MOVED_MODULES[self.__name__])
            if old in REMOVED_NAMES:
                raise AttributeError(f"'{old}' was removed in 0.2.0: use {REMOVED_NAMES[old]}")
            if not hasattr(target, name):
                raise AttributeError(f"0.1.0 module {self.__name__!r} had no name {name!r}")
            value = getattr(target, name)
        else:
            _warn(old, new)
            value = _resolve(new)
        setattr(self, name, value)  # resolved once
        return value

    def __dir__(self) -> list[str]:
        return sorted(set(dir(importlib.import_module(MOVED_MODULES[self.__name__]))))


class LegacyPathFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports a 0.1.0 module path (:data:`MOVED_MODULES`) as a stand-in module."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in MOVED_MODULES:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec):
        _warn(spec.name, MOVED_MODULES[spec.name])
        return _LegacyModule(spec.name, f"0.1.0 path of {MOVED_MODULES[spec.name]}")

    def exec_module(self, module) -> None:
        """Nothing to run: names resolve on access."""


def install_legacy_finder() -> None:
    """Puts one :class:`LegacyPathFinder` on ``sys.meta_path`` (idempotent)."""
    if not any(isinstance(finder, LegacyPathFinder) for finder in sys.meta_path):
        sys.meta_path.append(LegacyPathFinder())
