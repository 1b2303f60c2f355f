"""Waveform data augmentation for training detectors (not the paper's method: InF's
band-pass masking is in :mod:`speechbrain_ssdctx.method`): the augmentations, and the
per-utterance chain that runs them in the data loader's workers."""

from speechbrain_ssdctx.augment.chain import AugmentationChain, utterance_seed
from speechbrain_ssdctx.augment.channel import UtteranceAddNoise, UtteranceAddReverb
from speechbrain_ssdctx.augment.codec import CodecAugment, CodecSetting
from speechbrain_ssdctx.augment.rawboost import RawBoost
from speechbrain_ssdctx.utils.legacy_paths import legacy_attribute

__all__ = [
    "AugmentationChain",
    "CodecAugment",
    "CodecSetting",
    "RawBoost",
    "UtteranceAddNoise",
    "UtteranceAddReverb",
    "utterance_seed",
]


def __getattr__(name: str):
    """Names this module held in 0.1.0, from their new homes (with a FutureWarning)."""
    return legacy_attribute(__name__, name)
