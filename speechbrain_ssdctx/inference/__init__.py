"""Serving trained detectors: :class:`SpoofDetector` scores users' audio (a SpeechBrain
``Pretrained`` interface), the export of trained models with their model card, and
HuggingFace Hub upload.

``speechbrain_ssdctx.inference.SpoofDetector`` and ``speechbrain_ssdctx.inference.load_weights``
are the paths that exported model folders name (``custom_interface.py``,
``hyperparams.yaml``): they are kept stable.
"""

from speechbrain_ssdctx.inference.export import (
    ExportError,
    export_detector,
    export_from_hparams,
    export_model,
)
from speechbrain_ssdctx.inference.hub import HubUploadError, push_to_hub
from speechbrain_ssdctx.inference.model_card import ModelCard, model_card
from speechbrain_ssdctx.inference.model_folder import (
    BUNDLED_MODELS,
    bundled_models_dir,
    load_weights,
)
from speechbrain_ssdctx.inference.settings import InferenceSettings
from speechbrain_ssdctx.inference.spoof_detector import SpoofDetector
from speechbrain_ssdctx.inference.trust import (
    MODEL_POLICY,
    RUN_POLICY,
    TrustPolicy,
    UntrustedCodeError,
    check_hparams,
)
from speechbrain_ssdctx.utils.legacy_paths import legacy_attribute

__all__ = [
    "BUNDLED_MODELS",
    "ExportError",
    "HubUploadError",
    "InferenceSettings",
    "MODEL_POLICY",
    "ModelCard",
    "RUN_POLICY",
    "SpoofDetector",
    "TrustPolicy",
    "UntrustedCodeError",
    "bundled_models_dir",
    "check_hparams",
    "export_detector",
    "export_from_hparams",
    "export_model",
    "load_weights",
    "model_card",
    "push_to_hub",
]


def __getattr__(name: str):
    """Names this module held in 0.1.0, from their new homes (with a FutureWarning)."""
    return legacy_attribute(__name__, name)
