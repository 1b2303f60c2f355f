"""speechbrain-ssdctx: inter-frequency (InF) and inter-instance (InI) context training for
synthetic speech detection, as a SpeechBrain plugin.

Subpackages, one role each: ``method`` (the paper: InF masking, the losses, the memory
bank and momentum encoder, the detector contract, ``ContextLoss``), ``models``,
``augment`` (RawBoost), ``data``, ``training``, ``evaluation``, ``inference`` (scoring
users' audio, export, Hub), ``cli``, ``pretrained`` and ``utils``.
"""

from speechbrain_ssdctx.utils.legacy_paths import install_legacy_finder
from speechbrain_ssdctx.utils.quiet_logs import drop_torchvision_notice

__version__ = "0.2.0"

install_legacy_finder()  # the import paths of 0.1.0 keep working (CHANGELOG.md)
drop_torchvision_notice()  # SpeechBrain's image saver, unused here (utils/quiet_logs.py)
