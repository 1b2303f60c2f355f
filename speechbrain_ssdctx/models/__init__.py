"""Synthetic speech detectors: each maps ``[batch, time]`` waveforms (and optional relative
lengths) to ``(embedding [batch, embedding_dim], logits [batch, 2])``, index 1 = bona fide.
"""

from speechbrain_ssdctx.models.aasist import AASIST
from speechbrain_ssdctx.models.detector import Detector
from speechbrain_ssdctx.models.lcnn import LCNN
from speechbrain_ssdctx.models.ssl import SSLDetector  # transformers is imported on use only

__all__ = ["AASIST", "Detector", "LCNN", "SSLDetector"]
