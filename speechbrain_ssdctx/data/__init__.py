"""Data of speechbrain-ssdctx: ASVspoof preparation, audio pipelines, the demo corpus.

Example
-------
>>> (demo_corpus_folder() / "ASVspoof2019_LA_cm_protocols").is_dir()
True
"""

from pathlib import Path

from speechbrain_ssdctx.data.asvspoof import (
    MissingAudioError,
    ProtocolError,
    prepare_asvspoof2019_la,
    prepare_asvspoof2021,
    read_asv_scores,
    read_protocol_2019,
    read_trial_list,
    read_trial_metadata_2021,
)
from speechbrain_ssdctx.data.audio import AudioFileError, apply_window, crop_or_pad, load_audio

__all__ = [
    "AudioFileError",
    "MissingAudioError",
    "ProtocolError",
    "apply_window",
    "crop_or_pad",
    "demo_corpus_folder",
    "load_audio",
    "prepare_asvspoof2019_la",
    "prepare_asvspoof2021",
    "read_asv_scores",
    "read_protocol_2019",
    "read_trial_list",
    "read_trial_metadata_2021",
]


def demo_corpus_folder() -> Path:
    """Returns the ``LA`` folder of the bundled demo corpus (ASVspoof 2019 LA layout)."""
    return Path(__file__).resolve().parent / "demo" / "LA"
