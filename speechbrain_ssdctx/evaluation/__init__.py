"""Evaluation of detectors: the official metrics by concept (``eer``: DET curve and EER;
``tdcf``: min t-DCF, legacy and revised; ``dcf``: minDCF / actDCF, Cllr; ``sasv``: the
ASVspoof 5 Track 2 metrics; ``trials``: all metrics of a trial set, per attack and per
condition), keys and score files, scores against a key, bootstrap intervals, calibration,
result reports, plots and the band-sensitivity map."""

from speechbrain_ssdctx.evaluation.bootstrap import bootstrap_metrics, paired_bootstrap
from speechbrain_ssdctx.evaluation.calibration import Calibration
from speechbrain_ssdctx.evaluation.dcf import DetectionCosts
from speechbrain_ssdctx.evaluation.eer import compute_eer
from speechbrain_ssdctx.evaluation.evaluate import (
    evaluate_sasv_scores,
    evaluate_scores,
    official_c012,
    read_key,
)
from speechbrain_ssdctx.evaluation.report import results_markdown, write_results
from speechbrain_ssdctx.evaluation.score_stats import ScoreStats
from speechbrain_ssdctx.evaluation.scores import read_score_file, write_score_file
from speechbrain_ssdctx.evaluation.tdcf import asv_operating_point, min_tdcf
from speechbrain_ssdctx.evaluation.trials import evaluate_trials
from speechbrain_ssdctx.utils.legacy_paths import legacy_attribute

__all__ = [
    "Calibration",
    "DetectionCosts",
    "ScoreStats",
    "asv_operating_point",
    "bootstrap_metrics",
    "compute_eer",
    "evaluate_sasv_scores",
    "evaluate_scores",
    "evaluate_trials",
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
