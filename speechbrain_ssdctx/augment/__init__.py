"""Waveform data augmentation for training detectors (not the paper's method: InF's
band-pass masking is in :mod:`speechbrain_ssdctx.method`)."""

from speechbrain_ssdctx.augment.rawboost import RawBoost

__all__ = ["RawBoost"]
