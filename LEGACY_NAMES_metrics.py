# ruff: noqa: E501  (one full old -> new path per line, for grep)
"""Old import paths (the 0.1.0 module ``speechbrain_ssdctx.metrics``) to the new ones.

Every public name of the 0.1.0 metrics module (its ``__all__``), mapped to where it lives
now: ``speechbrain_ssdctx.evaluation.<module>.<name>``, the module named for its concept
(``eer``, ``tdcf``, ``dcf``, ``sasv``, ``trials``). A helper for the lead to rewrite old
imports; not part of the package.
"""

LEGACY_NAMES = {
    # The DET curve and the EER.
    "speechbrain_ssdctx.metrics.compute_det_curve": "speechbrain_ssdctx.evaluation.eer.compute_det_curve",
    "speechbrain_ssdctx.metrics.compute_eer": "speechbrain_ssdctx.evaluation.eer.compute_eer",
    # The t-DCF.
    "speechbrain_ssdctx.metrics.AsvOperatingPoint": "speechbrain_ssdctx.evaluation.tdcf.AsvOperatingPoint",
    "speechbrain_ssdctx.metrics.CostModel": "speechbrain_ssdctx.evaluation.tdcf.CostModel",
    "speechbrain_ssdctx.metrics.TDCFCoefficients": "speechbrain_ssdctx.evaluation.tdcf.TDCFCoefficients",
    "speechbrain_ssdctx.metrics.asv_operating_point": "speechbrain_ssdctx.evaluation.tdcf.asv_operating_point",
    "speechbrain_ssdctx.metrics.tdcf_coefficients": "speechbrain_ssdctx.evaluation.tdcf.tdcf_coefficients",
    "speechbrain_ssdctx.metrics.min_tdcf": "speechbrain_ssdctx.evaluation.tdcf.min_tdcf",
    # Removed: min_tdcf_legacy(b, s, asv, cost_model) is now
    # min_tdcf(b, s, asv=asv, cost_model=cost_model, form="legacy")[0] (min_tdcf returns
    # (value, threshold); the old function returned the value alone).
    "speechbrain_ssdctx.metrics.min_tdcf_legacy": "speechbrain_ssdctx.evaluation.tdcf.min_tdcf",
    # Removed: min_tdcf_revised(b, s, asv, cost_model) is now
    # min_tdcf(b, s, asv=asv, cost_model=cost_model, form="revised")[0] ("revised" is the
    # default form).
    "speechbrain_ssdctx.metrics.min_tdcf_revised": "speechbrain_ssdctx.evaluation.tdcf.min_tdcf",
    # Removed: legacy_tdcf_coefficients(asv, cost_model) is now
    # tdcf_coefficients(asv, cost_model, form="legacy").
    "speechbrain_ssdctx.metrics.legacy_tdcf_coefficients": "speechbrain_ssdctx.evaluation.tdcf.tdcf_coefficients",
    # Detection costs and Cllr (ASVspoof 5 Track 1).
    "speechbrain_ssdctx.metrics.DetectionCosts": "speechbrain_ssdctx.evaluation.dcf.DetectionCosts",
    "speechbrain_ssdctx.metrics.min_dcf": "speechbrain_ssdctx.evaluation.dcf.min_dcf",
    "speechbrain_ssdctx.metrics.act_dcf": "speechbrain_ssdctx.evaluation.dcf.act_dcf",
    "speechbrain_ssdctx.metrics.cllr": "speechbrain_ssdctx.evaluation.dcf.cllr",
    "speechbrain_ssdctx.metrics.pav_llrs": "speechbrain_ssdctx.evaluation.dcf.pav_llrs",
    "speechbrain_ssdctx.metrics.min_cllr": "speechbrain_ssdctx.evaluation.dcf.min_cllr",
    # The metrics of a trial set, whole and broken down.
    "speechbrain_ssdctx.metrics.cm_metrics": "speechbrain_ssdctx.evaluation.trials.cm_metrics",
    "speechbrain_ssdctx.metrics.metrics_per_attack": "speechbrain_ssdctx.evaluation.trials.metrics_per_attack",
    "speechbrain_ssdctx.metrics.metrics_per_condition": "speechbrain_ssdctx.evaluation.trials.metrics_per_condition",
    "speechbrain_ssdctx.metrics.evaluate_trials": "speechbrain_ssdctx.evaluation.trials.evaluate_trials",
    # Spoofing-aware speaker verification (ASVspoof 5 Track 2).
    "speechbrain_ssdctx.metrics.ASVSPOOF5_ASV": "speechbrain_ssdctx.evaluation.sasv.ASVSPOOF5_ASV",
    "speechbrain_ssdctx.metrics.compute_a_det_curve": "speechbrain_ssdctx.evaluation.sasv.compute_a_det_curve",
    "speechbrain_ssdctx.metrics.a_dcf": "speechbrain_ssdctx.evaluation.sasv.a_dcf",
    "speechbrain_ssdctx.metrics.compute_asv_curves": "speechbrain_ssdctx.evaluation.sasv.compute_asv_curves",
    "speechbrain_ssdctx.metrics.t_eer": "speechbrain_ssdctx.evaluation.sasv.t_eer",
    "speechbrain_ssdctx.metrics.evaluate_sasv": "speechbrain_ssdctx.evaluation.sasv.evaluate_sasv",
}
