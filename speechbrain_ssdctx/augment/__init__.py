"""Waveform data augmentation for training detectors (not the paper's method: InF's
band-pass masking is in :mod:`speechbrain_ssdctx.method`)."""

from speechbrain_ssdctx.augment.codec import CodecAugment, CodecSetting
from speechbrain_ssdctx.augment.rawboost import RawBoost
from speechbrain_ssdctx.utils.legacy_paths import legacy_attribute

__all__ = ["CodecAugment", "CodecSetting", "RawBoost"]


def __getattr__(name: str):
    """Names this module held in 0.1.0, from their new homes (with a FutureWarning)."""
    return legacy_attribute(__name__, name)
