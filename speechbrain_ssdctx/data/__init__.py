"""Data of speechbrain-ssdctx: the registry of corpora (``corpora``), corpus preparation
(ASVspoof 2019 / 2021 / 5, In-the-Wild, MLAAD, labelled CSVs and folders), several training
corpora by weight (``mixture``, ``sampling``), MUSAN / RIRS_NOISES for SpeechBrain's noise
and reverberation (``noise``), audio pipelines, the demo corpus.

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
from speechbrain_ssdctx.data.asvspoof5 import prepare_asvspoof5
from speechbrain_ssdctx.data.audio import AudioFileError, apply_window, crop_or_pad, load_audio
from speechbrain_ssdctx.data.audio_checks import AudioRangeWarning
from speechbrain_ssdctx.data.corpora import (
    CORPORA,
    DEMO,
    Corpus,
    CorpusSet,
    KeyFormat,
    get_corpus,
    register_corpus,
    training_corpus,
)
from speechbrain_ssdctx.data.in_the_wild import prepare_in_the_wild
from speechbrain_ssdctx.data.labelled import prepare_labelled_csv, prepare_labelled_folder
from speechbrain_ssdctx.data.mixture import CorpusMixture
from speechbrain_ssdctx.data.mlaad import prepare_mlaad
from speechbrain_ssdctx.data.noise import prepare_musan, prepare_rirs_noises
from speechbrain_ssdctx.data.resampling import Resampler
from speechbrain_ssdctx.data.sampling import CorpusSampler

__all__ = [
    "CORPORA",
    "DEMO",
    "AudioFileError",
    "Corpus",
    "CorpusMixture",
    "CorpusSampler",
    "CorpusSet",
    "KeyFormat",
    "AudioRangeWarning",
    "MissingAudioError",
    "ProtocolError",
    "Resampler",
    "apply_window",
    "crop_or_pad",
    "demo_corpus_folder",
    "get_corpus",
    "load_audio",
    "prepare_asvspoof2019_la",
    "prepare_asvspoof2021",
    "prepare_asvspoof5",
    "prepare_in_the_wild",
    "prepare_labelled_csv",
    "prepare_labelled_folder",
    "prepare_mlaad",
    "prepare_musan",
    "prepare_rirs_noises",
    "read_asv_scores",
    "read_protocol_2019",
    "read_trial_list",
    "read_trial_metadata_2021",
    "register_corpus",
    "training_corpus",
]


def demo_corpus_folder() -> Path:
    """Returns the ``LA`` folder of the bundled demo corpus (ASVspoof 2019 LA layout)."""
    return get_corpus(DEMO).folder()
