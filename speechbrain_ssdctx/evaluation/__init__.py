"""Evaluation of detectors: the official metrics (EER, min t-DCF, minDCF / actDCF, Cllr,
ASVspoof 5 and SASV metrics), keys and score files, scores against a key, bootstrap
intervals, calibration, result reports, plots and the band-sensitivity map."""

from speechbrain_ssdctx.evaluation.bootstrap import bootstrap_metrics, paired_bootstrap
from speechbrain_ssdctx.evaluation.calibration import Calibration
from speechbrain_ssdctx.evaluation.evaluate import (
    evaluate_sasv_scores,
    evaluate_scores,
    official_c012,
    read_key,
)
from speechbrain_ssdctx.evaluation.metrics import compute_eer, min_tdcf
from speechbrain_ssdctx.evaluation.report import results_markdown, write_results
from speechbrain_ssdctx.evaluation.score_stats import ScoreStats
from speechbrain_ssdctx.evaluation.scores import read_score_file, write_score_file
from speechbrain_ssdctx.utils.legacy_paths import legacy_attribute

__all__ = [
    "Calibration",
    "ScoreStats",
    "bootstrap_metrics",
    "compute_eer",
    "evaluate_sasv_scores",
    "evaluate_scores",
    "min_tdcf",
    "official_c012",
    "paired_bootstrap",
    "read_key",
    "read_score_file",
    "results_markdown",
    "write_results",
    "write_score_file",
]


def __getattr__(name: str):
    """Names this module held in 0.1.0, from their new homes (with a FutureWarning)."""
    return legacy_attribute(__name__, name)
